import NN
import Tensor

/// Central finite differences: `∂f/∂xᵢ ≈ (f(x + h·eᵢ) − f(x − h·eᵢ)) / 2h`, evaluated for the
/// elements `indices` of the buffer at `x` (restored afterwards). `f` is accumulated in Double.
public func numericGradient(at x: UnsafeMutablePointer<Float>, indices: [Int], step h: Float = 1e-2,
                            _ f: () -> Double) -> [Float] {
    indices.map { i in
        let saved = x[i]
        x[i] = saved + h; let up = f()
        x[i] = saved - h; let down = f()
        x[i] = saved
        return Float((up - down) / Double(2 * h))
    }
}

/// Up to `limit` indices spread over `0..<count` (all of them when count ≤ limit).
public func sampleIndices(_ count: Int, limit: Int = 64, seed: UInt64 = 7) -> [Int] {
    if count <= limit { return Array(0..<count) }
    var rng = SplitMix64(seed: seed)
    return (0..<limit).map { _ in rng.nextInt(below: count) }
}

/// The outcome of comparing analytic and numeric gradients of a model.
public struct GradientCheck {
    public var input: (analytic: [Float], numeric: [Float])
    public var parameters: (analytic: [Float], numeric: [Float])
}

/// Finite-difference check of a whole `Sequential` for the scalar `L = Σ y ⊙ r` with a fixed
/// random projection `r`: the analytic input gradient and parameter gradients from `backward`
/// are returned beside their numeric estimates. `beforeForward` runs before every forward
/// (e.g. to reseed dropout so every evaluation draws the same mask).
public func gradientCheck(_ model: Sequential, input: [Float], batch: Int, mode: Mode = .training,
                          step h: Float = 1e-2, samples: Int = 64, seed: UInt64 = 11,
                          beforeForward: () -> Void = {}) -> GradientCheck {
    // A buffer of its own: the probe mutates it while `loss` reads it.
    let x = UnsafeMutableBufferPointer<Float>.allocate(capacity: input.count)
    _ = x.initialize(from: input)
    defer { x.deallocate() }
    var rng = SplitMix64(seed: seed)
    let outCount = batch * model.outputFeatures
    let r = (0..<outCount).map { _ in rng.uniform(-1, 1) }
    func loss() -> Double {
        beforeForward()
        let y = model.forward(x.baseAddress!, batch: batch, mode: mode)
        var s: Double = 0
        for i in 0..<outCount { s += Double(y[i]) * Double(r[i]) }
        return s
    }
    // Analytic.
    model.zeroGradients()
    beforeForward()
    _ = model.forward(x.baseAddress!, batch: batch, mode: mode)
    var dx = [Float](repeating: 0, count: x.count)
    r.withUnsafeBufferPointer { rp in dx.withUnsafeMutableBufferPointer { model.backward(rp.baseAddress!, inputGradient: $0.baseAddress!) } }
    let pIdx = sampleIndices(model.parameterCount, limit: samples, seed: seed &+ 1)
    let analyticParams = pIdx.map { model.gradients.pointer[$0] }
    // Numeric. BatchNorm running statistics drift while probing; they do not affect training-mode outputs.
    let xIdx = sampleIndices(x.count, limit: samples, seed: seed &+ 2)
    let numericX = numericGradient(at: x.baseAddress!, indices: xIdx, step: h, loss)
    let numericP = numericGradient(at: model.parameters.pointer, indices: pIdx, step: h, loss)
    return GradientCheck(input: (xIdx.map { dx[$0] }, numericX), parameters: (analyticParams, numericP))
}
