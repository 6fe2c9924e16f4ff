import Distillation
import NN
import Training

/// The allowed values, worded once for the reader's type errors and the validator's range errors.
enum Rules {
    struct IntRange {
        var range: ClosedRange<Int>
        var allowed: String { "an integer in \(range.lowerBound)…\(range.upperBound)" }
    }

    struct FloatRange {
        var low: Float, lowInclusive: Bool, high: Float, highInclusive: Bool
        func contains(_ v: Float) -> Bool {
            (lowInclusive ? v >= low : v > low) && (highInclusive ? v <= high : v < high)
        }
        var allowed: String {
            "a number in \(lowInclusive ? "[" : "(")\(Rules.show(low)), \(Rules.show(high))\(highInclusive ? "]" : ")")"
        }
    }

    static let maxTeachers = 32
    static let count = IntRange(range: 1...maxTeachers)
    static let epochs = IntRange(range: 1...10_000)
    static let batch = IntRange(range: 1...65_536)
    static let replicas = IntRange(range: 1...64)
    static let prefetch = IntRange(range: 1...64)
    static let maxRestarts = IntRange(range: 0...1000)
    static let waitTimeout = IntRange(range: 0...86_400)
    static let checkpointEvery = IntRange(range: 0...100_000_000)
    static let learningRate = FloatRange(low: 0, lowInclusive: false, high: 10, highInclusive: false)
    static let weightDecay = FloatRange(low: 0, lowInclusive: true, high: 1, highInclusive: false)
    static let temperature = FloatRange(low: 0, lowInclusive: false, high: 100, highInclusive: true)
    static let alpha = FloatRange(low: 0, lowInclusive: true, high: 1, highInclusive: true)
    static let mutual = FloatRange(low: 0, lowInclusive: true, high: 1, highInclusive: false)
    static let labelFraction = FloatRange(low: 0, lowInclusive: false, high: 1, highInclusive: true)

    static let name = "a name of 1…64 characters from A-Z a-z 0-9 . _ -"
    static let nameCharacters = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-")
    static let datasetName = "one of \(DatasetFacts.known.keys.sorted().joined(separator: ", ")) (or format: npz for your own data)"
    static let teachers = "a list of 1…\(maxTeachers) teachers, each `- model: MODEL` with `train: {…}` or `checkpoint: PATH`, or `- onnx: PATH`"
    static let classes = "0 (from the labels) or an integer in 2…65536"
    static let scale = "a positive number, e.g. 0.00392156862745098 (1/255)"
    static let statistic = "a number, a list of numbers (one per channel or feature), or fit"
    static let model = "a model spec such as mlp:784-1200-1200-10,dropout=0.2 or cnn:1x28x28-c32-p2-c64-p2-fc256-fc10,bn"
    static let optimizer = "one of \(OptimizerChoice.allowed)"
    static let schedule = "one of \(ScheduleChoice.allowed)"
    static let ensemble = "one of \(EnsembleRule.allowed)"
    static let seed = "an integer in 0…\(UInt64.max)"

    /// Whole numbers without a fraction ("0", "10"), others as Swift prints them.
    static func show(_ v: Float) -> String {
        v == v.rounded() && abs(v) < 1e9 ? String(Int(v)) : "\(v)"
    }
}

/// The value and cross-field rules of a spec. Field paths of teachers come from
/// `teacherPath` (the parser maps expanded teachers back to their YAML entries); checks of
/// fields for which `skip` is true (their value could not be read) are left out. `facts` are
/// the data set's sizes, classes and sample shape when known: the named IDX data set's when
/// parsing, an npz file's when the coordinator has read its header (nil: those rules wait).
struct SpecValidator {
    let spec: RunSpec
    let teacherPath: (Int) -> String
    let skip: (String) -> Bool
    var facts: DatasetFacts?

    init(spec: RunSpec, teacherPath: @escaping (Int) -> String, skip: @escaping (String) -> Bool, facts: DatasetFacts? = nil) {
        self.spec = spec; self.teacherPath = teacherPath; self.skip = skip
        self.facts = facts ?? spec.dataset.knownFacts
    }

    typealias Problem = (field: String, message: String)

