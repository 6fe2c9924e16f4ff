import Yams

/// Reads a run spec from YAML nodes: structure and types here (unknown, missing, duplicate
/// keys, wrong types, with lines), values and cross-field rules in ``SpecValidator``.
enum SpecParser {
    static let rootKeys = ["name", "dataset", "teachers", "student", "distillation", "training", "replicas", "prefetch"]
    static let datasetKeys = ["name", "path", "train-limit", "validation"]
    static let teacherKeys = ["model", "count", "checkpoint", "train"]
    static let recipeKeys = ["epochs", "batch", "lr", "optimizer", "weight-decay", "schedule", "seed", "bootstrap"]
    static let studentKeys = ["model"]
    static let distillationKeys = ["mode", "temperature", "alpha", "ensemble", "top-k", "float16", "mutual"]
    static let trainingKeys = ["epochs", "batch", "lr", "optimizer", "weight-decay", "schedule", "seed"]

    static func parse(yaml: String, fileName: String) throws(RunSpecErrors) -> RunSpec {
        let document = YAMLDocument(yaml: yaml)
        if let problem = document.problem { throw RunSpecErrors(fileName: fileName, errors: [problem]) }
        // Everything below is linear in the size of the text: one pass over the nodes, hash
        // lookups for keys and repeats, one sort of the errors.
        var reader = NodeReader(renamedKeys: document.renamedKeys)
        guard let root = document.root, !NodeReader.isNull(root) else {
            throw RunSpecErrors(fileName: fileName, errors: [RunSpecError(
                field: "", message: "the file is empty; a run spec is a mapping with the keys \(rootKeys.joined(separator: ", "))")])
        }
        let (spec, origins) = reader.readSpec(root)
        if let spec {
            let validator = SpecValidator(spec: spec, teacherPath: { "teachers[\(origins[$0])]" }, skip: reader.isFailed)
            for problem in validator.run() { reader.report(problem.field, problem.message) }
        }
        reader.reportUnseenRenames()
        guard reader.errors.isEmpty, let spec else {
            throw RunSpecErrors(fileName: fileName, errors: reader.reportedErrors())
        }
        return spec
    }
}

/// A YAML mapping checked against its allowed keys.
struct Section {
    var path: String
    var values: [String: Node] = [:]

