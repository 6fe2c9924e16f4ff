// The phases of a run.

/// pending → placing → sharding → preparingTeachers → distilling → completed | failed |
/// cancelled (and interrupted: the coordinator restarted while it was in flight).
public enum RunPhase: String, Sendable, CaseIterable {
    case pending, placing, sharding, preparingTeachers = "preparing-teachers", distilling, completed, failed, cancelled, interrupted

    /// completed, failed, cancelled and interrupted: the run never changes again.
    public var isTerminal: Bool {
        switch self {
        case .pending, .placing, .sharding, .preparingTeachers, .distilling: false
        case .completed, .failed, .cancelled, .interrupted: true
        }
    }

    /// Position on the way through a run: phases only move to a greater step, and every
    /// terminal phase is the last step.
    var step: Int {
        switch self {
        case .pending: 0
        case .placing: 1
        case .sharding: 2
        case .preparingTeachers: 3
        case .distilling: 4
        case .completed, .failed, .cancelled, .interrupted: 5
        }
    }

    /// How sentences name the phase: "preparing teachers" rather than "preparing-teachers".
    var text: String {
        self == .preparingTeachers ? "preparing teachers" : rawValue
    }
}
