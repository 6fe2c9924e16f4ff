import CBLAS

/// Whether a GEMM operand is used as stored or transposed.
public enum Transpose: Sendable {
    case no, yes
    @usableFromInline var cblas: CBLAS_TRANSPOSE { self == .no ? CblasNoTrans : CblasTrans }
}

/// Single-precision matrix multiply through OpenBLAS (`cblas_sgemm`), row-major:
///
///     C[M×N] = alpha · op(A)[M×K] · op(B)[K×N] + beta · C
///
/// `lda`, `ldb`, `ldc` are the row strides of A, B, C as stored (defaults: dense).
@inlinable
public func gemm(
    _ transA: Transpose, _ transB: Transpose,
    m: Int, n: Int, k: Int,
    alpha: Float = 1,
    _ a: UnsafePointer<Float>, lda: Int? = nil,
    _ b: UnsafePointer<Float>, ldb: Int? = nil,
    beta: Float = 0,
    _ c: UnsafeMutablePointer<Float>, ldc: Int? = nil
) {
    guard m > 0, n > 0 else { return }
    if k == 0 {
        // op(A)·op(B) is empty: only the beta scaling applies.
        for i in 0..<(m * (ldc ?? n)) { c[i] = beta == 0 ? 0 : c[i] * beta }
        return
    }
    BLASThreads.adapt(work: m * n * k)
    let lda = lda ?? (transA == .no ? k : m)
    let ldb = ldb ?? (transB == .no ? n : k)
    let ldc = ldc ?? n
    cblas_sgemm(CblasRowMajor, transA.cblas, transB.cblas,
                Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
}

/// OpenBLAS worker-thread control (the engine's only source of GEMM parallelism).
///
/// Waking OpenBLAS's pool costs more than it saves on small products (measured on 2 cores:
/// the 784-64-10 student trains 2.3× faster on one thread), so `gemm` runs products of
/// fewer than `singleThreadBelow` multiply–adds on one thread and larger ones on `maximum`.
public enum BLASThreads {
    /// Multiply–adds (m·n·k) below which a GEMM runs single-threaded.
    nonisolated(unsafe) public static var singleThreadBelow = 1 << 23
    /// Threads for large products (default: OpenBLAS's own choice, i.e. the core count or
    /// OPENBLAS_NUM_THREADS).
    nonisolated(unsafe) public static var maximum = Int(openblas_get_num_threads())
    // The count last given to OpenBLAS. A race between threads only costs an extra call.
    nonisolated(unsafe) private static var current = Int(openblas_get_num_threads())

    /// Threads OpenBLAS uses for one GEMM right now.
    public static var count: Int { Int(openblas_get_num_threads()) }

    /// Caps every GEMM at `n` threads (e.g. 1 when several models share the cores).
    public static func set(_ n: Int) { maximum = max(1, n); adapt(work: Int.max) }

    @usableFromInline
    static func adapt(work: Int) {
        let wanted = work < singleThreadBelow ? 1 : maximum
        if wanted != current {
            openblas_set_num_threads(Int32(wanted))
            current = wanted
        }
    }
}
