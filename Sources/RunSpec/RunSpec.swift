import Datasets
import Distillation
import NN
import Training

/// A run spec: what the user submits as YAML (`distillery submit FILE`). Parsed strictly:
/// unknown keys are errors, every error names the dotted field path and what is allowed.
///
/// The grammar (keys are kebab-case; every key but `name`, `teachers`, `student`,
/// `teachers[i].model` and `student.model` is optional and shows its default):
///
/// ```yaml
/// name: NAME                  # required; 1…64 of A-Z a-z 0-9 . _ -
/// dataset:                    # the data every node trains on
///   format: idx               # idx (Fashion-MNIST's IDX files) | npz (a NumPy archive of any shape)
///   name: fashion-mnist       # idx: the data set (only fashion-mnist: 10 classes, 1x28x28); npz: any name, default the file's
///   path: /usr/share/datasets/fashion-mnist   # idx: directory with the IDX files (.gz or raw); npz: the .npz file; on the coordinator
///   arrays:                   # npz only: the arrays' names in the file
///     x-train: x_train        # uint8 or float32, [N, D] or [N, C, H, W]
///     y-train: y_train        # integer class ids, [N]
///     x-test: x_test
///     y-test: y_test
///   classes: 0                # npz: 0 = from the labels (largest + 1), else 2…65536
///   scale: 0.00392156862745098  # every value is multiplied by it first; idx default 1/255, npz 1
///   mean: fit                 # then (x − mean) / std: a number, one per channel ([C,H,W]) or feature ([D]),
///   std: fit                  #   or fit (one each, from the training split); idx default fit, npz 0 and 1
///   train-limit: 0            # 0 = all training samples, else the first N
///   validation: 5000          # samples held out of those for validation: 0…(training samples − 1)
/// teachers:                   # 1…32 teachers after `count` expansion
///   - model: MODEL            # NN.ModelSpec grammar, e.g. mlp:784-1200-1200-10,dropout=0.2 (not with onnx:)
///     count: 1                # 1…32; a trained teacher N times, with seeds seed, seed+1, …, seed+N−1
///     checkpoint: PATH        # either a checkpoint (safetensors on the coordinator) …
///     onnx: PATH              # … or an ONNX model (on the coordinator; frozen: offline runs only) …
///     train:                  # … or a recipe to train it from (`train: {}` = all defaults); one of the three
///       epochs: 10            # 1…10000
///       batch: 128            # 1…65536, at most the number of training images
///       lr: 0.001             # learning rate in (0, 10)
///       optimizer: adamw      # sgd | momentum | nesterov | adamw (alias adam)
///       weight-decay: 0       # [0, 1)
///       schedule: cosine      # constant | cosine | cosine:WARMUP_EPOCHS | step:EPOCHS:GAMMA
///       seed: 1               # 0…18446744073709551615
///       bootstrap: false      # bagging: train on a bootstrap resample of the training images
/// student:
///   model: MODEL              # required; NN.ModelSpec grammar
/// distillation:
///   mode: offline             # offline (frozen teachers) | online (teachers keep training)
///   temperature: 4            # (0, 100]
///   alpha: 0.9                # [0, 1]: weight of the soft (distillation) loss, 1 − alpha of the hard loss
///   ensemble: mean-probs      # mean-probs (alias mean) | mean-logits | weighted:W1/…/WK | ebkd | camkd
///   top-k: 0                  # 0 = full logits, else 1…classes−1
///   float16: false            # logits as float16 on the wire
///   mutual: 0                 # [0, 1), online only: teachers' KL weight toward the others' ensemble
/// training:                   # the student's training
///   epochs: 10                # 1…10000
///   batch: 128                # global batch B: 1…65536, divisible by replicas, at most the training images
///   lr: 0.001                 # (0, 10)
///   optimizer: adamw          # as for teachers
///   weight-decay: 0           # [0, 1)
///   schedule: cosine          # as for teachers
///   seed: 1                   # 0…18446744073709551615
///   label-fraction: 1         # (0, 1]: the student sees the labels of a stratified fraction of the
///                             # training images only (the hard-label term is dropped for the rest);
///                             # the teachers' soft labels cover them all. Offline runs only
///   baseline: false           # also train the same student from scratch on those labels, for as
///                             # many optimizer steps, and report it (figure baseline.test_accuracy)
/// replicas: 1                 # 1…64 student replicas (data parallel)
/// prefetch: 4                 # 1…64: how many steps teachers may run ahead (window W)
/// elastic:                    # losing student replicas, teachers or the coordinator while distilling
///   min-replicas: 1           # 1…replicas: with fewer left the run pauses (wait-timeout)
///   max-restarts: 10          # 0…1000: ring changes (losses, stalled rings renewed) it absorbs
///   wait-timeout: 300         # 0…86400 s: below min-replicas it pauses this
///                             # long for student workers to take the lost slots, then fails
///   checkpoint-every: 0       # 0…100000000 steps: rank 0 sends the coordinator a resume
///                             # checkpoint every N steps (0: after each epoch), `distillery resume`
/// ```
///
/// Cross-field rules: every model's input is the data set's sample (784 features for `mlp` on
/// Fashion-MNIST, exactly `1x28x28` for `cnn`, and a `cnn`'s blocks must fit it); every model
/// outputs the data set's classes (10), so teachers and student agree; `weighted:` gives one
/// weight per teacher (after expansion); `top-k` < classes; `training.batch` is divisible by
/// `replicas`; an `onnx:` teacher needs `mode: offline`. An npz data set's shape, classes and
/// sizes are only known from the file: the coordinator checks those rules at submission
/// (``problems(facts:)``), and the ONNX teachers' graphs with them.
///
/// Values are typed: integers and numbers are plain scalars (`epochs: "10"` is a string and
/// an error), booleans are `true`/`false`. An empty value of a section (`train:`) means all
/// its defaults. Duplicate keys, YAML merge keys (`<<`) and several documents are errors.
///
/// Model specs, optimizers, schedules and ensemble rules are parsed once, by the parser, into
/// the types of their own targets (`NN.ModelSpec`, `Training.OptimizerChoice`,
/// `Training.ScheduleChoice`, `Distillation.EnsembleRule`) with their own grammars' errors;
/// every consumer uses those values and none parses the text again. Aliases are therefore
/// not kept: ``canonicalYAML()`` writes each value's canonical spelling (`adam` → `adamw`,
/// `mean` → `mean-probs`, `mlp:784-10,dropout=0.20` → `mlp:784-10,dropout=0.2`,
/// `cosine:0` → `cosine`). Relative paths are kept as written:
/// ``resolvingPaths(relativeTo:)`` makes them absolute. ``canonicalYAML()`` writes every
/// default out and the teachers expanded, so it parses back to an equal value.
public struct RunSpec: Sendable, Equatable {
    public var name: String                       // required; [A-Za-z0-9._-]{1,64}
    public var dataset: DatasetSpec
    public var teachers: [TeacherSpec]            // ≥ 1 (after `count` expansion ≤ 32)
    public var student: StudentSpec
    public var distillation: DistillationSpec
    public var training: TrainingSpec
    public var replicas: Int                      // 1…64, default 1
    public var prefetch: Int                      // window W: 1…64, default 4
    public var elastic: ElasticSpec

