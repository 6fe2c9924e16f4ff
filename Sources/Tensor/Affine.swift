/// Fully connected forward with a row-broadcast bias, the one kernel of NN's `Linear` and
/// ONNX's `Gemm` with a `[N]` bias:
///
///     Y[M×N] = alpha · op(A)[M×K] · op(B)[K×N] + beta · 1·biasᵀ      (bias nil: no bias term)
///
/// Dimensions: M = rows (the batch), K = inputs, N = outputs; `Linear` passes A = x[M×K] and
/// B = W[N×K] transposed. Every row of Y is first set to `bias`, then one GEMM adds the product.
@inlinable
public func affineRows(
    _ transA: Transpose, _ transB: Transpose, m: Int, n: Int, k: Int, alpha: Float = 1,
    _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, bias: UnsafePointer<Float>?, beta: Float = 1,
    _ y: UnsafeMutablePointer<Float>
) {
    guard let bias else {
        gemm(transA, transB, m: m, n: n, k: k, alpha: alpha, a, b, y)
        return
    }
    for r in 0..<m { (y + r * n).update(from: bias, count: n) }
    gemm(transA, transB, m: m, n: n, k: k, alpha: alpha, a, b, beta: beta, y)
}
