import Tensor

/// Fully connected layer `y = x·Wᵀ + b`.
///
/// Dimensions: B = batch, I = inputs, O = outputs. `W[O×I]` (PyTorch layout), `b[O]`.
/// Backward: `dW += dyᵀ·x`, `db += Σ_B dy`, `dx = dy·W`.
/// Initialisation (PyTorch default): W, b ~ U(−1/√I, 1/√I).
public final class Linear: Layer {
    public let inputCount: Int
    public let outputCount: Int
    public let inputShape: [Int]
    private var weight: UnsafeMutablePointer<Float>!
    private var bias: UnsafeMutablePointer<Float>!
    private var dWeight: UnsafeMutablePointer<Float>!
    private var dBias: UnsafeMutablePointer<Float>!

    public init(_ inputs: Int, _ outputs: Int) {
        precondition(inputs > 0 && outputs > 0)
        inputCount = inputs; outputCount = outputs; inputShape = [inputs]
    }

    public var kind: String { "Linear" }
    public var details: String { "\(inputCount)→\(outputCount)" }
    public var outputShape: [Int] { [outputCount] }
    public var parameterSlots: [TensorSlot] { [TensorSlot("weight", [outputCount, inputCount]), TensorSlot("bias", [outputCount])] }
    public var flopsPerSample: Int { 2 * inputCount * outputCount + outputCount }

    public func bind(_ b: LayerBinding) {
        weight = b.parameters; bias = b.parameters + outputCount * inputCount
        dWeight = b.gradients; dBias = b.gradients + outputCount * inputCount
    }

    public func resetParameters(using rng: inout SplitMix64) {
        let bound = 1 / Float(inputCount).squareRoot()
        for i in 0..<(outputCount * inputCount) { weight[i] = rng.uniform(-bound, bound) }
        for i in 0..<outputCount { bias[i] = rng.uniform(-bound, bound) }
    }

    public func forward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, batch: Int, mode: Mode) {
        affineRows(.no, .yes, m: batch, n: outputCount, k: inputCount, x, weight, bias: bias, y)
    }

    public func backward(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
                         _ dx: UnsafeMutablePointer<Float>?, batch: Int) {
        gemm(.yes, .no, m: outputCount, n: inputCount, k: batch, dy, x, beta: 1, dWeight)
        Rows.sumColumns(dy, rows: batch, cols: outputCount, into: dBias, accumulate: true)
        if let dx { gemm(.no, .no, m: batch, n: inputCount, k: outputCount, dy, weight, dx) }
    }
}
