#if canImport(Glibc)
import Glibc
#endif
import NN
import Tensor

/// Element-wise binary ops with numpy broadcasting.
enum ONNXBinary: Equatable, Sendable {
    case add, sub, mul, div

    func apply(_ a: Float, _ b: Float) -> Float {
        switch self { case .add: a + b; case .sub: a - b; case .mul: a * b; case .div: a / b }
    }
    /// Integer version (shape arithmetic folded at plan time); division truncates like ONNX's.
    func apply(_ a: Int64, _ b: Int64) -> Int64 {
        switch self { case .add: a &+ b; case .sub: a &- b; case .mul: a &* b; case .div: b == 0 ? 0 : a / b }
    }
}

/// Element-wise unary ops `y = f(x)`.
enum ONNXUnary: Equatable, Sendable {
    case relu, leakyRelu(Float), sigmoid, tanh, exp, log, neg, abs, sqrt, reciprocal, clip(Float, Float)

    func apply(_ x: Float) -> Float {
        switch self {
        case .relu: return x < 0 ? 0 : x
        case let .leakyRelu(alpha): return x < 0 ? alpha * x : x
        case .sigmoid: return x >= 0 ? 1 / (1 + expf(-x)) : expf(x) / (1 + expf(x))
        case .tanh: return tanhf(x)
        case .exp: return expf(x)
        case .log: return logf(x)
        case .neg: return -x
        case .abs: return Swift.abs(x)
        case .sqrt: return x.squareRoot()
        case .reciprocal: return 1 / x
        case let .clip(lo, hi): return x < lo ? lo : (x > hi ? hi : x)
        }
    }
}

/// One planned computation. Shapes are the full shapes of the call (batch included); the
/// parameters fixed at plan time are per sample.
enum ONNXKernel: Sendable, Equatable {
    /// Y[M×N] = alpha·A'·B' + beta·C, A' = transA ? Aᵀ : A, B' likewise, C broadcast to [M, N];
    /// with `relu` a Relu fused in (see ``ONNXPlanner/fuse()``).
    case gemm(transA: Bool, transB: Bool, alpha: Float, beta: Float, relu: Bool)
    /// numpy matmul: Y[…, M, N] = A[…, M, K] · B[…, K, N], batch dims broadcast.
    case matmul
    case binary(ONNXBinary)
    /// y = relu(a + b): an Add and the Relu after it (a residual connection), fused by
    /// ``ONNXPlanner/fuse()``.
    case addRelu
    case unary(ONNXUnary)
    /// y = softmax (or log-softmax) of x along `axis` (opset 13: that axis only).
    case softmax(axis: Int, log: Bool)
    /// y = conv(x, W) + b; with `normEpsilon` a BatchNormalization fused in (its scale, B, mean
    /// and var follow the conv's operands), with `residual` the Add of a residual connection
    /// (its other operand comes last, same shape as y), with `relu` a Relu fused in, applied
    /// last (see ``ONNXPlanner/fuse()``).
    case conv(Conv2DKernel, normEpsilon: Float?, residual: Bool, relu: Bool)
    case maxPool(Pool2DKernel)
    case averagePool(Pool2DKernel, countIncludePad: Bool)
    /// y[n, c] = mean over H·W of x[n, c, :, :].
    case globalAveragePool
    /// y = scale·(x − mean)/√(var + ε) + bias per channel (axis 1).
    case batchNorm(epsilon: Float)
    case transpose([Int])
    case concat(axis: Int)
    case gather(axis: Int, indices: [Int])
    case pad([Int], value: Float)

    /// Whether the last operand is a residual branch (a run-time value after the constants).
    var hasResidualOperand: Bool { if case .conv(_, _, true, _) = self { true } else { false } }

    /// Workspaces a program keeps between calls: im2col columns, and the constant weights of
    /// Gemm and Conv steps packed for the microkernels (by step, packed at the first call).
    struct Scratch: @unchecked Sendable {
        var cols = FloatBuffer()
        var yt = FloatBuffer()
        var packedMatrices: [Int: PackedMatrix] = [:]
        var packedConvolutions: [Int: PackedConvWeights] = [:]
        /// Cores a step may use (1 inside one of a program's lanes, see ``ONNXProgram``).
        var workers = Parallel.workers
    }

