// What workers report about their tasks, and what the run remembers of each.

/// A worker's report about a task it was assigned.
public enum TaskUpdate: Sendable, Equatable {
    case accepted
    /// Work done of the total (e.g. steps or epochs); total 0 while it is unknown.
    case running(done: UInt64, total: UInt64)
    case completed
    case failed(reason: String)
}

/// assigned → accepted → running → completed | failed. Updates may skip states (a worker may
/// report running or completed without accepted first), but never go back.
public enum TaskPhase: String, Sendable {
    case assigned, accepted, running, completed, failed

    /// Position on the way: a task state only moves to a greater step (running may repeat).
    var step: Int {
        switch self {
        case .assigned: 0
        case .accepted: 1
        case .running: 2
        case .completed, .failed: 3
        }
    }
}

/// One task of a run, as the coordinator knows it.
public struct TaskProgress: Sendable, Equatable, Codable {
    public var ref: TaskRef
    /// The worker the task is assigned to.
    public var worker: String
    public var state: TaskPhase
    public var done: UInt64
    /// 0 while unknown.
    public var total: UInt64
    public var assignedAt: ClockTime
    /// Why it failed; "" otherwise.
    public var reason: String

    public init(ref: TaskRef, worker: String, state: TaskPhase = .assigned, done: UInt64 = 0, total: UInt64 = 0,
                assignedAt: ClockTime, reason: String = "") {
        self.ref = ref
        self.worker = worker
        self.state = state
        self.done = done
        self.total = total
        self.assignedAt = assignedAt
        self.reason = reason
    }
}
