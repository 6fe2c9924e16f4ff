import Datasets
import Distillation
import Foundation
import NN
import Training
import Yams

/// Reading the sections of a run spec: structure and types, and the values of the other
/// targets' grammars (model specs, optimizers, schedules, ensemble rules), each parsed here once.
extension NodeReader {
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
        let elastic = readElastic(top)
        let spec = RunSpec(name: name, dataset: dataset, teachers: teachers, student: student, distillation: distillation,
                           training: training, replicas: replicas, prefetch: prefetch, elastic: elastic)
        return (spec, origins)
    }

    mutating func readDataset(_ top: Section) -> DatasetSpec {
        let defaults = DatasetSpec()
        guard let s = section(top.values["dataset"], path: "dataset", allowed: SpecParser.datasetKeys) else { return defaults }
        var format = DatasetFormat.idx
        if let node = s.values["format"] {
            let allowed = "one of \(DatasetFormat.allCases.map(\.rawValue).joined(separator: ", "))"
            if let text = string(node, path: s.child("format"), allowed: allowed) {
                if let f = DatasetFormat(rawValue: text) { format = f } else {
                    fail(s.child("format"), "must be \(allowed), got '\(text)'", line: NodeReader.line(node))
                }
            }
        }
        let path: String
        if format == .npz {
            path = requiredString(s, "path", allowed: "the .npz file on the coordinator, e.g. path: /data/my-set.npz")
        } else {
            path = string(s, "path", default: defaults.path, allowed: "a directory path")
        }
        // An npz data set is named after its file unless the spec names it.
        let fileStem = ((path as NSString).lastPathComponent as NSString).deletingPathExtension
        let name = string(s, "name", default: format == .npz ? (fileStem.isEmpty ? "npz" : fileStem) : defaults.name,
                          allowed: format == .npz ? Rules.name : Rules.datasetName)
        var arrays = NumPyArrayNames()
        if let node = s.values["arrays"] {
            if format != .npz {
                fail(s.child("arrays"), "applies to format: npz only (the names of the arrays in the .npz file)", line: NodeReader.line(node))
            } else if let a = section(node, path: s.child("arrays"), allowed: SpecParser.arrayKeys) {
                let allowed = "the name of an array in the .npz file"
                arrays = NumPyArrayNames(xTrain: string(a, "x-train", default: arrays.xTrain, allowed: allowed),
                                         yTrain: string(a, "y-train", default: arrays.yTrain, allowed: allowed),
                                         xTest: string(a, "x-test", default: arrays.xTest, allowed: allowed),
                                         yTest: string(a, "y-test", default: arrays.yTest, allowed: allowed))
            }
        }
        return DatasetSpec(
            format: format, name: name, path: path, arrays: arrays,
            classes: int(s, "classes", default: 0, allowed: Rules.classes),
            trainLimit: int(s, "train-limit", default: defaults.trainLimit, allowed: "an integer ≥ 0"),
            validation: int(s, "validation", default: defaults.validation, allowed: "an integer ≥ 0"),
            preprocessing: readPreprocessing(s, format: format))
    }

    /// `scale`, `mean` and `std` of the dataset section; the format's default for what is absent.
    mutating func readPreprocessing(_ s: Section, format: DatasetFormat) -> Preprocessing {
        let defaults = format.defaultPreprocessing
        var scale = defaults.scale
        if let node = s.values["scale"] {
            if let text = NodeReader.plainText(node), let v = Double(text), v.isFinite { scale = v } else {
                fail(s.child("scale"), "must be \(Rules.scale), got \(NodeReader.describe(node))", line: NodeReader.line(node))
            }
        }
        let mean = readStatistic(s, "mean"), std = readStatistic(s, "std")
        var statistics = defaults.statistics
        switch (mean, std) {
        case _ where isFailed(s.child("mean")) || isFailed(s.child("std")):
            break  // already reported; nothing to pair
        case (nil, nil):
            break
        case (.fit?, .fit?):
            statistics = .fit
        case (.values(let m)?, .values(let d)?):
            switch Normalization.validated(mean: m, std: d) {
            case .success(let n): statistics = .given(n)
            case .failure(let problem): flag(s.child("std"), problem.message, line: line(of: s.child("std")))
            }
        case (.fit?, _), (_, .fit?):
            flag(s.child(mean == .fit ? "std" : "mean"), "mean: fit and std: fit go together (both fitted on the training split, or both given)",
                 line: line(of: s.child(mean == .fit ? "mean" : "std")))
        case (nil, _), (_, nil):
            let missing = mean == nil ? "mean" : "std"
            flag(s.child(missing), "is required with \(missing == "mean" ? "std" : "mean"): give both (a number each, or one per channel), or fit for both",
                 line: line(of: s.child(missing == "mean" ? "std" : "mean")))
        }
        return Preprocessing(scale: scale, statistics: statistics)
    }

    /// A `mean:`/`std:` value: `fit`, a number, or a list of numbers.
    enum Statistic: Equatable { case fit, values([Float]) }

    mutating func readStatistic(_ s: Section, _ key: String) -> Statistic? {
        guard let node = s.values[key] else { return nil }
        let field = s.child(key)
        switch node {
        case .scalar:
            if let text = NodeReader.plainText(node) {
                if text == "fit" { return .fit }
                if let v = Float(text), v.isFinite { return .values([v]) }
            }
        case .sequence(let items):
            let values = items.compactMap { NodeReader.plainText($0).flatMap(Float.init) }.filter(\.isFinite)
            if !items.isEmpty, values.count == items.count { return .values(values) }
        default:
            break
        }
        fail(field, "must be \(Rules.statistic), got \(NodeReader.describe(node))", line: NodeReader.line(node))
        return nil
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
                fail(path, "a teacher needs model: and either train: or checkpoint:, or onnx: PATH alone", line: NodeReader.line(item))
                failed.insert(NodeReader.teacherCountUnknown)
                continue
            }
            if let onnx = s.values["onnx"] {
                // An ONNX teacher: the file is the model; nothing else applies.
                let p = string(onnx, path: s.child("onnx"), allowed: "an ONNX model file path") ?? ""
                for key in ["model", "count", "checkpoint", "train"] where s.values[key] != nil {
                    let reason = key == "model" ? "the ONNX graph is the model" : key == "count" ? "an ONNX file is one teacher"
                        : "an ONNX teacher is frozen: loaded from its file, never trained"
                    fail(s.child(key), "does not apply to an onnx: teacher (\(reason)); remove it", line: lines[s.child(key)])
                    if key == "count" { failed.insert(NodeReader.teacherCountUnknown) }
                }
                teachers.append(TeacherSpec(onnx: p))
                origins.append(index)
                continue
            }
            let model = readModel(s)
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
                flag(path, "needs either checkpoint: PATH (a trained model) or train: {…} (a recipe; train: {} for the defaults), or onnx: PATH instead of model:",
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
            optimizer: readOptimizer(s, default: d.optimizer),
            weightDecay: float(s, "weight-decay", default: d.weightDecay, allowed: Rules.weightDecay.allowed),
            schedule: readSchedule(s, default: d.schedule),
            seed: uint64(s, "seed", default: d.seed),
            bootstrap: bool(s, "bootstrap", default: d.bootstrap))
    }

    mutating func readStudent(_ top: Section) -> StudentSpec {
        guard let node = top.values["student"], !NodeReader.isNull(node) else {
            fail("student", "is required: a mapping with model: MODEL, e.g. student: { model: mlp:784-140-140-10 }",
                 line: lines["student"])
            return StudentSpec(model: .unread)
        }
        guard let s = section(node, path: "student", allowed: SpecParser.studentKeys) else { return StudentSpec(model: .unread) }
        return StudentSpec(model: readModel(s))
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
            ensemble: parsed(s, "ensemble", default: d.ensemble, allowed: Rules.ensemble, EnsembleRule.init(parsing:), \.message),
            topK: int(s, "top-k", default: d.topK, allowed: "0 (full logits) or an integer in 1…classes−1"),
            float16: bool(s, "float16", default: d.float16),
            mutual: float(s, "mutual", default: d.mutual, allowed: Rules.mutual.allowed))
    }

    mutating func readElastic(_ top: Section) -> ElasticSpec {
        let d = ElasticSpec()
        guard let s = section(top.values["elastic"], path: "elastic", allowed: SpecParser.elasticKeys) else { return d }
        return ElasticSpec(minReplicas: int(s, "min-replicas", default: d.minReplicas, allowed: "an integer in 1…replicas"),
                           maxRestarts: int(s, "max-restarts", default: d.maxRestarts, allowed: Rules.maxRestarts.allowed),
                           waitTimeout: int(s, "wait-timeout", default: d.waitTimeout, allowed: Rules.waitTimeout.allowed + " seconds"),
                           checkpointEvery: int(s, "checkpoint-every", default: d.checkpointEvery,
                                                allowed: Rules.checkpointEvery.allowed + " steps"))
    }

    mutating func readTraining(_ top: Section) -> TrainingSpec {
        let d = TrainingSpec()
        guard let s = section(top.values["training"], path: "training", allowed: SpecParser.trainingKeys) else { return d }
        return TrainingSpec(
            epochs: int(s, "epochs", default: d.epochs, allowed: Rules.epochs.allowed),
            batch: int(s, "batch", default: d.batch, allowed: Rules.batch.allowed),
            learningRate: float(s, "lr", default: d.learningRate, allowed: Rules.learningRate.allowed),
            optimizer: readOptimizer(s, default: d.optimizer),
            weightDecay: float(s, "weight-decay", default: d.weightDecay, allowed: Rules.weightDecay.allowed),
            schedule: readSchedule(s, default: d.schedule),
            seed: uint64(s, "seed", default: d.seed),
            labelFraction: float(s, "label-fraction", default: d.labelFraction, allowed: Rules.labelFraction.allowed),
            baseline: bool(s, "baseline", default: d.baseline))
    }

    // MARK: - The other targets' grammars

    /// A value written in another target's grammar, parsed here once: `default` when the key
    /// is absent; when the text does not parse, its grammar's error at the field (on the line
    /// of its key, as for every value check) and `default` stands in (the field is failed, so
    /// nothing is checked against it).
    mutating func parsed<T, E: Error>(_ s: Section, _ key: String, default value: T, allowed: String,
                                      _ parse: (String) throws(E) -> T, _ message: (E) -> String) -> T {
        guard let node = s.values[key] else { return value }
        let field = s.child(key)
        guard let text = string(node, path: field, allowed: allowed) else { return value }
        do { return try parse(text) } catch {
            fail(field, message(error), line: line(of: field))
            return value
        }
    }

    /// The required `model:` of a teacher or the student (NN.ModelSpec grammar).
    mutating func readModel(_ s: Section) -> ModelSpec {
        let field = s.child("model")
        let text = requiredString(s, "model", allowed: Rules.model)
        guard !isFailed(field) else { return .unread }
        do { return try ModelSpec(parsing: text) } catch {
            fail(field, error.description, line: line(of: field))
            return .unread
        }
    }

    mutating func readOptimizer(_ s: Section, default value: OptimizerChoice) -> OptimizerChoice {
        parsed(s, "optimizer", default: value, allowed: Rules.optimizer, OptimizerChoice.init(parsing:), \.message)
    }

    mutating func readSchedule(_ s: Section, default value: ScheduleChoice) -> ScheduleChoice {
        parsed(s, "schedule", default: value, allowed: Rules.schedule, ScheduleChoice.init(parsing:), \.message)
    }
}

extension ModelSpec {
    /// Stands in for a model spec that could not be read: its field is failed, so the parse
    /// throws and this value never leaves the parser.
    static let unread: ModelSpec = {
        do { return try ModelSpec(parsing: "mlp:1-1") } catch { fatalError("the stand-in model spec does not parse: \(error)") }
    }()
}
