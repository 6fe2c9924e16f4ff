import NN

/// Which optimizer, and its settings.
public enum OptimizerChoice: Sendable, Equatable, CustomStringConvertible {
    case sgd(momentum: Float, nesterov: Bool)
    case adamw(beta1: Float, beta2: Float)

    public static let allowed = "sgd, momentum (sgd with momentum 0.9), nesterov (0.9), adamw"

    /// `sgd`, `momentum`, `nesterov`, `adamw`.
    public init(parsing text: String) throws(SettingsError) {
        switch text {
        case "sgd": self = .sgd(momentum: 0, nesterov: false)
        case "momentum": self = .sgd(momentum: 0.9, nesterov: false)
        case "nesterov": self = .sgd(momentum: 0.9, nesterov: true)
        case "adamw", "adam": self = .adamw(beta1: 0.9, beta2: 0.999)
        default: throw SettingsError("optimizer '\(text)' is unknown; allowed: \(OptimizerChoice.allowed)")
        }
    }

    public var description: String {
        switch self {
        case .sgd(let m, let n): return m == 0 ? "sgd" : (n ? "nesterov" : "momentum")
        case .adamw: return "adamw"
        }
    }
}

/// Everything that decides a training run besides the model and the data. The same
/// settings and seed give a bit-identical run.
public struct TrainingSettings: Sendable, Equatable {
    public var epochs: Int
    public var batchSize: Int
    public var learningRate: Float
    public var optimizer: OptimizerChoice
    public var weightDecay: Float
    public var schedule: LearningRateSchedule
    public var labelSmoothing: Float
    public var seed: UInt64

    public init(epochs: Int = 10, batchSize: Int = 128, learningRate: Float = 1e-3, optimizer: OptimizerChoice = .adamw(beta1: 0.9, beta2: 0.999),
                weightDecay: Float = 0, schedule: LearningRateSchedule = .constant, labelSmoothing: Float = 0, seed: UInt64 = 1) {
        self.epochs = epochs; self.batchSize = batchSize; self.learningRate = learningRate; self.optimizer = optimizer
        self.weightDecay = weightDecay; self.schedule = schedule; self.labelSmoothing = labelSmoothing; self.seed = seed
    }

    /// Checks every value; the error names the setting and what is allowed.
    public func validate() throws(SettingsError) {
        guard epochs >= 1 && epochs <= 10_000 else { throw SettingsError("epochs must be in 1…10000, got \(epochs)") }
        guard batchSize >= 1 && batchSize <= 65_536 else { throw SettingsError("batch size must be in 1…65536, got \(batchSize)") }
        guard learningRate > 0 && learningRate < 10 else { throw SettingsError("learning rate must be in (0, 10), got \(learningRate)") }
        guard weightDecay >= 0 && weightDecay < 1 else { throw SettingsError("weight decay must be in [0, 1), got \(weightDecay)") }
        guard labelSmoothing >= 0 && labelSmoothing < 1 else { throw SettingsError("label smoothing must be in [0, 1), got \(labelSmoothing)") }
    }

    public func makeOptimizer(parameterCount: Int) -> any Optimizer {
        switch optimizer {
        case .sgd(let m, let n): return SGD(parameterCount: parameterCount, momentum: m, nesterov: n, weightDecay: weightDecay)
        case .adamw(let b1, let b2): return AdamW(parameterCount: parameterCount, beta1: b1, beta2: b2, weightDecay: weightDecay)
        }
    }

    /// Parses a schedule's text (``ScheduleChoice`` grammar) and converts its epochs to
    /// optimizer steps: for command-line options, read as text.
    public static func parseSchedule(_ text: String, stepsPerEpoch: Int) throws(SettingsError) -> LearningRateSchedule {
        try ScheduleChoice(parsing: text).schedule(stepsPerEpoch: stepsPerEpoch)
    }
}

/// A setting that is out of range, with what is allowed.
public struct SettingsError: Error, Equatable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
