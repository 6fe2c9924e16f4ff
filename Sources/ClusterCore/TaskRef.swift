// Naming a run's tasks: "\(runID)/teacher-\(index)" and "\(runID)/student-\(index)".

public enum TaskKind: String, Sendable, Hashable {
    case teacher, student
}

/// Task ids are "\(runID)/teacher-\(index)" and "\(runID)/student-\(index)".
public struct TaskRef: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var kind: TaskKind
    public var index: Int

    public init(_ kind: TaskKind, _ index: Int) {
        self.kind = kind
        self.index = index
    }

    public func id(runID: String) -> String {
        "\(runID)/\(kind.rawValue)-\(index)"
    }

    /// Parses an id of this run; nil when it is not one.
    ///
    /// Only the exact form `id(runID:)` writes is accepted: the run id, "/", the kind, "-"
    /// and a non-negative index in decimal without sign or leading zeros.
    public static func parse(_ taskID: String, runID: String) -> TaskRef? {
        let prefix = runID + "/"
        guard taskID.hasPrefix(prefix) else { return nil }
        let rest = taskID.dropFirst(prefix.count)
        for kind in [TaskKind.teacher, .student] {
            let head = kind.rawValue + "-"
            guard rest.hasPrefix(head) else { continue }
            let digits = rest.dropFirst(head.count)
            guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }),
                  digits == "0" || !digits.hasPrefix("0"), let index = Int(digits) else { return nil }
            return TaskRef(kind, index)
        }
        return nil
    }

    /// Teachers before students, then by index.
    public static func < (a: TaskRef, b: TaskRef) -> Bool {
        if a.kind != b.kind { return a.kind == .teacher }
        return a.index < b.index
    }

    /// "teacher 1", "student 0": how reason texts name a task.
    public var description: String {
        "\(kind.rawValue) \(index)"
    }
}
