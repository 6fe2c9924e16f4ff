import CBLAS
import Dispatch
#if canImport(Glibc)
import Glibc
#endif

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
    let lda = lda ?? (transA == .no ? k : m)
    let ldb = ldb ?? (transB == .no ? n : k)
    let ldc = ldc ?? n
    let work = m * n * k
    if BLASThreads.strategy == .splitAcrossCores && work >= BLASThreads.singleThreadBelow && Parallel.workers > 1 {
        splitGEMM(transA, transB, m: m, n: n, k: k, alpha: alpha, a, lda: lda, b, ldb: ldb, beta: beta, c, ldc: ldc)
        return
    }
    BLASThreads.adapt(work: work)
    cblas_sgemm(CblasRowMajor, transA.cblas, transB.cblas,
                Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
}

/// Splits C along its larger dimension into one block per core and runs single-threaded
/// OpenBLAS GEMMs on the blocks concurrently (row-major offsets: rows of op(A) are rows of
/// A, or columns when A is transposed; likewise columns of op(B)).
@usableFromInline
func splitGEMM(
    _ transA: Transpose, _ transB: Transpose, m: Int, n: Int, k: Int, alpha: Float,
    _ a: UnsafePointer<Float>, lda: Int, _ b: UnsafePointer<Float>, ldb: Int, beta: Float,
    _ c: UnsafeMutablePointer<Float>, ldc: Int
) {
    BLASThreads.adapt(work: 0)  // OpenBLAS itself stays on one thread
    let parts = Parallel.workers
    let byRows = m >= n
    let total = byRows ? m : n
    let step = (total + parts - 1) / parts
    let ap = SendablePointer(a), bp = SendablePointer(b), cp = SendablePointer(c)
    DispatchQueue.concurrentPerform(iterations: parts) { p in
        let lo = p * step, hi = min(total, lo + step)
        guard lo < hi else { return }
        if byRows {
            let aOff = transA == .no ? lo * lda : lo
            cblas_sgemm(CblasRowMajor, transA.cblas, transB.cblas, Int32(hi - lo), Int32(n), Int32(k), alpha,
                        ap.base + aOff, Int32(lda), bp.base, Int32(ldb), beta, cp.base + lo * ldc, Int32(ldc))
        } else {
            let bOff = transB == .no ? lo : lo * ldb
            cblas_sgemm(CblasRowMajor, transA.cblas, transB.cblas, Int32(m), Int32(hi - lo), Int32(k), alpha,
                        ap.base, Int32(lda), bp.base + bOff, Int32(ldb), beta, cp.base + lo, Int32(ldc))
        }
    }
}

/// OpenBLAS worker-thread control (the engine's only source of GEMM parallelism).
///
/// Waking OpenBLAS's pool costs more than it saves on small products (measured on 2 cores:
/// the 784-64-10 student trains 2.3× faster on one thread), so `gemm` runs products of
/// fewer than `singleThreadBelow` multiply–adds on one thread and larger ones on `maximum`.
public enum BLASThreads {
    /// How large products use the cores.
    public enum Strategy: Sendable { case openBLASThreads, splitAcrossCores }
    /// `.openBLASThreads`: OpenBLAS's own pool (its idle workers spin). `.splitAcrossCores`:
    /// OpenBLAS on one thread, C split into one block per core run concurrently.
    /// Chosen by DISTILLERY_GEMM=openblas|split (default: split).
    nonisolated(unsafe) public static var strategy: Strategy =
        getenv("DISTILLERY_GEMM").map { String(cString: $0) } == "openblas" ? .openBLASThreads : .splitAcrossCores

    /// Multiply–adds (m·n·k) below which a GEMM runs single-threaded.
    nonisolated(unsafe) public static var singleThreadBelow = 1 << 23
    /// Threads for large products (default: OpenBLAS's own choice, i.e. the core count or
    /// OPENBLAS_NUM_THREADS).
    nonisolated(unsafe) public static var maximum = min(Int(openblas_get_num_threads()), Parallel.workers)
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
