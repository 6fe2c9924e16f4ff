import NN

/// Which learning-rate schedule, in epochs: the `schedule:` of a run spec and `--schedule` of
/// `train`/`distill`. Parsed once from its text; ``schedule(stepsPerEpoch:)`` turns it into the
/// optimizer-step ``LearningRateSchedule`` once the number of steps per epoch is known.
///
/// Grammar: `constant` | `cosine` | `cosine:WARMUP_EPOCHS` (WARMUP ≥ 0, may be fractional) |
/// `step:EPOCHS:GAMMA` (EPOCHS > 0, 0 < GAMMA ≤ 1). ``description`` is the canonical spelling:
/// `cosine:0` is `cosine`, numbers as Swift prints them with a whole number written without
/// its `.0` (`step:3.0:0.50` is `step:3:0.5`); parsing it gives back an equal value.
public enum ScheduleChoice: Sendable, Equatable, CustomStringConvertible {
    case constant
    /// Linear warm-up over `warmupEpochs` epochs, then cosine decay to 0.
    case cosine(warmupEpochs: Double)
    /// The rate times `gamma` every `everyEpochs` epochs.
    case step(everyEpochs: Double, gamma: Float)

    public static let allowed = "constant, cosine, cosine:WARMUP_EPOCHS, step:EPOCHS:GAMMA"

    /// Parses the grammar above; the error quotes the text and says what is allowed.
    public init(parsing text: String) throws(SettingsError) {
        let parts = text.split(separator: ":").map(String.init)
        switch parts.first {
        case "constant" where parts.count == 1:
            self = .constant
        case "cosine" where parts.count <= 2:
            let warm = parts.count == 2 ? Double(parts[1]) : 0
            // Finite too: an infinite warm-up cannot become a number of steps.
            guard let warm, warm >= 0, warm.isFinite else {
                throw SettingsError("schedule '\(text)': warm-up must be a number of epochs ≥ 0")
            }
            self = .cosine(warmupEpochs: warm)
        case "step" where parts.count == 3:
            guard let every = Double(parts[1]), every > 0, every.isFinite, let gamma = Float(parts[2]), gamma > 0, gamma <= 1 else {
                throw SettingsError("schedule '\(text)': expected step:EPOCHS:GAMMA with EPOCHS > 0 and 0 < GAMMA ≤ 1")
            }
            self = .step(everyEpochs: every, gamma: gamma)
        default:
            throw SettingsError("schedule '\(text)' is unknown; allowed: \(ScheduleChoice.allowed)")
        }
    }

    public var description: String {
        switch self {
        case .constant: return "constant"
        case .cosine(let warm): return warm == 0 ? "cosine" : "cosine:\(ScheduleChoice.show(warm))"
        case .step(let every, let gamma): return "step:\(ScheduleChoice.show(every)):\(gamma)"
        }
    }

    /// The schedule in optimizer steps: epochs times `stepsPerEpoch`, rounded down (a step
    /// schedule changes the rate every step at the least). Epoch counts beyond `Int` saturate.
    public func schedule(stepsPerEpoch: Int) -> LearningRateSchedule {
        switch self {
        case .constant: return .constant
        case .cosine(let warm): return .cosine(warmup: ScheduleChoice.steps(warm, stepsPerEpoch), minimum: 0)
        case .step(let every, let gamma): return .step(every: max(1, ScheduleChoice.steps(every, stepsPerEpoch)), gamma: gamma)
        }
    }

    static func steps(_ epochs: Double, _ stepsPerEpoch: Int) -> Int {
        let steps = epochs * Double(stepsPerEpoch)
        return steps < Double(Int.max / 2) ? Int(steps) : Int.max / 2
    }

    /// A whole number without a fraction ("3"), any other as Swift prints it ("0.5").
    static func show(_ v: Double) -> String {
        v == v.rounded() && abs(v) < 1e15 ? String(Int(v)) : "\(v)"
    }
}
