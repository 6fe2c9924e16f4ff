/// One problem in a spec.
public struct RunSpecError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Dotted path with list indices, e.g. "teachers[1].train.epochs"; "" for whole-file problems.
    public var field: String
    /// What is wrong and what is allowed, e.g. "must be an integer in 1…10000, got -3".
    public var message: String
    /// 1-based line in the YAML when known.
    public var line: Int?

    public init(field: String, message: String, line: Int? = nil) {
        self.field = field; self.message = message; self.line = line
    }

    /// "teachers[1].train.epochs (line 12): must be …"
    public var description: String {
        switch (field.isEmpty, line) {
        case (false, let line?): return "\(field) (line \(line)): \(message)"
        case (false, nil): return "\(field): \(message)"
        case (true, let line?): return "line \(line): \(message)"
        case (true, nil): return message
        }
    }
}

public struct RunSpecErrors: Error, Sendable, Equatable, CustomStringConvertible {
    public var fileName: String
    public var errors: [RunSpecError]     // never empty

    public init(fileName: String, errors: [RunSpecError]) {
        precondition(!errors.isEmpty, "RunSpecErrors needs at least one error")
        self.fileName = fileName; self.errors = errors
    }

    /// "fashion.yaml: 2 problems:\n  - …\n  - …"
    public var description: String {
        "\(fileName): \(errors.count) problem\(errors.count == 1 ? "" : "s"):\n"
            + errors.map { "  - \($0)" }.joined(separator: "\n")
    }

    /// The errors about `field` (exactly that path).
    public func errors(at field: String) -> [RunSpecError] { errors.filter { $0.field == field } }
}
