import Tensor

/// The batch-normalisation transform of one channel, shared by NN's `BatchNorm` (training and
/// inference) and ONNX's BatchNormalization (inference):
///
///     x̂ = (x − μ) · 1/√(σ² + ε),   y = γ·x̂ + β
///
/// over the B·S values of channel c in x[B, C, S] (S = H·W, or 1 for features).
public enum BatchNormKernel {
    /// Writes y (and x̂ into `normalized`, which may be `y`) for channel `channel`; returns 1/√(σ² + ε).
    @discardableResult
    public static func normalizeChannel(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                                        normalized: UnsafeMutablePointer<Float>, channel c: Int, channels C: Int,
                                        spatial S: Int, batch: Int, mean: Float, variance: Float, epsilon: Float,
                                        gain: Float, bias: Float) -> Float {
        let inv = 1 / (variance + epsilon).squareRoot()
        for b in 0..<batch {
            let o = (b * C + c) * S
            Vector.normalizeAffine(x + o, shift: mean, scale: inv, gain: gain, bias: bias, normalized: normalized + o, y + o, S)
        }
        return inv
    }
}
