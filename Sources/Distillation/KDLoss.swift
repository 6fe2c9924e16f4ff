#if canImport(Glibc)
import Glibc
#endif
import Tensor

/// The knowledge-distillation loss of Hinton, Vinyals & Dean (2015), "Distilling the
/// Knowledge in a Neural Network", with a fused forward/backward:
///
///     p_t = teacher target at temperature T (probabilities),  p_s = softmax(z/T)
///     L   = α · T² · KL(p_t ‖ p_s) + (1 − α) · CE_ε(y, softmax(z))
///     KL  = (1/B) Σ_b Σ_c p_t · (log p_t − log p_s)                ("batchmean")
///     ∂L/∂z = α · T · (p_s − p_t)/B + (1 − α) · (softmax(z) − q_ε)/B
///
/// The T² factor keeps the soft term's gradient magnitude independent of T (Hinton §2).
/// CE_ε is cross-entropy with label smoothing ε (0 = none).
public struct KDLoss: Sendable, Equatable {
    public var temperature: Float
    public var alpha: Float
    public var labelSmoothing: Float

    public init(temperature: Float, alpha: Float, labelSmoothing: Float = 0) {
        self.temperature = temperature; self.alpha = alpha; self.labelSmoothing = labelSmoothing
    }

    /// Validation message, or nil when the settings are usable.
    public var problem: String? {
        if !(temperature > 0 && temperature <= 100) { return "temperature must be in (0, 100], got \(temperature)" }
        if !(alpha >= 0 && alpha <= 1) { return "alpha must be in [0, 1], got \(alpha)" }
        if !(labelSmoothing >= 0 && labelSmoothing < 1) { return "label smoothing must be in [0, 1), got \(labelSmoothing)" }
        return nil
    }

    /// Loss parts, each already averaged over the batch (soft is α-free and T²-scaled).
    public struct Value: Sendable { public var total: Float; public var soft: Float; public var hard: Float }

    /// Forward and backward in one pass. `target[B×C]` holds the teacher probabilities at
    /// temperature T; `labels` may be nil only when α = 1 (pure soft targets, e.g. unlabelled
    /// transfer data), or per-sample absent where `labelMask[b] == 0`.
    @discardableResult
    public func evaluate(
        student z: UnsafePointer<Float>, target: UnsafePointer<Float>, labels: UnsafePointer<Int32>?,
        batch: Int, classes: Int, gradient: UnsafeMutablePointer<Float>?, labelMask: UnsafePointer<Float>? = nil
    ) -> Value {
        let T = temperature, invT = 1 / T
        var softSum: Double = 0, hardSum: Double = 0, labelled = 0
        let off = labelSmoothing / Float(classes), on = 1 - labelSmoothing + off
        var logPs = [Float](repeating: 0, count: classes)
        for b in 0..<batch {
            let zr = z + b * classes, pt = target + b * classes
            // log softmax(z/T)
            var m = -Float.infinity
            for c in 0..<classes { m = max(m, zr[c] * invT) }
            var s: Float = 0
            for c in 0..<classes { s += expf(zr[c] * invT - m) }
            let logZ = m + logf(s)
            var kl: Double = 0
            for c in 0..<classes {
                logPs[c] = zr[c] * invT - logZ
                let p = pt[c]
                if p > 0 { kl += Double(p) * Double(logf(p) - logPs[c]) }
            }
            softSum += kl
            let hasLabel = labels != nil && alpha < 1 && (labelMask?[b] ?? 1) > 0
            var m1 = -Float.infinity, logZ1: Float = 0
            if hasLabel {
                for c in 0..<classes { m1 = max(m1, zr[c]) }
                var s1: Float = 0
                for c in 0..<classes { s1 += expf(zr[c] - m1) }
                logZ1 = m1 + logf(s1)
                let y = Int(labels![b])
                if labelSmoothing == 0 {
                    hardSum += Double(logZ1 - zr[y])
                } else {
                    for c in 0..<classes { hardSum -= Double((c == y ? on : off) * (zr[c] - logZ1)) }
                }
                labelled += 1
            }
            if let gradient {
                let gr = gradient + b * classes
                let softScale = alpha * T / Float(batch)
                for c in 0..<classes { gr[c] = softScale * (expf(logPs[c]) - pt[c]) }
                if hasLabel {
                    let hardScale = (1 - alpha) / Float(batch)
                    let y = Int(labels![b])
                    for c in 0..<classes {
                        let q: Float = labelSmoothing == 0 ? (c == y ? 1 : 0) : (c == y ? on : off)
                        gr[c] += hardScale * (expf(zr[c] - logZ1) - q)
                    }
                }
            }
        }
        let soft = Float(softSum / Double(batch)) * T * T
        let hard = Float(hardSum / Double(batch))
        return Value(total: alpha * soft + (1 - alpha) * hard, soft: soft, hard: hard)
    }
}