    /// Runs the kernel: `x[i]` has shape `shapes[i]`, y has `outShape`. `constantKey` (the
    /// step's index) is given when every weight operand (a Gemm's B and C, a Conv's W) is a
    /// constant, so that the packed form can be kept in `scratch`.
    func run(_ x: [UnsafePointer<Float>], _ shapes: [[Int]], _ y: UnsafeMutablePointer<Float>, _ outShape: [Int],
             constantKey: Int?, scratch: inout Scratch) {
        let count = outShape.reduce(1, *)
        switch self {
        case let .gemm(transA, transB, alpha, beta, relu):
            let (m, k) = transA ? (shapes[0][1], shapes[0][0]) : (shapes[0][0], shapes[0][1])
            let n = outShape[1]
            let biasRow = x.count > 2 && beta != 0 && shapes[2] == [n]
            if let key = constantKey, System.simd.hasMicrokernels, !transA, alpha == 1, k > 0, x.count < 3 || beta == 0 || biasRow {
                let packed = scratch.packedMatrices[key] ?? PackedMatrix(
                    x[1], transposed: transB, depth: k, columns: n, bias: biasRow ? x[2] : nil, biasScale: beta)
                scratch.packedMatrices[key] = packed
                packed.multiply(x[0], rows: m, relu: relu, into: y, workers: scratch.workers)
                return
            }
            defer { if relu { Vector.relu(UnsafePointer(y), y, count) } }
            let ta: Transpose = transA ? .yes : .no, tb: Transpose = transB ? .yes : .no
            if x.count > 2 && beta != 0 {
                let cShape = shapes[2]
                if cShape.count == 1 && cShape[0] == n {
                    affineRows(ta, tb, m: m, n: n, k: k, alpha: alpha, x[0], x[1], bias: x[2], beta: beta, y)
                    return
                }
                // Broadcast C into Y, then Y = alpha·A'·B' + beta·Y.
                let ones = [Float](repeating: 0, count: 1)
                ones.withUnsafeBufferPointer { z in
                    ONNXLayout.binary(x[2], cShape, z.baseAddress!, [], y, outShape) { c, _ in c }
                }
                matrixMultiply(ta, tb, m: m, n: n, k: k, alpha: alpha, x[0], x[1], beta: beta, y)
            } else {
                matrixMultiply(ta, tb, m: m, n: n, k: k, alpha: alpha, x[0], x[1], y)
            }
        case .matmul:
            matmul(x[0], shapes[0], x[1], shapes[1], y, outShape)
        case let .binary(op):
            if shapes[0] == shapes[1] {
                switch op {
                case .add: Vector.add(x[0], x[1], y, count)
                case .mul: Vector.multiply(x[0], x[1], y, count)
                default: for i in 0..<count { y[i] = op.apply(x[0][i], x[1][i]) }
                }
            } else {
                ONNXLayout.binary(x[0], shapes[0], x[1], shapes[1], y, outShape) { op.apply($0, $1) }
            }
        case .addRelu:
            let ys = SendablePointer(y), workers = scratch.workers
            if shapes[0] == shapes[1] {
                let a = SendablePointer(x[0]), b = SendablePointer(x[1])
                Parallel.chunks(count, workers: workers) { r in
                    Vector.addRelu(a.base + r.lowerBound, b.base + r.lowerBound, ys.base + r.lowerBound, r.count)
                }
            } else {
                ONNXLayout.binary(x[0], shapes[0], x[1], shapes[1], y, outShape) { $0 + $1 }
                Parallel.chunks(count, workers: workers) { r in Vector.relu(ys.base + r.lowerBound, ys.base + r.lowerBound, r.count) }
            }
        case let .unary(op):
            switch op {
            case .relu:
                let xs = SendablePointer(x[0]), ys = SendablePointer(y)
                Parallel.chunks(count, workers: scratch.workers) { r in Vector.relu(xs.base + r.lowerBound, ys.base + r.lowerBound, r.count) }
            default:
                for i in 0..<count { y[i] = op.apply(x[0][i]) }
            }
        case let .softmax(axis, log):
            softmax(x[0], outShape, axis: axis, log: log, y)
        case let .conv(geometry, normEpsilon, residual, relu):
            let own = x.count - (normEpsilon == nil ? 0 : 4) - (residual ? 1 : 0)
            let norm = normEpsilon.map {
                Conv2DKernel.ChannelNorm(gain: x[own], beta: x[own + 1], mean: x[own + 2], variance: x[own + 3], epsilon: $0)
            }
            let other = residual ? x[x.count - 1] : nil
            if let key = constantKey, geometry.packable {
                let packed = scratch.packedConvolutions[key] ?? geometry.pack(x[1])
                scratch.packedConvolutions[key] = packed
                geometry.infer(x[0], packed: packed, bias: own > 2 ? x[2] : nil, norm: norm, residual: other, relu: relu, y,
                               batch: shapes[0][0], scratch: &scratch.cols, workers: scratch.workers)
            } else {
                geometry.infer(x[0], weight: x[1], bias: own > 2 ? x[2] : nil, norm: norm, relu: relu && other == nil, y,
                               batch: shapes[0][0], cols: &scratch.cols)
                if let other {
                    // The same arithmetic as the packed epilogue: the sum, then the ReLU.
                    if relu { Vector.addRelu(UnsafePointer(y), other, y, count) } else { Vector.add(UnsafePointer(y), other, y, count) }
                }
            }
        case let .maxPool(geometry):
            geometry.max(x[0], y, planes: shapes[0][0] * shapes[0][1], workers: scratch.workers)
        case let .averagePool(geometry, countIncludePad):
            geometry.average(x[0], y, planes: shapes[0][0] * shapes[0][1], countIncludePad: countIncludePad,
                             workers: scratch.workers)
        case .globalAveragePool:
            let planes = shapes[0][0] * shapes[0][1], S = shapes[0].dropFirst(2).reduce(1, *)
            for p in 0..<planes { y[p] = Vector.sum(x[0] + p * S, S) / Float(S) }
        case let .batchNorm(epsilon):
            let B = shapes[0][0], C = shapes[0].count > 1 ? shapes[0][1] : 1, S = shapes[0].dropFirst(2).reduce(1, *)
            for c in 0..<C {
                BatchNormKernel.normalizeChannel(x[0], y, normalized: y, channel: c, channels: C, spatial: S, batch: B,
                                                 mean: x[3][c], variance: x[4][c], epsilon: epsilon, gain: x[1][c], bias: x[2][c])
            }
        case let .transpose(perm):
            ONNXLayout.transpose(x[0], shapes[0], perm: perm, y)
        case let .concat(axis):
            ONNXLayout.concat(Array(zip(x, shapes)), axis: axis, y)
        case let .gather(axis, indices):
            ONNXLayout.gather(x[0], shapes[0], axis: axis, indices: indices, y)
        case let .pad(pads, value):
            ONNXLayout.pad(x[0], shapes[0], pads: pads, value: value, y)
        }
    }

