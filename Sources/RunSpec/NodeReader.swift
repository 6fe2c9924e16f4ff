import Yams

struct NodeReader {
    var errors: [RunSpecError] = []
    /// Fields whose value could not be read (a default stands in): checks on them, and on
    /// anything below them, are skipped so one mistake gives one error.
    var failed: Set<String> = []
    /// The line of every field that was written, for errors found after reading.
    var lines: [String: Int] = [:]
    let renamedKeys: [TextPosition: String]
    var reportedRenames: Set<TextPosition> = []
    /// Unknown keys, by their error: the "did you mean" is looked for only in the errors
    /// that are reported (a suggestion costs edit distances; 40,000 of them took 2.4 s).
    var unknownKeys: [RunSpecError: (key: String, allowed: [String])] = [:]

    /// What the top-level mapping is called in messages ("unknown key 'x' in the run spec").
    var rootName = "the run spec"

    init(renamedKeys: [TextPosition: String]) { self.renamedKeys = renamedKeys }

    /// A marker in `failed`: the teacher list is incomplete, so counts of teachers are unknown.
    static let teacherCountUnknown = "teachers[]"

    // MARK: - Errors

    /// A value that could not be read: reported, and checks of `field` are skipped.
    mutating func fail(_ field: String, _ message: String, line: Int?) {
        errors.append(RunSpecError(field: field, message: message, line: line))
        failed.insert(field)
    }

    /// A problem that leaves the values under `field` worth checking.
    mutating func flag(_ field: String, _ message: String, line: Int?) {
        errors.append(RunSpecError(field: field, message: message, line: line))
    }

    /// A problem found after reading: its line is that of the field, or of the nearest
    /// enclosing field that was written.
    mutating func report(_ field: String, _ message: String) {
        errors.append(RunSpecError(field: field, message: message, line: line(of: field)))
    }

    func line(of field: String) -> Int? {
        var path = field
        while true {
            if let line = lines[path] { return line }
            guard let cut = path.lastIndex(where: { $0 == "." || $0 == "[" }) else { return nil }
            path = String(path[..<cut])
        }
    }

    /// Whether `field` or a field enclosing it could not be read.
    func isFailed(_ field: String) -> Bool {
        if failed.contains(field) { return true }
        var path = field
        while let cut = path.lastIndex(where: { $0 == "." || $0 == "[" }) {
            path = String(path[..<cut])
            if failed.contains(path) { return true }
        }
        return false
    }

    /// Errors without repeats (a teacher expanded by `count` reports once), by line.
    /// O(n log n): repeats are found by hashing (a linear search here made 40,000 unknown keys
    /// take minutes).
    func sortedErrors() -> [RunSpecError] {
        var seen: Set<RunSpecError> = []
        let unique = errors.filter { seen.insert($0).inserted }
        return unique.enumerated().sorted { a, b in
            switch (a.element.line, b.element.line) {
            case let (x?, y?) where x != y: return x < y
            case (.some, nil): return true
            case (nil, .some): return false
            default: return a.offset < b.offset
            }
        }.map(\.element)
    }

    /// What the parser reports: ``sortedErrors()`` capped at `RunSpec.maxReportedProblems`,
    /// unknown keys with their "did you mean".
    func reportedErrors() -> [RunSpecError] {
        RunSpec.capped(sortedErrors()).map { error in
            guard let unknown = unknownKeys[error], let hint = Suggestions.closest(to: unknown.key, in: unknown.allowed) else {
                return error
            }
            var withHint = error
            withHint.message += "; did you mean '\(hint)'?"
            return withHint
        }
    }

    /// Duplicates in places the reader never looked at (under a key already reported).
    mutating func reportUnseenRenames() {
        for (position, key) in renamedKeys.sorted(by: { $0.key.line < $1.key.line }) where !reportedRenames.contains(position) {
            errors.append(RunSpecError(field: "", message: "duplicate key '\(key)'; each key may appear once in a mapping",
                                       line: position.line))
        }
    }

    // MARK: - Nodes

    static func describe(_ node: Node) -> String {
        switch node {
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .alias: return "an alias"
        case .scalar(let s):
            if isNull(node) { return "nothing" }
            if s.style == .plain { return "'\(s.string)'" }
            return "the string \"\(s.string)\""
        }
    }

    static func isNull(_ node: Node) -> Bool {
        guard case .scalar(let s) = node, s.style == .plain || s.style == .any else { return false }
        return node.tag.rawValue == Tag.Name.null.rawValue
    }

    /// The text of a plain scalar that is not explicitly tagged as a string.
    static func plainText(_ node: Node) -> String? {
        guard case .scalar(let s) = node, s.style == .plain || s.style == .any, s.tag.rawValue != Tag.Name.str.rawValue, !isNull(node) else { return nil }
        return s.string
    }

