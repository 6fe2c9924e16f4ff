import Yams

/// The project's one YAML reader for files other than run specs (`distillery up`'s cluster
/// file, `Cluster/local.yaml`), with the run spec's strict rules: duplicate keys, YAML merge
/// keys, unknown keys (with a "did you mean") and values of the wrong type are problems, each
/// with its dotted field path and line; all problems are collected and ``finish()`` throws them
/// together as `RunSpecErrors` naming the file (the same text a bad run spec gives).
///
/// ```swift
/// var yaml = StrictYAML(yaml: text, fileName: "local.yaml", describing: "the cluster file")
/// if let root = yaml.root(allowed: ["logs", "workers"]) {
///     logs = yaml.string(root, "logs", default: logs, allowed: "a directory")
/// }
/// try yaml.finish()
/// ```
public struct StrictYAML {
    /// A mapping read against its allowed keys; read its values through the reader.
    public struct Mapping {
        let section: Section
        /// The mapping's dotted path ("" for the top level), as problems name it.
        public var path: String { section.path }
    }

    private let document: YAMLDocument
    private var reader: NodeReader
    /// The file, as problems name it.
    public let fileName: String

    /// `describing` names the top-level mapping in messages, e.g. "the cluster file".
    public init(yaml: String, fileName: String, describing: String) {
        document = YAMLDocument(yaml: yaml)
        reader = NodeReader(renamedKeys: document.renamedKeys)
        reader.rootName = describing
        self.fileName = fileName
    }

    /// The top-level mapping with the keys `allowed`; nil (a problem) for a malformed file, an
    /// empty one or anything but a mapping.
    public mutating func root(allowed: [String]) -> Mapping? {
        guard document.problem == nil else { return nil }
        guard let root = document.root, !NodeReader.isNull(root) else {
            reader.fail("", "the file is empty; \(reader.rootName) is a mapping with the keys \(allowed.joined(separator: ", "))",
                        line: nil)
            return nil
        }
        return reader.section(root, path: "", allowed: allowed).map(Mapping.init)
    }

    /// The mapping under `key` with the keys `allowed`: empty when absent, nil (a problem) when
    /// it is not a mapping.
    public mutating func mapping(_ m: Mapping, _ key: String, allowed: [String]) -> Mapping? {
        reader.section(m.section.values[key], path: m.section.child(key), allowed: allowed).map(Mapping.init)
    }

    /// The string under `key`, `value` when absent; a problem when it is not a string scalar.
    public mutating func string(_ m: Mapping, _ key: String, default value: String, allowed: String) -> String {
        reader.string(m.section, key, default: value, allowed: allowed)
    }

    /// The string under `key`; missing is a problem ("is required: `allowed`"), and gives "".
    public mutating func requiredString(_ m: Mapping, _ key: String, allowed: String) -> String {
        reader.requiredString(m.section, key, allowed: allowed)
    }

    /// The strings of the list under `key`, `value` when absent; a problem for anything but a
    /// list of string scalars.
    public mutating func strings(_ m: Mapping, _ key: String, default value: [String], allowed: String) -> [String] {
        let path = m.section.child(key)
        guard let node = m.section.values[key], !NodeReader.isNull(node) else { return value }
        guard case .sequence(let items) = node else {
            reader.fail(path, "must be a list of \(allowed), got \(NodeReader.describe(node))", line: NodeReader.line(node))
            return value
        }
        return items.enumerated().compactMap { reader.string($0.element, path: "\(path)[\($0.offset)]", allowed: allowed) }
    }

    /// The mappings of the required, non-empty list under `key`, each with the keys `allowed`
    /// (items that are not mappings are problems and left out). `describing` says what the
    /// list must be, e.g. "a non-empty list of {name, roles}".
    public mutating func mappings(_ m: Mapping, _ key: String, allowed: [String], describing: String) -> [Mapping] {
        let path = m.section.child(key)
        guard let node = m.section.values[key], !NodeReader.isNull(node) else {
            reader.fail(path, "is required: \(describing)", line: reader.line(of: m.section.path))
            return []
        }
        guard case .sequence(let items) = node, !items.isEmpty else {
            reader.fail(path, "must be \(describing), got \(NodeReader.describe(node))", line: NodeReader.line(node))
            return []
        }
        var mappings: [Mapping] = []
        for (index, item) in items.enumerated() {
            let itemPath = "\(path)[\(index)]"
            if let line = NodeReader.line(item) { reader.lines[itemPath] = line }
            if let s = reader.section(item, path: itemPath, allowed: allowed) { mappings.append(Mapping(section: s)) }
        }
        return mappings
    }

    /// A problem with the value under `key` found by the caller (e.g. a name used twice), at
    /// that value's line.
    public mutating func problem(_ m: Mapping, _ key: String, _ message: String) {
        reader.report(m.section.child(key), message)
    }

    /// Throws every problem found so far, sorted by line; returns when there is none.
    public mutating func finish() throws(RunSpecErrors) {
        if let problem = document.problem { throw RunSpecErrors(fileName: fileName, errors: [problem]) }
        reader.reportUnseenRenames()
        guard reader.errors.isEmpty else { throw RunSpecErrors(fileName: fileName, errors: reader.reportedErrors()) }
    }
}
