#if canImport(Glibc)
import Glibc
#endif
import Tensor

/// Batch normalisation (Ioffe & Szegedy 2015) over channel C of `[C]` or `[C, H, W]` inputs;
/// statistics are taken over the M = B·H·W values of each channel (PyTorch BatchNorm1d/2d).
///
/// Training:  μ = mean, σ² = biased variance, x̂ = (x − μ)/√(σ² + ε), y = γ·x̂ + β;
///            running_mean ← (1−m)·running_mean + m·μ, running_var ← (1−m)·running_var + m·σ²·M/(M−1).
/// Inference: x̂ = (x − running_mean)/√(running_var + ε).
/// Backward (training): dγ += Σ dy·x̂, dβ += Σ dy, dx = γ/(M·√(σ²+ε)) · (M·dy − Σdy − x̂·Σ(dy·x̂)).
/// Backward (inference): dx = dy·γ/√(running_var + ε).
public final class BatchNorm: Layer {
    public let inputShape: [Int]
    public let channels: Int
    public let epsilon: Float
    public let momentum: Float
    private var gamma, beta, dGamma, dBeta, runningMean, runningVar: UnsafeMutablePointer<Float>!
    private var xhat = FloatBuffer()
    private var invStd: [Float] = []
    private var lastWasTraining = false

    public init(shape: [Int], epsilon: Float = 1e-5, momentum: Float = 0.1) throws(ModelSpecError) {
        guard shape.count == 1 || shape.count == 3, shape[0] > 0 else {
            throw .invalid("batch norm needs a [features] or [channels, height, width] input, got \(shape)")
        }
        inputShape = shape; channels = shape[0]; self.epsilon = epsilon; self.momentum = momentum
        invStd = [Float](repeating: 0, count: channels)
    }

    private var spatial: Int { inputShape.dropFirst().reduce(1, *) }

    public var kind: String { inputShape.count == 1 ? "BatchNorm1D" : "BatchNorm2D" }
    public var details: String { "\(channels)" }
    public var outputShape: [Int] { inputShape }
    public var parameterSlots: [TensorSlot] { [TensorSlot("weight", [channels]), TensorSlot("bias", [channels])] }
    public var stateSlots: [TensorSlot] { [TensorSlot("running_mean", [channels]), TensorSlot("running_var", [channels])] }
    public var flopsPerSample: Int { 4 * inputFeatures }

    public func bind(_ b: LayerBinding) {
        gamma = b.parameters; beta = b.parameters + channels
        dGamma = b.gradients; dBeta = b.gradients + channels
        runningMean = b.state; runningVar = b.state + channels
    }

    public func resetParameters(using rng: inout SplitMix64) {
        gamma.update(repeating: 1, count: channels); beta.update(repeating: 0, count: channels)
        runningMean.update(repeating: 0, count: channels); runningVar.update(repeating: 1, count: channels)
    }

    public func forward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, batch: Int, mode: Mode) {
        let C = channels, S = spatial, n = batch * C * S
        let xh = xhat.reserve(n)
        lastWasTraining = mode == .training
        let M = batch * S
        for c in 0..<C {
            var mean: Float, variance: Float
            if lastWasTraining {
                // Two passes, per-sample partial sums in Float (SIMD), combined in Double.
                var sum: Double = 0
                for b in 0..<batch { sum += Double(Vector.sum(x + (b * C + c) * S, S)) }
                let mu = Float(sum / Double(M))
                var sq: Double = 0
                for b in 0..<batch { sq += Double(Vector.sumSquaredDeviations(x + (b * C + c) * S, mean: mu, S)) }
                mean = mu; variance = Float(sq / Double(M))
                let unbiased = M > 1 ? Float(sq / Double(M - 1)) : variance
                runningMean[c] = (1 - momentum) * runningMean[c] + momentum * mean
                runningVar[c] = (1 - momentum) * runningVar[c] + momentum * unbiased
            } else {
                mean = runningMean[c]; variance = runningVar[c]
            }
            invStd[c] = BatchNormKernel.normalizeChannel(
                x, y, normalized: xh, channel: c, channels: C, spatial: S, batch: batch,
                mean: mean, variance: variance, epsilon: epsilon, gain: gamma[c], bias: beta[c])
        }
    }

    public func backward(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
                         _ dx: UnsafeMutablePointer<Float>?, batch: Int) {
        let C = channels, S = spatial, M = Float(batch * S)
        let xh = xhat.pointer
        for c in 0..<C {
            var sumDy: Float = 0, sumDyXhat: Float = 0
            for b in 0..<batch {
                let o = (b * C + c) * S
                sumDy += Vector.sum(dy + o, S)
                sumDyXhat += Vector.dot(dy + o, xh + o, S)
            }
            dGamma[c] += sumDyXhat; dBeta[c] += sumDy
            guard let dx else { continue }
            let g = gamma[c], inv = invStd[c]
            if lastWasTraining {
                // dx = k·(M·dy − Σdy − x̂·Σ(dy·x̂)) = (k·M)·dy + (−k·Σ(dy·x̂))·x̂ − k·Σdy
                let k = g * inv / M
                for b in 0..<batch {
                    let o = (b * C + c) * S
                    Vector.affine2(k * M, dy + o, -k * sumDyXhat, xh + o, -k * sumDy, dx + o, S)
                }
            } else {
                for b in 0..<batch {
                    let o = (b * C + c) * S
                    Vector.affine2(g * inv, dy + o, 0, xh + o, 0, dx + o, S)
                }
            }
        }
    }
}