    static func line(_ node: Node) -> Int? { node.mark?.line }

    /// Reads a mapping with the keys `allowed`. An absent or empty value gives an empty
    /// section (all defaults); anything but a mapping is an error (nil).
    mutating func section(_ node: Node?, path: String, allowed: [String]) -> Section? {
        var section = Section(path: path)
        guard let node, !NodeReader.isNull(node) else { return section }
        guard case .mapping(let mapping) = node else {
            fail(path, "must be a mapping with the keys \(allowed.joined(separator: ", ")), got \(NodeReader.describe(node))",
                 line: NodeReader.line(node))
            return nil
        }
        var keyLines: [String: [Int]] = [:]
        var renamed: [(key: String, line: Int)] = []
        for (keyNode, value) in mapping {
            guard case .scalar(let keyScalar) = keyNode else {
                fail(path, "keys must be names (\(allowed.joined(separator: ", "))), got \(NodeReader.describe(keyNode)) as a key",
                     line: NodeReader.line(keyNode))
                continue
            }
            let keyLine = NodeReader.line(keyNode)
            if let mark = keyNode.mark, let original = renamedKeys[TextPosition(mark)] {
                reportedRenames.insert(TextPosition(mark))
                renamed.append((original, mark.line))
                continue
            }
            let key = keyScalar.string
            if keyNode.tag.rawValue == Tag.Name.merge.rawValue {
                flag(section.child(key), "YAML merge keys (<<) are not supported; write the keys out", line: keyLine)
                continue
            }
            keyLines[key, default: []].append(keyLine ?? 0)
            guard allowed.contains(key) else {
                let place = path.isEmpty ? rootName : path
                let message = "unknown key '\(key)' in \(place); allowed: \(allowed.joined(separator: ", "))"
                flag(section.child(key), message, line: keyLine)
                unknownKeys[errors[errors.count - 1]] = (key, allowed)
                continue
            }
            section.values[key] = value
            if let keyLine { lines[section.child(key)] = keyLine }
        }
        for key in Set(renamed.map(\.key)).sorted() {
            let all = (renamed.filter { $0.key == key }.map(\.line) + (keyLines[key] ?? [])).sorted()
            let shown = all.map(String.init).joined(separator: ", ")
            fail(section.child(key), "duplicate key '\(key)' (lines \(shown)); each key may appear once",
                 line: all.count > 1 ? all[1] : all.first)
        }
        return section
    }

    // MARK: - Scalars

    mutating func string(_ s: Section, _ key: String, default value: String, allowed: String) -> String {
        guard let node = s.values[key] else { return value }
        return string(node, path: s.child(key), allowed: allowed) ?? value
    }

    mutating func string(_ node: Node, path: String, allowed: String) -> String? {
        if case .scalar(let scalar) = node, !NodeReader.isNull(node) { return scalar.string }
        fail(path, "must be \(allowed), got \(NodeReader.describe(node))", line: NodeReader.line(node))
        return nil
    }

    /// A required string: missing is an error at `s`'s line.
    mutating func requiredString(_ s: Section, _ key: String, allowed: String) -> String {
        guard let node = s.values[key] else {
            fail(s.child(key), "is required: \(allowed)", line: lines[s.path])
            return ""
        }
        return string(node, path: s.child(key), allowed: allowed) ?? ""
    }

    mutating func int(_ s: Section, _ key: String, default value: Int, allowed: String) -> Int {
        guard let node = s.values[key] else { return value }
        if let text = NodeReader.plainText(node), let v = Int(text) { return v }
        fail(s.child(key), "must be \(allowed), got \(NodeReader.describe(node))", line: NodeReader.line(node))
        return value
    }

    mutating func uint64(_ s: Section, _ key: String, default value: UInt64) -> UInt64 {
        guard let node = s.values[key] else { return value }
        if let text = NodeReader.plainText(node), let v = UInt64(text) { return v }
        fail(s.child(key), "must be \(Rules.seed), got \(NodeReader.describe(node))", line: NodeReader.line(node))
        return value
    }

    mutating func float(_ s: Section, _ key: String, default value: Float, allowed: String) -> Float {
        guard let node = s.values[key] else { return value }
        if let text = NodeReader.plainText(node), let v = Float(text), v.isFinite { return v }
        fail(s.child(key), "must be \(allowed), got \(NodeReader.describe(node))", line: NodeReader.line(node))
        return value
    }

    mutating func bool(_ s: Section, _ key: String, default value: Bool) -> Bool {
        guard let node = s.values[key] else { return value }
        switch NodeReader.plainText(node) {
        case "true", "True", "TRUE": return true
        case "false", "False", "FALSE": return false
        default:
            fail(s.child(key), "must be true or false, got \(NodeReader.describe(node))", line: NodeReader.line(node))
            return value
        }
    }
}
