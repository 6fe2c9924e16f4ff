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
///   name: fashion-mnist       # the only data set so far (10 classes, samples 1x28x28 = 784 features)
///   path: /usr/share/datasets/fashion-mnist   # directory with the IDX files (.gz or raw), on the coordinator
///   train-limit: 0            # 0 = all 60000 training images, else the first N (1…60000)
///   validation: 5000          # images held out of those for validation: 0…(training images − 1)
/// teachers:                   # 1…32 teachers after `count` expansion
///   - model: MODEL            # required; NN.ModelSpec grammar, e.g. mlp:784-1200-1200-10,dropout=0.2
///     count: 1                # 1…32; a trained teacher N times, with seeds seed, seed+1, …, seed+N−1
///     checkpoint: PATH        # either a checkpoint (safetensors on the coordinator) …
///     train:                  # … or a recipe to train it from (`train: {}` = all defaults); not both
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
/// replicas: 1                 # 1…64 student replicas (data parallel)
/// prefetch: 4                 # 1…64: how many steps teachers may run ahead (window W)
/// ```
///
/// Cross-field rules: every model's input is the data set's sample (784 features for `mlp`,
/// exactly `1x28x28` for `cnn`, and a `cnn`'s blocks must fit it); every model outputs the
/// data set's classes (10), so teachers and student agree; `weighted:` gives one weight per
/// teacher (after expansion); `top-k` < classes; `training.batch` is divisible by `replicas`.
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

    /// A spec from values (not validated: see ``problems()``).
    public init(name: String, dataset: DatasetSpec = DatasetSpec(), teachers: [TeacherSpec], student: StudentSpec,
                distillation: DistillationSpec = DistillationSpec(), training: TrainingSpec = TrainingSpec(),
                replicas: Int = 1, prefetch: Int = 4) {
        self.name = name; self.dataset = dataset; self.teachers = teachers; self.student = student
        self.distillation = distillation; self.training = training; self.replicas = replicas; self.prefetch = prefetch
    }

    /// Parses and validates. `fileName` is only used in messages. Collects ALL problems it
    /// can find (not just the first) and throws them together.
    public init(yaml: String, fileName: String = "run spec") throws(RunSpecErrors) {
        self = try SpecParser.parse(yaml: yaml, fileName: fileName)
    }

    /// Everything wrong with this value, as parsing would report it but without lines (the
    /// teacher indices are those of the expanded list). Empty for every parsed spec.
    public func problems() -> [RunSpecError] {
        SpecValidator(spec: self, teacherPath: { "teachers[\($0)]" }, skip: { _ in false }).run()
            .map { RunSpecError(field: $0.field, message: $0.message) }
    }
}

public struct DatasetSpec: Sendable, Equatable {
    public var name: String          // only "fashion-mnist" for now
    public var path: String          // default "/usr/share/datasets/fashion-mnist"
    public var trainLimit: Int       // 0 = all training images; else the first N (tests, quick runs)
    public var validation: Int       // images held out of the training split for validation, default 5000

    public static let defaultName = "fashion-mnist"
    public static let defaultPath = "/usr/share/datasets/fashion-mnist"

    public init(name: String = DatasetSpec.defaultName, path: String = DatasetSpec.defaultPath,
                trainLimit: Int = 0, validation: Int = 5000) {
        self.name = name; self.path = path; self.trainLimit = trainLimit; self.validation = validation
    }

    /// What is known about the named data set (`nil` for an unknown name).
    var facts: DatasetFacts? { DatasetFacts.known[name] }

    /// The number of classes of the data set (10 for Fashion-MNIST; 0 if the name is unknown).
    public var classCount: Int { facts?.classes ?? 0 }
    /// The shape of one sample, `[channels, height, width]` (`[]` if the name is unknown).
    public var sampleShape: [Int] { facts?.sampleShape ?? [] }
    /// Images read from the published training split: `trainLimit`, or all of them when 0.
    public var trainSplitCount: Int {
        let all = facts?.trainCount ?? 0
        return trainLimit > 0 ? min(trainLimit, all) : all
    }
    /// Images left for training once `validation` are held out.
    public var trainingCount: Int { max(0, trainSplitCount - validation) }
}

/// Facts about a data set the spec may name.
struct DatasetFacts: Sendable {
    var trainCount: Int
    var testCount: Int
    var classes: Int
    var sampleShape: [Int]
    /// File stems in the data directory, each present as `STEM.gz` or `STEM`.
    var fileStems: [String]

    static let known: [String: DatasetFacts] = [
        "fashion-mnist": DatasetFacts(
            trainCount: 60_000, testCount: 10_000, classes: 10, sampleShape: [1, 28, 28],
            fileStems: ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]),
    ]
}

public struct TeacherSpec: Sendable, Equatable {
    /// Where the teacher comes from.
    public enum Source: Sendable, Equatable {
        case checkpoint(path: String)                 // a safetensors file on the coordinator
        case train(TeacherRecipe)
    }
    public var model: ModelSpec
    public var source: Source

    public init(model: ModelSpec, source: Source) {
        self.model = model; self.source = source
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

    public init(epochs: Int = 10, batch: Int = 128, learningRate: Float = 1e-3, optimizer: OptimizerChoice = .runSpecDefault,
                weightDecay: Float = 0, schedule: ScheduleChoice = .runSpecDefault, seed: UInt64 = 1) {
        self.epochs = epochs; self.batch = batch; self.learningRate = learningRate; self.optimizer = optimizer
        self.weightDecay = weightDecay; self.schedule = schedule; self.seed = seed
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
