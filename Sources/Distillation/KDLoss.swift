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
/// CE_ε is cross-entropy with label smoothing ε (0 = none). With a label mask, samples
/// whose label is hidden contribute only the soft term; both terms stay divided by the
/// whole batch B, so a labelled sample weighs the same whatever the mask.
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
        let T = temperature
        var softSum: Double = 0, hardSum: Double = 0
        let off = labelSmoothing / Float(classes), on = 1 - labelSmoothing + off
        var logPs = [Float](repeating: 0, count: classes)   // log softmax(z/T) of the current row
        var logP1 = [Float](repeating: 0, count: classes)   // log softmax(z) of the current row
        for b in 0..<batch {
            let zr = z + b * classes, pt = target + b * classes
            Rows.logSoftmax(zr, &logPs, rows: 1, cols: classes, temperature: T)
            var kl: Double = 0
            for c in 0..<classes where pt[c] > 0 { kl += Double(pt[c]) * Double(logf(pt[c]) - logPs[c]) }
            softSum += kl
            let hasLabel = labels != nil && alpha < 1 && (labelMask?[b] ?? 1) > 0
            if hasLabel {
                Rows.logSoftmax(zr, &logP1, rows: 1, cols: classes)
                let y = Int(labels![b])
                if labelSmoothing == 0 {
                    hardSum -= Double(logP1[y])
                } else {
                    for c in 0..<classes { hardSum -= Double((c == y ? on : off) * logP1[c]) }
                }
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
                        gr[c] += hardScale * (expf(logP1[c]) - q)
                    }
                }
            }
        }
        let soft = Float(softSum / Double(batch)) * T * T
        let hard = Float(hardSum / Double(batch))
        return Value(total: alpha * soft + (1 - alpha) * hard, soft: soft, hard: hard)
    }
}
