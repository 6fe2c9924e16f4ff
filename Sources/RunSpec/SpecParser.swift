import Yams

/// Reads a run spec from YAML nodes: structure and types (unknown, missing, duplicate keys,
/// wrong types, with lines) in ``NodeReader`` (`NodeReader.swift`: errors, nodes, scalars;
/// `NodeReader+Spec.swift`: the sections, and the values of the other targets' grammars —
/// model specs, optimizers, schedules, ensemble rules —, each parsed there once into its
/// type); values and cross-field rules in ``SpecValidator``.
enum SpecParser {
    static let rootKeys = ["name", "dataset", "teachers", "student", "distillation", "training", "replicas", "prefetch",
                           "elastic"]
    static let elasticKeys = ["min-replicas", "max-restarts", "wait-timeout", "checkpoint-every"]
    static let datasetKeys = ["format", "name", "path", "arrays", "classes", "scale", "mean", "std", "train-limit", "validation"]
    static let arrayKeys = ["x-train", "y-train", "x-test", "y-test"]
    static let teacherKeys = ["model", "count", "checkpoint", "onnx", "train"]
    static let recipeKeys = ["epochs", "batch", "lr", "optimizer", "weight-decay", "schedule", "seed", "bootstrap"]
    static let studentKeys = ["model"]
    static let distillationKeys = ["mode", "temperature", "alpha", "ensemble", "top-k", "float16", "mutual"]
    static let trainingKeys = ["epochs", "batch", "lr", "optimizer", "weight-decay", "schedule", "seed", "label-fraction", "baseline"]

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

