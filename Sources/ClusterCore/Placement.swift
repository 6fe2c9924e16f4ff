// What placement works on (candidates) and what it produces (a placement or a refusal).

public struct PlacementCandidate: Sendable, Equatable {
    /// The worker's name (unique in the cluster).
    public var name: String
    public var roles: Set<WorkerRole>
    public var cores: Int
    /// Tasks this worker already runs for other active runs.
    public var activeTasks: Int

    public init(name: String, roles: Set<WorkerRole>, cores: Int, activeTasks: Int) {
        self.name = name
        self.roles = roles
        self.cores = cores
        self.activeTasks = activeTasks
    }
}

/// Where a run's parts go: teacherWorkers[i] hosts teacher i, studentWorkers[r] hosts replica rank r.
/// An empty name is a part without a worker: its worker was lost before distilling began and
/// the part waits to be placed again (``RunLifecycle/unplaced``).
public struct Placement: Sendable, Equatable, Codable {
    public var teacherWorkers: [String]
    public var studentWorkers: [String]

    public init(teacherWorkers: [String], studentWorkers: [String]) {
        self.teacherWorkers = teacherWorkers
        self.studentWorkers = studentWorkers
    }

    /// Distinct worker names in order of first appearance (teachers first, then students);
    /// the empty name of an unplaced part is not one.
    public var workers: [String] {
        var seen = Set<String>()
        return (teacherWorkers + studentWorkers).filter { !$0.isEmpty && seen.insert($0).inserted }
    }

    /// The parts `worker` hosts, e.g. "teacher 0, teacher 2 and student 1"; "" when none.
    public func parts(on worker: String) -> String {
        let teachers = teacherWorkers.indices.filter { teacherWorkers[$0] == worker }.map { "teacher \($0)" }
        let students = studentWorkers.indices.filter { studentWorkers[$0] == worker }.map { "student \($0)" }
        return Self.listed(teachers + students)
    }

    /// "a", "a and b", "a, b and c".
    public static func listed(_ items: [String]) -> String {
        guard let last = items.last else { return "" }
        if items.count == 1 { return last }
        return items.dropLast().joined(separator: ", ") + " and " + last
    }
}

/// Why a run cannot be placed on the workers available now.
public enum PlacementRefusal: Error, Sendable, Equatable, CustomStringConvertible {
    /// No available worker has the teacher role.
    case noTeacherWorkers(teachers: Int)
    /// Fewer available workers with the student role than replicas (each needs its own);
    /// `available` lists those there are, sorted.
    case notEnoughStudentWorkers(replicas: Int, available: [String])
    /// An elastic run may start on fewer student workers than replicas, but not on fewer than
    /// its `elastic.min-replicas`; `available` lists those there are, sorted.
    case belowMinimumReplicas(minimum: Int, replicas: Int, available: [String])
    /// 0 teachers or 0 replicas.
    case nothingToPlace

    /// A full sentence with what to do, e.g. "3 student replicas need 3 workers with the
    /// student role, but only 2 are available (w1, w2); start more workers with --roles student
    /// or lower replicas in the run spec".
    public var description: String {
        switch self {
        case .noTeacherWorkers(let teachers):
            let need = teachers == 1 ? "1 teacher needs" : "\(teachers) teachers need"
            return "\(need) a worker with the teacher role, but none is available; "
                + "start a worker with --roles teacher (or --roles teacher,student)"
        case .notEnoughStudentWorkers(let replicas, let available):
            let need = replicas == 1
                ? "1 student replica needs 1 worker"
                : "\(replicas) student replicas need \(replicas) workers"
            let have = switch available.count {
            case 0: "none is available"
            case 1: "only 1 is available (\(available[0]))"
            default: "only \(available.count) are available (\(available.joined(separator: ", ")))"
            }
            return "\(need) with the student role, but \(have); "
                + "start more workers with --roles student or lower replicas in the run spec"
        case .belowMinimumReplicas(let minimum, let replicas, let available):
            let have = available.isEmpty ? "none is available"
                : "only \(available.count) \(available.count == 1 ? "is" : "are") available (\(available.joined(separator: ", ")))"
            return "the run's \(replicas) student replicas may start on fewer workers, but on at least \(minimum) "
                + "(elastic.min-replicas), each with the student role; \(have); start more workers with --roles student "
                + "or lower elastic.min-replicas in the run spec"
        case .nothingToPlace:
            return "the run has nothing to place: it needs at least 1 teacher and 1 student replica; "
                + "fix teachers and replicas in the run spec"
        }
    }
}
