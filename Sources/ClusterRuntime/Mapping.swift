import ClusterCore
import Wire

// Conversions between the pure cores' vocabulary (ClusterCore) and the wire's (Wire).

extension WorkerRole {
    init(_ role: Role) {
        switch role {
        case .teacher: self = .teacher
        case .student: self = .student
        }
    }

    var wire: Role {
        switch self {
        case .teacher: .teacher
        case .student: .student
        }
    }
}

extension Liveness {
    var wire: NodeState {
        switch self {
        case .alive: .alive
        case .suspect: .suspect
        case .dead: .dead
        case .left: .left
        }
    }
}

extension RunPhase {
    var wire: RunState {
        switch self {
        case .pending: .pending
        case .placing: .placing
        case .sharding: .sharding
        case .preparingTeachers: .preparingTeachers
        case .distilling: .distilling
        case .completed: .completed
        case .failed: .failed
        case .cancelled: .cancelled
        case .interrupted: .interrupted
        }
    }

    /// The phase stored as text (store rows, events); unknown text (a newer coordinator's
    /// database) reads as `interrupted`.
    init(stored text: String) {
        self = RunPhase(rawValue: text) ?? .interrupted
    }
}

extension TaskUpdate {
    /// A worker's `TaskStatus` as a lifecycle event.
    init(_ status: TaskStatus) {
        switch status.state {
        case .accepted: self = .accepted
        case .running: self = .running(done: status.done, total: status.total)
        case .completed: self = .completed
        case .failed: self = .failed(reason: status.reason)
        }
    }
}