    /// A spec from values (not validated: see ``problems()``).
    public init(name: String, dataset: DatasetSpec = DatasetSpec(), teachers: [TeacherSpec], student: StudentSpec,
                distillation: DistillationSpec = DistillationSpec(), training: TrainingSpec = TrainingSpec(),
                replicas: Int = 1, prefetch: Int = 4, elastic: ElasticSpec = ElasticSpec()) {
        self.name = name; self.dataset = dataset; self.teachers = teachers; self.student = student
        self.distillation = distillation; self.training = training; self.replicas = replicas; self.prefetch = prefetch
        self.elastic = elastic
    }

    /// Parses and validates. `fileName` is only used in messages. Collects ALL problems it
    /// can find (not just the first) and throws them together.
    public init(yaml: String, fileName: String = "run spec") throws(RunSpecErrors) {
        self = try SpecParser.parse(yaml: yaml, fileName: fileName)
    }

    /// Everything wrong with this value, as parsing would report it but without lines (the
    /// teacher indices are those of the expanded list). Empty for every parsed spec.
    ///
    /// With `facts` (an npz data set's, read from its file by the coordinator at submission)
    /// the rules that need the data set's shape, classes and sizes are checked against them.
    public func problems(facts: DatasetFacts? = nil) -> [RunSpecError] {
        SpecValidator(spec: self, teacherPath: { "teachers[\($0)]" }, skip: { _ in false }, facts: facts).run()
            .map { RunSpecError(field: $0.field, message: $0.message) }
    }
}