    /// Softmax along one axis: y = exp(x − max)/Σ exp(x − max) (log: x − max − log Σ exp(x − max)).
    private func softmax(_ x: UnsafePointer<Float>, _ shape: [Int], axis: Int, log: Bool, _ y: UnsafeMutablePointer<Float>) {
        let outer = shape[..<axis].reduce(1, *), n = shape[axis], inner = shape[(axis + 1)...].reduce(1, *)
        for o in 0..<outer {
            for i in 0..<inner {
                let base = o * n * inner + i
                var m = -Float.infinity
                for j in 0..<n { m = Swift.max(m, x[base + j * inner]) }
                var sum: Float = 0
                for j in 0..<n { sum += expf(x[base + j * inner] - m) }
                if log {
                    let ls = logf(sum)
                    for j in 0..<n { y[base + j * inner] = x[base + j * inner] - m - ls }
                } else {
                    for j in 0..<n { y[base + j * inner] = expf(x[base + j * inner] - m) / sum }
                }
            }
        }
    }

    /// numpy matmul by one GEMM per broadcast batch index (one GEMM in all when B is a matrix).
    private func matmul(_ a: UnsafePointer<Float>, _ aShape: [Int], _ b: UnsafePointer<Float>, _ bShape: [Int],
                        _ y: UnsafeMutablePointer<Float>, _ outShape: [Int]) {
        let a2 = aShape.count == 1 ? [1] + aShape : aShape, b2 = bShape.count == 1 ? bShape + [1] : bShape
        let M = a2[a2.count - 2], K = a2[a2.count - 1], N = b2[b2.count - 1]
        if b2.count == 2 {
            matrixMultiply(.no, .no, m: a2.dropLast().reduce(1, *), n: N, k: K, a, b, y)
            return
        }
        let batch = ONNXLayout.broadcast(Array(a2.dropLast(2)), Array(b2.dropLast(2))) ?? []
        let sa = ONNXLayout.broadcastStrides(Array(a2.dropLast(2)), to: batch)
        let sb = ONNXLayout.broadcastStrides(Array(b2.dropLast(2)), to: batch)
        let total = batch.reduce(1, *)
        var index = [Int](repeating: 0, count: batch.count)
        for t in 0..<total {
            var pa = 0, pb = 0
            for d in 0..<batch.count { pa += index[d] * sa[d]; pb += index[d] * sb[d] }
            matrixMultiply(.no, .no, m: M, n: N, k: K, a + pa * M * K, b + pb * K * N, y + t * M * N)
            var d = batch.count - 1
            while d >= 0 { index[d] += 1; if index[d] < batch[d] { break }; index[d] = 0; d -= 1 }
        }
    }
}

/// The engine's `gemm` (C = alpha·op(A)·op(B) + beta·C), named apart from `ONNXKernel.gemm`.
@inline(__always)
private func matrixMultiply(_ ta: Transpose, _ tb: Transpose, m: Int, n: Int, k: Int, alpha: Float = 1,
                            _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, beta: Float = 0, _ c: UnsafeMutablePointer<Float>) {
    gemm(ta, tb, m: m, n: n, k: k, alpha: alpha, a, b, beta: beta, c)
}
