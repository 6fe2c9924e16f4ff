import Dispatch
#if arch(x86_64)
import TensorAVX2
import TensorAVX512
#endif

/// The right-hand operand of inference products, packed once for the GEMM microkernels
/// (TensorAVX2's 6 × 16, TensorAVX512's 6 × 32 over two panels):
///
///     Y[M×N] = act(X[M×K] · B[K×N] + bias[N])      B = W (transposed: B = Wᵀ for W[N×K], a Linear's layout)
///
/// Storage: ⌈N/16⌉ panels of K × 16 floats (B's columns 16·p ..< 16·p + 16, zero past N), then
/// the bias padded to ⌈N/16⌉·16. Packing costs one pass over W; ONNX programs pack each constant
/// weight once and keep it. Only built where ``System/simd`` has microkernels.
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
    /// Splits the panels over `workers` cores when the product is large enough (in pairs, on
    /// AVX-512). `level` picks the kernel (tests compare both on one machine).
    public func multiply(_ x: UnsafePointer<Float>, rows M: Int, lda: Int? = nil, relu: Bool, into y: UnsafeMutablePointer<Float>,
                         workers: Int = Parallel.workers, level: SIMDLevel = System.simd) {
        #if arch(x86_64)
        precondition(level.hasMicrokernels, "PackedMatrix needs a CPU with AVX2 and FMA")
        let K = depth, N = columns, panels = panels, lda = lda ?? K, wide = level == .avx512
        let packed = SendablePointer(UnsafePointer(storage.pointer)), bias = hasBias ? SendablePointer(storage.pointer + panels * K * 16) : nil
        let xs = SendablePointer(x), ys = SendablePointer(y)
        let parts = Swift.max(1, Swift.min(workers, panels, M * N * K / (1 << 18)))
        let share = (panels + parts - 1) / parts
        let step = wide && share % 2 == 1 ? share + 1 : share  // AVX-512 takes panels in pairs
        // Rows in chunks whose slice of x (chunk·K floats, ≤ 256 KB) stays in L2 while every
        // panel of B passes over it; each panel (K·16 floats) is reused by all the chunk's row
        // blocks. (Blocking the depth as well, so that a panel's block stays in L1, is 9% faster
        // alone on one core but measured 4–10% slower in the MLP teacher: not done.)
        let chunk = Swift.max(6, Swift.min(96, (256 * 1024 / (4 * Swift.max(1, K))) / 6 * 6))
        let body = { @Sendable (part: Int) in
            let lo = part * step, hi = Swift.min(panels, lo + step)
            guard lo < hi else { return }
            for first in stride(from: 0, to: M, by: chunk) {
                let a = UnsafePointer(xs.base + first * lda), rows = Swift.min(chunk, M - first), c = ys.base + first * N
                let b = UnsafePointer(packed.base), bias = bias.map { UnsafePointer($0.base) }
                if wide {
                    AVX512Kernels.gemm(a: a, lda: lda, rows: rows, depth: K, packedB: b, panels: lo..<hi, columns: N,
                                       bias: bias, relu: relu, c: c, ldc: N)
                } else {
                    AVX2Kernels.gemm(a: a, lda: lda, rows: rows, depth: K, packedB: b, panels: lo..<hi, columns: N,
                                     bias: bias, relu: relu, c: c, ldc: N)
                }
            }
        }
        if parts == 1 { body(0) } else { DispatchQueue.concurrentPerform(iterations: parts, execute: body) }
        #else
        preconditionFailure("PackedMatrix needs a CPU with AVX2 and FMA")
        #endif
    }
}

/// Convolution weights `[O, K]` (K = C·KH·KW) packed for the convolution microkernels as
/// ⌈O/4⌉ blocks of K × 4 floats (output channels 4·b ..< 4·b + 4, zero past O): TensorAVX2's
/// kernel takes one block at a time (4 channels × 24 positions), TensorAVX512's two (8 × 32).
/// Only built where ``System/simd`` has microkernels.
public struct PackedConvWeights: @unchecked Sendable {
    public let outChannels, depth: Int
    let storage: FloatStorage
    /// How far past max(offsets) + P the kernels may read `x`: P is processed in blocks of 24
    /// positions (AVX2) or 32 (AVX-512), so x must be readable up to max(offsets) + P rounded up
    /// to this.
    public static let overread = 32

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

    /// out[o·outStride + p] = act(scale[o]·Σ_k w[o, k] · x[offsets[k] + p] + shift[o] + residual[o·outStride + p])
    /// for p < P, `offsets` holding `depth` entries (x readable up to max(offsets) + P rounded
    /// up to ``overread``; scale/shift/residual nil: 1/0/0). `level` picks the kernel.
    public func convolve(_ x: UnsafePointer<Float>, offsets: UnsafePointer<Int>, positions P: Int,
                         into out: UnsafeMutablePointer<Float>, outStride: Int,
                         scale: UnsafePointer<Float>?, shift: UnsafePointer<Float>?,
                         residual: UnsafePointer<Float>? = nil, relu: Bool, level: SIMDLevel = System.simd) {
        #if arch(x86_64)
        precondition(level.hasMicrokernels, "PackedConvWeights needs a CPU with AVX2 and FMA")
        if level == .avx512 {
            AVX512Kernels.convolve(packed: storage.pointer, outChannels: outChannels, x: x, offsets: offsets, depth: depth,
                                   positions: P, out: out, outStride: outStride, scale: scale, shift: shift,
                                   residual: residual, relu: relu)
        } else {
            AVX2Kernels.convolve(packed: storage.pointer, outChannels: outChannels, x: x, offsets: offsets, depth: depth,
                                 positions: P, out: out, outStride: outStride, scale: scale, shift: shift,
                                   residual: residual, relu: relu)
        }
        #else
        preconditionFailure("PackedConvWeights needs a CPU with AVX2 and FMA")
        #endif
    }
}
