import Dispatch
#if arch(x86_64)
import TensorAVX2
#endif

/// The right-hand operand of inference products, packed once for TensorAVX2's GEMM kernel:
///
///     Y[M×N] = act(X[M×K] · B[K×N] + bias[N])      B = W (transposed: B = Wᵀ for W[N×K], a Linear's layout)
///
/// Storage: ⌈N/16⌉ panels of K × 16 floats (B's columns 16·p ..< 16·p + 16, zero past N), then
/// the bias padded to ⌈N/16⌉·16. Packing costs one pass over W; ONNX programs pack each constant
/// weight once and keep it. Only built when ``System/simd`` is `.avx2`.
public struct PackedMatrix: @unchecked Sendable {
    public let depth, columns: Int
    public let hasBias: Bool
    let storage: FloatStorage
    var panels: Int { (columns + 15) / 16 }

    /// Packs `w` (`[N×K]` when `transposed`, else `[K×N]`) and `bias·biasScale` (nil: none).
    public init(_ w: UnsafePointer<Float>, transposed: Bool, depth K: Int, columns N: Int,
                bias: UnsafePointer<Float>? = nil, biasScale: Float = 1) {
        depth = K; columns = N; hasBias = bias != nil
        let panels = (N + 15) / 16
        storage = FloatStorage(count: panels * K * 16 + panels * 16)
        let p = storage.pointer
        for panel in 0..<panels {
            for k in 0..<K {
                let row = p + (panel * K + k) * 16
                for jj in 0..<16 {
                    let j = panel * 16 + jj
                    guard j < N else { break }
                    row[jj] = transposed ? w[j * K + k] : w[k * N + j]
                }
            }
        }
        if let bias {
            let b = p + panels * K * 16
            for j in 0..<N { b[j] = biasScale == 1 ? bias[j] : biasScale * bias[j] }
        }
    }

    /// y[M×N] = act(x[M×K] · B + bias), rows of x `lda` apart (default K), ReLU when `relu`.
    /// Splits the panels over `workers` cores when the product is large enough.
    public func multiply(_ x: UnsafePointer<Float>, rows M: Int, lda: Int? = nil, relu: Bool, into y: UnsafeMutablePointer<Float>,
                         workers: Int = Parallel.workers) {
        #if arch(x86_64)
        let K = depth, N = columns, panels = panels, lda = lda ?? K
        let packed = SendablePointer(UnsafePointer(storage.pointer)), bias = hasBias ? SendablePointer(storage.pointer + panels * K * 16) : nil
        let xs = SendablePointer(x), ys = SendablePointer(y)
        let parts = Swift.max(1, Swift.min(workers, panels, M * N * K / (1 << 18)))
        let step = (panels + parts - 1) / parts
        // Rows in chunks whose slice of x (chunk·K floats, ≤ 256 KB) stays in L2 while every
        // panel of B passes over it; each panel (K·16 floats) is reused by all the chunk's row
        // blocks. (Blocking the depth as well, so that a panel's block stays in L1, is 9% faster
        // alone on one core but measured 4–10% slower in the MLP teacher: not done.)
        let chunk = Swift.max(6, Swift.min(96, (256 * 1024 / (4 * Swift.max(1, K))) / 6 * 6))
        let body = { @Sendable (part: Int) in
            let lo = part * step, hi = Swift.min(panels, lo + step)
            guard lo < hi else { return }
            for first in stride(from: 0, to: M, by: chunk) {
                AVX2Kernels.gemm(a: UnsafePointer(xs.base + first * lda), lda: lda, rows: Swift.min(chunk, M - first), depth: K,
                                 packedB: UnsafePointer(packed.base), panels: lo..<hi, columns: N,
                                 bias: bias.map { UnsafePointer($0.base) }, relu: relu, c: ys.base + first * N, ldc: N)
            }
        }
        if parts == 1 { body(0) } else { DispatchQueue.concurrentPerform(iterations: parts, execute: body) }
        #else
        preconditionFailure("PackedMatrix needs System.simd == .avx2")
        #endif
    }
}

/// Convolution weights `[O, K]` (K = C·KH·KW) packed for TensorAVX2's convolution kernel as
/// ⌈O/4⌉ blocks of K × 4 floats (output channels 4·b ..< 4·b + 4, zero past O). Only built when
/// ``System/simd`` is `.avx2`.
public struct PackedConvWeights: @unchecked Sendable {
    public let outChannels, depth: Int
    let storage: FloatStorage

    public init(_ w: UnsafePointer<Float>, outChannels O: Int, depth K: Int) {
        outChannels = O; depth = K
        let blocks = (O + 3) / 4
        storage = FloatStorage(count: blocks * K * 4)
        let p = storage.pointer
        for o in 0..<O {
            let b = o / 4, r = o % 4
            for k in 0..<K { p[(b * K + k) * 4 + r] = w[o * K + k] }
        }
    }

    /// out[o·outStride + p] = act(scale[o]·Σ_k w[o, k] · x[offsets[k] + p] + shift[o]) for p < P,
    /// `offsets` holding `depth` entries (see `AVX2Kernels.convolve` for the bounds x must allow;
    /// scale/shift nil: 1/0).
    public func convolve(_ x: UnsafePointer<Float>, offsets: UnsafePointer<Int>, positions P: Int,
                         into out: UnsafeMutablePointer<Float>, outStride: Int,
                         scale: UnsafePointer<Float>?, shift: UnsafePointer<Float>?, relu: Bool) {
        #if arch(x86_64)
        AVX2Kernels.convolve(packed: storage.pointer, outChannels: outChannels, x: x, offsets: offsets, depth: depth,
                             positions: P, out: out, outStride: outStride, scale: scale, shift: shift, relu: relu)
        #else
        preconditionFailure("PackedConvWeights needs System.simd == .avx2")
        #endif
    }
}