/// How a data set is stored.
public enum DatasetFormat: String, Sendable, CaseIterable {
    /// IDX files (Fashion-MNIST's `train-images-idx3-ubyte.gz`, …) in a directory.
    case idx
    /// A NumPy archive (`numpy.savez`) holding the train and test arrays.
    case npz
}

/// The names of an npz data set's four arrays (`dataset.arrays`).
public typealias NumPyArrayNames = NumPyDataset.ArrayNames

public struct DatasetSpec: Sendable, Equatable, Hashable {
    public var format: DatasetFormat   // default idx
    public var name: String            // idx: a known data set ("fashion-mnist"); npz: any, default the file's name
    public var path: String            // idx: the directory, default "/usr/share/datasets/fashion-mnist"; npz: the file
    public var arrays: NumPyArrayNames // npz only
    public var classes: Int            // 0 = the data set's (idx) or from the labels (npz)
    public var trainLimit: Int         // 0 = all training samples; else the first N (tests, quick runs)
    public var validation: Int         // samples held out of the training split for validation, default 5000
    public var preprocessing: Preprocessing  // default: the format's (idx: 1/255 and fitted; npz: none)

    public static let defaultName = "fashion-mnist"
    public static let defaultPath = "/usr/share/datasets/fashion-mnist"

    public init(format: DatasetFormat = .idx, name: String = DatasetSpec.defaultName, path: String = DatasetSpec.defaultPath,
                arrays: NumPyArrayNames = NumPyArrayNames(), classes: Int = 0, trainLimit: Int = 0, validation: Int = 5000,
                preprocessing: Preprocessing? = nil) {
        self.format = format; self.name = name; self.path = path; self.arrays = arrays; self.classes = classes
        self.trainLimit = trainLimit; self.validation = validation
        self.preprocessing = preprocessing ?? format.defaultPreprocessing
    }

    /// What is known about the data set without reading it: the named IDX data set's facts;
    /// `nil` for an npz file (its facts come from the file, ``DatasetFacts/init(header:)``) or
    /// an unknown name.
    public var knownFacts: DatasetFacts? { format == .idx ? DatasetFacts.known[name] : nil }

    /// The number of classes of the data set (10 for Fashion-MNIST; 0 if not known without the file).
    public var classCount: Int { knownFacts?.classes ?? 0 }
    /// The shape of one sample, e.g. `[1, 28, 28]` (`[]` if not known without the file).
    public var sampleShape: [Int] { knownFacts?.sampleShape ?? [] }
    /// Samples read from the training split: `trainLimit`, or all of them when 0.
    public var trainSplitCount: Int { knownFacts.map(trainSplitCount(of:)) ?? 0 }
    /// Samples left for training once `validation` are held out.
    public var trainingCount: Int { max(0, trainSplitCount - validation) }

    /// The training samples read from a data set with `facts`: `trainLimit`, or all when 0.
    public func trainSplitCount(of facts: DatasetFacts) -> Int {
        trainLimit > 0 ? min(trainLimit, facts.trainCount) : facts.trainCount
    }
}

extension DatasetFormat {
    /// The pre-processing when the spec names none: IDX bytes to [0, 1] and standardised with
    /// the training split's mean and std (today's Fashion-MNIST normalisation); npz none.
    public var defaultPreprocessing: Preprocessing { self == .idx ? .idxDefault : .none }
}

/// What the rules need to know of a data set: its sizes, classes and sample shape.
public struct DatasetFacts: Sendable, Equatable {
    public var trainCount: Int
    public var testCount: Int
    public var classes: Int
    public var sampleShape: [Int]
    /// File stems in the data directory, each present as `STEM.gz` or `STEM` (IDX data sets).
    var fileStems: [String] = []

    public init(trainCount: Int, testCount: Int, classes: Int, sampleShape: [Int]) {
        self.trainCount = trainCount; self.testCount = testCount; self.classes = classes; self.sampleShape = sampleShape
    }