    func run() -> [Problem] {
        var out: [Problem] = []
        func add(_ field: String, _ message: String) { out.append((field, message)) }

        // name
        if !skip("name") {
            let n = spec.name
            if n.isEmpty || n.count > 64 || !n.allSatisfy({ Rules.nameCharacters.contains($0) }) {
                add("name", "must be \(Rules.name), got '\(n)'")
            }
        }

        // dataset
        let d = spec.dataset
        if d.format == .idx, DatasetFacts.known[d.name] == nil, !skip("dataset.name") {
            add("dataset.name", "must be \(Rules.datasetName), got '\(d.name)'")
        }
        if d.format == .npz, !skip("dataset.name"), d.name.isEmpty || d.name.utf8.count > 255 {
            add("dataset.name", "must be 1…255 bytes of text, got '\(d.name)'")
        }
        if d.path.isEmpty, !skip("dataset.path") {
            add("dataset.path", "must be \(d.format == .npz ? "the .npz file's path" : "a directory path"), got an empty string")
        }
        if !skip("dataset.classes") {
            if d.format == .idx, d.classes != 0, let known = DatasetFacts.known[d.name], d.classes != known.classes {
                add("dataset.classes", "must be 0 or \(known.classes): \(d.name) has \(known.classes) classes, got \(d.classes)")
            } else if d.classes != 0, !(2...65_536).contains(d.classes) {
                add("dataset.classes", "must be \(Rules.classes), got \(d.classes)")
            }
        }
        if !skip("dataset.scale"), !(d.preprocessing.scale > 0 && d.preprocessing.scale <= 1e30) {
            add("dataset.scale", "must be \(Rules.scale) (at most 1e30), got \(d.preprocessing.scale)")
        }
        if let facts, !skip("dataset.mean"), !skip("dataset.std"), case .given(let n) = d.preprocessing.statistics,
           !n.fits(sampleShape: facts.sampleShape) {
            let what = facts.sampleShape.count == 1 ? "feature" : "channel"
            add("dataset.mean", "has \(n.mean.count) values but samples are \(shown(facts.sampleShape)): give one value, or one per \(what) (\(facts.sampleShape.first ?? 0))")
        }
        if !skip("dataset.train-limit"), d.trainLimit < 0 { add("dataset.train-limit", "must be 0 (all) or a positive integer, got \(d.trainLimit)") }
        if !skip("dataset.validation"), d.validation < 0 { add("dataset.validation", "must be an integer ≥ 0, got \(d.validation)") }
        var datasetSizesKnown = facts != nil && !skip("dataset.train-limit") && !skip("dataset.validation") && d.trainLimit >= 0
        if let facts, datasetSizesKnown, d.trainLimit > facts.trainCount {
            add("dataset.train-limit", "must be 0 (all \(facts.trainCount) training samples) or an integer in 1…\(facts.trainCount), got \(d.trainLimit)")
            datasetSizesKnown = false
        }
        let trainSplit = facts.map(d.trainSplitCount(of:)) ?? 0
        if datasetSizesKnown, !(0..<trainSplit).contains(d.validation) {
            let limited = d.trainLimit > 0 ? " (train-limit)" : ""
            add("dataset.validation", "must be an integer in 0…\(trainSplit - 1), fewer than the \(trainSplit) training samples\(limited), got \(d.validation)")
            datasetSizesKnown = false
        }
        let trainingCount = datasetSizesKnown ? max(0, trainSplit - d.validation) : nil

        // models
        let student = model(spec.student.model, field: "student.model", add: add)
        let classes = facts?.classes
        if let student, let classes, student.outputCount != classes {
            add("student.model", "outputs \(student.outputCount) classes but \(d.name) has \(classes); end the model with \(classes) outputs")
        }
        let studentClasses = student?.outputCount

        // teachers
        if !skip(NodeReader.teacherCountUnknown), !skip("teachers") {
            if spec.teachers.isEmpty { add("teachers", "needs at least one teacher: \(Rules.teachers)") }
            if spec.teachers.count > Rules.maxTeachers {
                add("teachers", "has \(spec.teachers.count) teachers after count expansion; at most \(Rules.maxTeachers) are allowed")
            }
        }
        for (i, teacher) in spec.teachers.enumerated() {
            let path = teacherPath(i)
            if let teacherModel = teacher.model, let m = model(teacherModel, field: "\(path).model", add: add) {
                let n = m.outputCount
                if let classes, n != classes {
                    let who = studentClasses == classes ? "the student and \(d.name) have" : "\(d.name) has"
                    add("\(path).model", "outputs \(n) classes but \(who) \(classes); teachers and the student must agree on the classes")
                } else if classes == nil, let s = studentClasses, n != s {
                    add("\(path).model", "outputs \(n) classes but the student outputs \(s); teachers and the student must agree on the classes")
                }
            }
            switch teacher.source {
            case .checkpoint(let p):
                if p.isEmpty, !skip("\(path).checkpoint") { add("\(path).checkpoint", "must be a checkpoint file path, got an empty string") }
            case .onnx(let p):
                if p.isEmpty, !skip("\(path).onnx") { add("\(path).onnx", "must be an ONNX model file path, got an empty string") }
                if spec.distillation.mode == .online, !skip("distillation.mode") {
                    add("\(path).onnx", "is a frozen teacher (an ONNX model is run, never trained), so it cannot take part in an online run; "
                        + "use mode: offline, or a native teacher (model: with train:) for online distillation")
                }
            case .train(let r):
                let rp = "\(path).train"
                settings(rp, epochs: r.epochs, batch: r.batch, learningRate: r.learningRate, weightDecay: r.weightDecay,
                         trainingCount: trainingCount, add: add)
            }
        }

        // distillation
        let x = spec.distillation
        range("distillation.temperature", x.temperature, Rules.temperature, add: add)
        range("distillation.alpha", x.alpha, Rules.alpha, add: add)
        range("distillation.mutual", x.mutual, Rules.mutual, add: add)
        if !skip("distillation.mutual"), x.mutual > 0 {
            if !skip("distillation.mode"), x.mode != .online {
                add("distillation.mutual", "applies to online runs only (frozen teachers do not learn); set mode: online or mutual: 0")
            } else if !skip(NodeReader.teacherCountUnknown), !skip("teachers"), !spec.teachers.isEmpty, spec.teachers.count < 2 {
                add("distillation.mutual", "needs at least 2 teachers (each learns from the others' ensemble), got \(spec.teachers.count)")
            }
        }
        if !skip("distillation.ensemble"), !skip(NodeReader.teacherCountUnknown), !skip("teachers"), !spec.teachers.isEmpty {
            do { try x.ensemble.validate(teacherCount: spec.teachers.count) } catch {
                add("distillation.ensemble", "\(error.message) (one weight per teacher, after count expansion)")
            }
        }
        if !skip("distillation.top-k"), let classes = studentClasses ?? classes {
            if x.topK != 0 && !(1..<max(2, classes)).contains(x.topK) {
                add("distillation.top-k", "must be 0 (full logits) or an integer in 1…\(classes - 1), fewer than the \(classes) classes, got \(x.topK)")
            }
        }

        // training
        let t = spec.training
        settings("training", epochs: t.epochs, batch: t.batch, learningRate: t.learningRate, weightDecay: t.weightDecay,
                 trainingCount: trainingCount, add: add)
        range("training.label-fraction", t.labelFraction, Rules.labelFraction, add: add)
        if !skip("training.label-fraction"), t.labelFraction < 1, !skip("distillation.mode"), x.mode == .online {
            add("training.label-fraction", "applies to offline runs only (online teachers train on every label during the run); "
                + "set mode: offline or label-fraction: 1")
        }
        if !skip("training.label-fraction"), Rules.labelFraction.contains(t.labelFraction), let trainingCount,
           Int((Double(t.labelFraction) * Double(trainingCount)).rounded()) < 1 {
            add("training.label-fraction", "leaves no labelled image of the \(trainingCount) training images; raise it")
        }
        let replicasValid = Rules.replicas.range.contains(spec.replicas)
        if !skip("replicas"), !replicasValid { add("replicas", "must be \(Rules.replicas.allowed), got \(spec.replicas)") }
        if !skip("prefetch"), !Rules.prefetch.range.contains(spec.prefetch) {
            add("prefetch", "must be \(Rules.prefetch.allowed), got \(spec.prefetch)")
        }
        let e = spec.elastic
        if !skip("elastic.min-replicas"), replicasValid, !(1...spec.replicas).contains(e.minReplicas) {
            add("elastic.min-replicas", "must be an integer in 1…\(spec.replicas) (the run's replicas), got \(e.minReplicas)")
        }
        if !skip("elastic.wait-timeout"), !Rules.waitTimeout.range.contains(e.waitTimeout) {
            add("elastic.wait-timeout", "must be \(Rules.waitTimeout.allowed) seconds, got \(e.waitTimeout)")
        }
        if !skip("elastic.checkpoint-every"), !Rules.checkpointEvery.range.contains(e.checkpointEvery) {
            add("elastic.checkpoint-every", "must be \(Rules.checkpointEvery.allowed) steps (0: after each epoch), got \(e.checkpointEvery)")
        }
        if !skip("elastic.max-restarts"), !Rules.maxRestarts.range.contains(e.maxRestarts) {
            add("elastic.max-restarts", "must be \(Rules.maxRestarts.allowed), got \(e.maxRestarts)")
        }
        if !skip("replicas"), !skip("training.batch"), replicasValid, Rules.batch.range.contains(t.batch), t.batch % spec.replicas != 0 {
            add("training.batch", "must be divisible by replicas (\(spec.replicas)) so that every replica gets an equal micro-batch, got \(t.batch)")
        }
        return out
    }

    /// Checks a model takes the data set's samples; the model, or nil when it could not be
    /// read or does not fit.
    private func model(_ m: ModelSpec, field: String, add: (String, String) -> Void) -> ModelSpec? {
        guard !skip(field) else { return nil }
        guard let facts else { return m }
        let shape = facts.sampleShape, features = shape.reduce(1, *)
        let shown = self.shown(shape)
        switch m.family {
        case .mlp:
            if m.inputShape != [features] {
                add(field, "takes \(m.inputShape[0]) inputs but \(spec.dataset.name) samples are \(shown) = \(features) features; start the mlp with \(features)")
                return nil
            }
        case .cnn:
            if m.inputShape != shape {
                add(field, "takes \(m.inputShape.map(String.init).joined(separator: "x")) inputs but \(spec.dataset.name) samples are \(shown); start the cnn with \(shown)")
                return nil
            }
            // The same shape rules the layers apply when the model is built.
            var current = shape
            for block in m.blocks {
                do {
                    switch block {
                    case .conv(let c, let k, let s, let p):
                        current = try Conv2D(inputShape: current, outChannels: c, kernel: k, stride: s, padding: p).outputShape
                    case .pool(let w, let s):
                        current = try MaxPool2D(inputShape: current, kernel: w, stride: s).outputShape
                    case .dense:
                        break
                    }
                } catch {
                    add(field, "does not fit \(shown) samples: \(error.description)")
                    return nil
                }
            }
        }
        return m
    }

    /// A shape as `1x28x28`.
    private func shown(_ shape: [Int]) -> String { shape.map(String.init).joined(separator: "x") }

    private func range(_ field: String, _ v: Float, _ rule: Rules.FloatRange, add: (String, String) -> Void) {
        if !skip(field), !rule.contains(v) { add(field, "must be \(rule.allowed), got \(Rules.show(v))") }
    }

    private func intRange(_ field: String, _ v: Int, _ rule: Rules.IntRange, add: (String, String) -> Void) {
        if !skip(field), !rule.range.contains(v) { add(field, "must be \(rule.allowed), got \(v)") }
    }

    /// The rules shared by a teacher recipe and the student's training (the optimizer and the
    /// schedule were checked by their grammars when read).
    private func settings(_ path: String, epochs: Int, batch: Int, learningRate: Float, weightDecay: Float,
                          trainingCount: Int?, add: (String, String) -> Void) {
        intRange("\(path).epochs", epochs, Rules.epochs, add: add)
        intRange("\(path).batch", batch, Rules.batch, add: add)
        if let trainingCount, !skip("\(path).batch"), Rules.batch.range.contains(batch), batch > trainingCount {
            add("\(path).batch", "must be at most the \(trainingCount) training images (train-limit minus validation), got \(batch)")
        }
        range("\(path).lr", learningRate, Rules.learningRate, add: add)
        range("\(path).weight-decay", weightDecay, Rules.weightDecay, add: add)
    }
}
