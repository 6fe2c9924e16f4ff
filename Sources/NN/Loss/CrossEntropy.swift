#if canImport(Glibc)
import Glibc
#endif
import Tensor

/// Softmax cross-entropy over logits `z[B×C]` with integer labels, averaged over the batch,
/// with optional label smoothing ε (Szegedy et al. 2016; PyTorch's definition):
///
///     q_c = (1 − ε)·[c = y] + ε/C,   p = softmax(z),   L = −(1/B) Σ_b Σ_c q_c · log p_c
///     ∂L/∂z = (p − q)/B
public enum CrossEntropy {
    /// Returns the mean loss and, when `gradient` is given, writes `scale · ∂L/∂z` into it
    /// (`scale` lets a caller blend this loss with others without another pass).
    @discardableResult
    public static func loss(
        logits z: UnsafePointer<Float>, labels: UnsafePointer<Int32>, batch: Int, classes: Int,
        smoothing: Float = 0, gradient: UnsafeMutablePointer<Float>? = nil, scale: Float = 1
    ) -> Float {
        precondition(smoothing >= 0 && smoothing < 1, "label smoothing must be in [0, 1)")
        var total: Double = 0
        let off = smoothing / Float(classes), on = 1 - smoothing + off
        let g = scale / Float(batch)
        var logP = [Float](repeating: 0, count: classes)
        for b in 0..<batch {
            let y = Int(labels[b])
            precondition(y >= 0 && y < classes, "label \(y) outside 0..<\(classes)")
            Rows.logSoftmax(z + b * classes, &logP, rows: 1, cols: classes)
            if smoothing == 0 {
                total -= Double(logP[y])
            } else {
                for c in 0..<classes { total -= Double((c == y ? on : off) * logP[c]) }
            }
            if let gradient {
                let gr = gradient + b * classes
                for c in 0..<classes {
                    let q: Float = smoothing == 0 ? (c == y ? 1 : 0) : (c == y ? on : off)
                    gr[c] = (expf(logP[c]) - q) * g
                }
            }
        }
        return Float(total / Double(batch))
    }

    /// Number of rows whose arg-max equals the label.
    public static func correctCount(logits z: UnsafePointer<Float>, labels: UnsafePointer<Int32>, batch: Int, classes: Int) -> Int {
        let predicted = Rows.argmax(z, rows: batch, cols: classes)
        var correct = 0
        for b in 0..<batch where predicted[b] == Int(labels[b]) { correct += 1 }
        return correct
    }
}