    static let known: [String: DatasetFacts] = {
        var fashion = DatasetFacts(trainCount: 60_000, testCount: 10_000, classes: 10, sampleShape: [1, 28, 28])
        fashion.fileStems = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]
        return ["fashion-mnist": fashion]
    }()
}

public struct TeacherSpec: Sendable, Equatable {
    /// Where the teacher comes from.
    public enum Source: Sendable, Equatable {
        case checkpoint(path: String)                 // a safetensors file on the coordinator
        case onnx(path: String)                       // an ONNX model on the coordinator (frozen)
        case train(TeacherRecipe)
    }
    /// The native model; nil for an ONNX teacher (its graph is the model).
    public var model: ModelSpec?
    public var source: Source

    public init(model: ModelSpec, source: Source) {
        self.model = model; self.source = source
    }

    /// An ONNX teacher: the model file at `path` on the coordinator.
    public init(onnx path: String) {
        self.model = nil; self.source = .onnx(path: path)
    }

    /// The ONNX file, for an ONNX teacher.
    public var onnxPath: String? {
        if case .onnx(let p) = source { return p }
        return nil
    }

    /// The recipe, for a teacher that is trained.
    public var recipe: TeacherRecipe? {
        if case .train(let r) = source { return r }
        return nil
    }

    /// The checkpoint path, for a teacher that is loaded.
    public var checkpointPath: String? {
        if case .checkpoint(let p) = source { return p }
        return nil
    }
}

public struct TeacherRecipe: Sendable, Equatable {
    public var epochs: Int            // default 10
    public var batch: Int             // default 128
    public var learningRate: Float    // key "lr", default 1e-3
    public var optimizer: OptimizerChoice  // default adamw
    public var weightDecay: Float     // key "weight-decay", default 0
    public var schedule: ScheduleChoice    // default cosine
    public var seed: UInt64           // default 1
    public var bootstrap: Bool        // bagging, default false

    public init(epochs: Int = 10, batch: Int = 128, learningRate: Float = 1e-3, optimizer: OptimizerChoice = .runSpecDefault,
                weightDecay: Float = 0, schedule: ScheduleChoice = .runSpecDefault, seed: UInt64 = 1, bootstrap: Bool = false) {
        self.epochs = epochs; self.batch = batch; self.learningRate = learningRate; self.optimizer = optimizer
        self.weightDecay = weightDecay; self.schedule = schedule; self.seed = seed; self.bootstrap = bootstrap
    }

    /// The Training settings of this recipe; the schedule's epochs become `stepsPerEpoch` steps.
    public func trainingSettings(stepsPerEpoch: Int) throws(SettingsError) -> TrainingSettings {
        try makeSettings(epochs: epochs, batch: batch, learningRate: learningRate, optimizer: optimizer,
                         weightDecay: weightDecay, schedule: schedule, seed: seed, stepsPerEpoch: stepsPerEpoch)
    }
}

public struct StudentSpec: Sendable, Equatable {
    public var model: ModelSpec

    public init(model: ModelSpec) { self.model = model }
}

public enum DistillationMode: String, Sendable, CaseIterable { case offline, online }

/// How an offline run absorbs the loss of student replicas while it distils
/// (docs/OPERATIONS.md "When a node is lost"; online runs fail on such a loss).
public struct ElasticSpec: Sendable, Equatable {
    /// Fewer replicas left than this fails the run: 1…replicas, default 1.
    public var minReplicas: Int
    /// Ring changes the run absorbs — replicas lost, stalled rings renewed — before the next
    /// one fails it: 0…1000, default 10.
    public var maxRestarts: Int
    /// Seconds the run pauses, below `minReplicas`, for student workers to take
    /// the lost slots back before it fails: 0…86400, default 300 (0: it fails at once).
    public var waitTimeout: Int
    /// Rank 0 sends the coordinator a resume checkpoint (parameters, optimizer state, step,
    /// soft-label cache) every this many global steps, 0: after each epoch (the default);
    /// `distillery resume RUN` continues an ended run from the last one. 0…100000000.
    public var checkpointEvery: Int

    public init(minReplicas: Int = 1, maxRestarts: Int = 10, waitTimeout: Int = 300, checkpointEvery: Int = 0) {
        self.checkpointEvery = checkpointEvery
        self.minReplicas = minReplicas
        self.maxRestarts = maxRestarts
        self.waitTimeout = waitTimeout
    }
}

