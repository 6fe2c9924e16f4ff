import Tensor

/// Rectified linear unit `y = max(x, 0)`; `dx = dy · [x > 0]`.
public final class ReLU: ParameterlessLayer {
    public let inputShape: [Int]
    public init(shape: [Int]) { inputShape = shape }
    public var kind: String { "ReLU" }
    public var details: String { "" }
    public var outputShape: [Int] { inputShape }
    public var flopsPerSample: Int { inputFeatures }

    public func forward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, batch: Int, mode: Mode) {
        let n = batch * inputFeatures
        let xs = SendablePointer(x), ys = SendablePointer(y)
        Parallel.chunks(n) { r in Vector.relu(xs.base + r.lowerBound, ys.base + r.lowerBound, r.count) }
    }

    public func backward(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
                         _ dx: UnsafeMutablePointer<Float>?, batch: Int) {
        guard let dx else { return }
        let n = batch * inputFeatures
        let xs = SendablePointer(x), dys = SendablePointer(dy), dxs = SendablePointer(dx)
        Parallel.chunks(n) { r in
            Vector.reluBackward(xs.base + r.lowerBound, dys.base + r.lowerBound, dxs.base + r.lowerBound, r.count)
        }
    }
}

/// Flattens `[C, H, W]` (or any shape) to `[C·H·W]`; the data is already row-major, so
/// forward and backward are copies.
public final class Flatten: ParameterlessLayer {
    public let inputShape: [Int]
    public init(shape: [Int]) { inputShape = shape }
    public var kind: String { "Flatten" }
    public var details: String { "" }
    public var outputShape: [Int] { [inputFeatures] }
    public var flopsPerSample: Int { 0 }
    public func isIdentity(in mode: Mode) -> Bool { true }

    public func forward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, batch: Int, mode: Mode) {
        y.update(from: x, count: batch * inputFeatures)
    }
    public func backward(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
                         _ dx: UnsafeMutablePointer<Float>?, batch: Int) {
        dx?.update(from: dy, count: batch * inputFeatures)
    }
}

/// Inverted dropout (Srivastava et al. 2014): in training each element is kept with
/// probability 1−p and scaled by 1/(1−p), so inference is the identity.
/// `y = x · m`, `dx = dy · m` with `m ∈ {0, 1/(1−p)}` drawn from the layer's own seeded
/// stream, so a run with the same seed draws the same masks.
public final class Dropout: ParameterlessLayer {
    public let inputShape: [Int]
    public let probability: Float
    private var rng: SplitMix64
    private var mask = FloatBuffer()
    private var lastWasTraining = false
    /// Data parallelism: the forward's `batch` rows are rows `offset..<offset+batch` of a global
    /// batch of `total` rows. The mask stream then skips the other rows' draws, so each row gets
    /// the mask it would get if the whole global batch ran here, and after the forward the
    /// stream stands where the global batch's forward would leave it.
    public var rowWindow: (offset: Int, total: Int)?

    public init(shape: [Int], probability: Float, seed: UInt64) {
        precondition(probability >= 0 && probability < 1, "dropout probability must be in [0, 1)")
        inputShape = shape; self.probability = probability; rng = SplitMix64(seed: seed)
    }
    public var kind: String { "Dropout" }
    public var details: String { "p=\(probability)" }
    public var outputShape: [Int] { inputShape }
    public var flopsPerSample: Int { inputFeatures }

    public func isIdentity(in mode: Mode) -> Bool { mode == .inference || probability == 0 }

    /// Where the mask stream stands (the SplitMix64 counter): read and set to move a replica's
    /// stream to another's position.
    public var streamState: UInt64 {
        get { rng.state }
        set { rng.state = newValue }
    }

    /// Restarts the mask stream (used when a checkpointed run resumes or a model is rebuilt).
    public func reseed(_ seed: UInt64) { rng = SplitMix64(seed: seed) }

    public func forward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, batch: Int, mode: Mode) {
        let n = batch * inputFeatures
        lastWasTraining = mode == .training && probability > 0
        guard lastWasTraining else { y.update(from: x, count: n); return }
        let m = mask.reserve(n)
        let keep = 1 / (1 - probability)
        // 24-bit uniforms compared against p: P(keep) = 1 − p up to 2⁻²⁴.
        let threshold = UInt64((Double(probability) * 16_777_216).rounded())
        if let w = rowWindow {
            precondition(w.offset >= 0 && w.offset + batch <= w.total, "row window \(w) does not hold \(batch) rows")
            rng.skip(w.offset * inputFeatures)
        }
        for i in 0..<n { m[i] = (rng.next() >> 40) >= threshold ? keep : 0 }
        if let w = rowWindow { rng.skip((w.total - w.offset - batch) * inputFeatures) }
        Vector.multiply(x, m, y, n)
    }

    public func backward(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
                         _ dx: UnsafeMutablePointer<Float>?, batch: Int) {
        guard let dx else { return }
        let n = batch * inputFeatures
        if lastWasTraining { Vector.multiply(dy, mask.pointer, dx, n) } else { dx.update(from: dy, count: n) }
    }
}