    func child(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }
}

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
                let place = path.isEmpty ? "the run spec" : path
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

    // MARK: - The spec

    /// The spec as written (nil if the file is not a mapping) and, for each expanded
    /// teacher, its index in the YAML list.
    mutating func readSpec(_ root: Node) -> (RunSpec?, [Int]) {
        guard case .mapping = root else {
            fail("", "a run spec must be a mapping with the keys \(SpecParser.rootKeys.joined(separator: ", ")), got \(NodeReader.describe(root))",
                 line: NodeReader.line(root))
            return (nil, [])
        }
        guard let top = section(root, path: "", allowed: SpecParser.rootKeys) else { return (nil, []) }

        let name = requiredString(top, "name", allowed: Rules.name)
        let dataset = readDataset(top)
        let (teachers, origins) = readTeachers(top)
        let student = readStudent(top)
        let distillation = readDistillation(top)
        let training = readTraining(top)
        let replicas = int(top, "replicas", default: 1, allowed: Rules.replicas.allowed)
        let prefetch = int(top, "prefetch", default: 4, allowed: Rules.prefetch.allowed)
        let spec = RunSpec(name: name, dataset: dataset, teachers: teachers, student: student, distillation: distillation,
                           training: training, replicas: replicas, prefetch: prefetch)
        return (spec, origins)
    }

    mutating func readDataset(_ top: Section) -> DatasetSpec {
        let defaults = DatasetSpec()
        guard let s = section(top.values["dataset"], path: "dataset", allowed: SpecParser.datasetKeys) else { return defaults }
        return DatasetSpec(
            name: string(s, "name", default: defaults.name, allowed: Rules.datasetName),
            path: string(s, "path", default: defaults.path, allowed: "a directory path"),
            trainLimit: int(s, "train-limit", default: defaults.trainLimit, allowed: Rules.trainLimit.allowed),
            validation: int(s, "validation", default: defaults.validation, allowed: "an integer ≥ 0"))
    }

    mutating func readTeachers(_ top: Section) -> ([TeacherSpec], [Int]) {
        guard let node = top.values["teachers"], !NodeReader.isNull(node) else {
            fail("teachers", "is required: \(Rules.teachers)", line: lines["teachers"])
            failed.insert(NodeReader.teacherCountUnknown)
            return ([], [])
        }
        guard case .sequence(let items) = node else {
            fail("teachers", "must be \(Rules.teachers), got \(NodeReader.describe(node))", line: NodeReader.line(node))
            failed.insert(NodeReader.teacherCountUnknown)
            return ([], [])
        }
        var teachers: [TeacherSpec] = [], origins: [Int] = []
        for (index, item) in items.enumerated() {
            let path = "teachers[\(index)]"
            if let line = NodeReader.line(item) { lines[path] = line }
            guard let s = section(item, path: path, allowed: SpecParser.teacherKeys) else {
                failed.insert(NodeReader.teacherCountUnknown)
                continue
            }
            if s.values.isEmpty {
                fail(path, "a teacher needs at least model: and either train: or checkpoint:", line: NodeReader.line(item))
                failed.insert(NodeReader.teacherCountUnknown)
                continue
            }
            let model = requiredString(s, "model", allowed: Rules.model)
            var count = int(s, "count", default: 1, allowed: Rules.count.allowed)
            if !Rules.count.range.contains(count) {
                if !isFailed(s.child("count")) {
                    fail(s.child("count"), "must be \(Rules.count.allowed), got \(count)", line: lines[s.child("count")])
                }
                failed.insert(NodeReader.teacherCountUnknown)
                count = 1
            }
            let source: TeacherSpec.Source
            switch (s.values["checkpoint"], s.values["train"]) {
            case (let checkpoint?, let train?):
                flag(path, "has both checkpoint: and train:; a teacher is either loaded from a checkpoint or trained from a recipe",
                     line: NodeReader.line(checkpoint) ?? NodeReader.line(train))
                source = .train(readRecipe(train, path: s.child("train")))
            case (let checkpoint?, nil):
                let p = string(checkpoint, path: s.child("checkpoint"), allowed: "a checkpoint file path") ?? ""
                source = .checkpoint(path: p)
                if count != 1, s.values["count"] != nil {
                    fail(s.child("count"), "applies only to trained teachers (a checkpoint is one teacher); remove count or use train:",
                         line: lines[s.child("count")])
                    failed.insert(NodeReader.teacherCountUnknown)
                    count = 1
                }
            case (nil, let train?):
                source = .train(readRecipe(train, path: s.child("train")))
            case (nil, nil):
                flag(path, "needs either checkpoint: PATH (a trained model) or train: {…} (a recipe; train: {} for the defaults)",
                     line: NodeReader.line(item))
                source = .train(TeacherRecipe())
            }
            if case .train(let recipe) = source, count > 1, recipe.seed > UInt64.max - UInt64(count - 1) {
                fail(s.child("train.seed"), "must be at most \(UInt64.max - UInt64(count - 1)) so that the \(count) teachers' seeds seed…seed+\(count - 1) fit, got \(recipe.seed)",
                     line: line(of: s.child("train.seed")))
                count = 1
            }
            for k in 0..<count {
                var teacher = TeacherSpec(model: model, source: source)
                if case .train(var recipe) = source {
                    recipe.seed += UInt64(k)
                    teacher.source = .train(recipe)
                }
                teachers.append(teacher)
                origins.append(index)
            }
        }
        return (teachers, origins)
    }

    mutating func readRecipe(_ node: Node, path: String) -> TeacherRecipe {
        let d = TeacherRecipe()
        guard let s = section(node, path: path, allowed: SpecParser.recipeKeys) else { return d }
        return TeacherRecipe(
            epochs: int(s, "epochs", default: d.epochs, allowed: Rules.epochs.allowed),
            batch: int(s, "batch", default: d.batch, allowed: Rules.batch.allowed),
            learningRate: float(s, "lr", default: d.learningRate, allowed: Rules.learningRate.allowed),
            optimizer: string(s, "optimizer", default: d.optimizer, allowed: Rules.optimizer),
            weightDecay: float(s, "weight-decay", default: d.weightDecay, allowed: Rules.weightDecay.allowed),
            schedule: string(s, "schedule", default: d.schedule, allowed: Rules.schedule),
            seed: uint64(s, "seed", default: d.seed),
            bootstrap: bool(s, "bootstrap", default: d.bootstrap))
    }

    mutating func readStudent(_ top: Section) -> StudentSpec {
        guard let node = top.values["student"], !NodeReader.isNull(node) else {
            fail("student", "is required: a mapping with model: MODEL, e.g. student: { model: mlp:784-140-140-10 }",
                 line: lines["student"])
            return StudentSpec(model: "")
        }
        guard let s = section(node, path: "student", allowed: SpecParser.studentKeys) else { return StudentSpec(model: "") }
        return StudentSpec(model: requiredString(s, "model", allowed: Rules.model))
    }

    mutating func readDistillation(_ top: Section) -> DistillationSpec {
        let d = DistillationSpec()
        guard let s = section(top.values["distillation"], path: "distillation", allowed: SpecParser.distillationKeys) else { return d }
        var mode = d.mode
        if let node = s.values["mode"] {
            let allowed = "one of \(DistillationMode.allCases.map(\.rawValue).joined(separator: ", "))"
            if let text = string(node, path: s.child("mode"), allowed: allowed) {
                if let m = DistillationMode(rawValue: text) { mode = m } else {
                    fail(s.child("mode"), "must be \(allowed), got '\(text)'", line: NodeReader.line(node))
                }
            }
        }
        return DistillationSpec(
            mode: mode,
            temperature: float(s, "temperature", default: d.temperature, allowed: Rules.temperature.allowed),
            alpha: float(s, "alpha", default: d.alpha, allowed: Rules.alpha.allowed),
            ensemble: string(s, "ensemble", default: d.ensemble, allowed: Rules.ensemble),
            topK: int(s, "top-k", default: d.topK, allowed: "0 (full logits) or an integer in 1…classes−1"),
            float16: bool(s, "float16", default: d.float16),
            mutual: float(s, "mutual", default: d.mutual, allowed: Rules.mutual.allowed))
    }

    mutating func readTraining(_ top: Section) -> TrainingSpec {
        let d = TrainingSpec()
        guard let s = section(top.values["training"], path: "training", allowed: SpecParser.trainingKeys) else { return d }
        return TrainingSpec(
            epochs: int(s, "epochs", default: d.epochs, allowed: Rules.epochs.allowed),
            batch: int(s, "batch", default: d.batch, allowed: Rules.batch.allowed),
            learningRate: float(s, "lr", default: d.learningRate, allowed: Rules.learningRate.allowed),
            optimizer: string(s, "optimizer", default: d.optimizer, allowed: Rules.optimizer),
            weightDecay: float(s, "weight-decay", default: d.weightDecay, allowed: Rules.weightDecay.allowed),
            schedule: string(s, "schedule", default: d.schedule, allowed: Rules.schedule),
            seed: uint64(s, "seed", default: d.seed))
    }
}
