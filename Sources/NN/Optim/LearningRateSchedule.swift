#if canImport(Glibc)
import Glibc
#endif

/// Learning rate as a function of the optimizer step `t` (0-based) out of `T` total steps.
public enum LearningRateSchedule: Sendable, Equatable, CustomStringConvertible {
    /// `η_t = η`
    case constant
    /// `η_t = η · γ^⌊t / every⌋` (PyTorch `StepLR`).
    case step(every: Int, gamma: Float)
    /// Linear warm-up then cosine decay to `minimum` (PyTorch `CosineAnnealingLR` when warmup = 0):
    ///
    ///     t < W:  η_t = η · (t + 1)/W
    ///     t ≥ W:  η_t = η_min + (η − η_min) · (1 + cos(π · (t − W)/(T − W))) / 2
    case cosine(warmup: Int, minimum: Float)

    public func rate(base: Float, step t: Int, totalSteps: Int) -> Float {
        switch self {
        case .constant:
            return base
        case .step(let every, let gamma):
            return base * powf(gamma, Float(t / max(1, every)))
        case .cosine(let warmup, let minimum):
            if t < warmup { return base * Float(t + 1) / Float(warmup) }
            let span = max(1, totalSteps - warmup)
            let progress = min(1, Double(t - warmup) / Double(span))
            return minimum + (base - minimum) * Float((1 + cos(Double.pi * progress)) / 2)
        }
    }

    public var description: String {
        switch self {
        case .constant: return "constant"
        case .step(let every, let gamma): return "step(every=\(every), gamma=\(gamma))"
        case .cosine(let warmup, let minimum): return "cosine(warmup=\(warmup), min=\(minimum))"
        }
    }
}