public struct DistillationSpec: Sendable, Equatable {
    public var mode: DistillationMode     // default offline
    public var temperature: Float         // > 0, ≤ 100, default 4
    public var alpha: Float               // [0, 1], default 0.9
    public var ensemble: EnsembleRule     // default mean-probs; validated against the teacher count
    public var topK: Int                  // key "top-k": 0 (full logits) or 1…classes-1, default 0
    public var float16: Bool              // logits as float16 on the wire, default false
    /// Online runs: weight β of each teacher's KL term toward the other teachers' ensemble —
    /// its loss is (1 − β)·CE + β·T²·KL(mean of the others' probabilities at T ‖ its own).
    /// [0, 1), default 0 (cross-entropy only).
    public var mutual: Float

    public init(mode: DistillationMode = .offline, temperature: Float = 4, alpha: Float = 0.9, ensemble: EnsembleRule = .meanProbabilities,
                topK: Int = 0, float16: Bool = false, mutual: Float = 0) {
        self.mode = mode; self.temperature = temperature; self.alpha = alpha; self.ensemble = ensemble
        self.topK = topK; self.float16 = float16; self.mutual = mutual
    }
}

public struct TrainingSpec: Sendable, Equatable {
    public var epochs: Int                // 1…10000, default 10
    public var batch: Int                 // global batch B, 1…65536, default 128; must be divisible by replicas
    public var learningRate: Float        // key "lr", default 1e-3
    public var optimizer: OptimizerChoice // default adamw
    public var weightDecay: Float         // key "weight-decay", default 0
    public var schedule: ScheduleChoice   // default cosine
    public var seed: UInt64               // default 1
    /// Key "label-fraction", default 1: the fraction of the training images whose labels the
    /// student sees (a stratified sample, `LabeledImages.stratifiedSample(fraction:seed:)`
    /// with `seed`); the hard-label term is dropped for the others.
    public var labelFraction: Float
    /// Key "baseline", default false: also train the student from scratch on the labelled
    /// images (cross-entropy, the same steps) and report it.
    public var baseline: Bool

    public init(epochs: Int = 10, batch: Int = 128, learningRate: Float = 1e-3, optimizer: OptimizerChoice = .runSpecDefault,
                weightDecay: Float = 0, schedule: ScheduleChoice = .runSpecDefault, seed: UInt64 = 1, labelFraction: Float = 1,
                baseline: Bool = false) {
        self.epochs = epochs; self.batch = batch; self.learningRate = learningRate; self.optimizer = optimizer
        self.weightDecay = weightDecay; self.schedule = schedule; self.seed = seed
        self.labelFraction = labelFraction; self.baseline = baseline
    }

    /// The Training settings of the student (global batch); the schedule's epochs become
    /// `stepsPerEpoch` steps.
    public func trainingSettings(stepsPerEpoch: Int) throws(SettingsError) -> TrainingSettings {
        try makeSettings(epochs: epochs, batch: batch, learningRate: learningRate, optimizer: optimizer,
                         weightDecay: weightDecay, schedule: schedule, seed: seed, stepsPerEpoch: stepsPerEpoch)
    }
}

private func makeSettings(epochs: Int, batch: Int, learningRate: Float, optimizer: OptimizerChoice, weightDecay: Float,
                          schedule: ScheduleChoice, seed: UInt64, stepsPerEpoch: Int) throws(SettingsError) -> TrainingSettings {
    let settings = TrainingSettings(
        epochs: epochs, batchSize: batch, learningRate: learningRate, optimizer: optimizer,
        weightDecay: weightDecay, schedule: schedule.schedule(stepsPerEpoch: max(1, stepsPerEpoch)), seed: seed)
    try settings.validate()
    return settings
}

extension OptimizerChoice {
    /// A run spec's optimizer when it names none: `adamw`.
    public static let runSpecDefault = OptimizerChoice.adamw(beta1: 0.9, beta2: 0.999)
}

extension ScheduleChoice {
    /// A run spec's schedule when it names none: `cosine` (no warm-up).
    public static let runSpecDefault = ScheduleChoice.cosine(warmupEpochs: 0)
}
