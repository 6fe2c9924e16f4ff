import Dispatch

/// A pointer that may cross into `concurrentPerform` closures. Safe only when the
/// closures write disjoint ranges, which is the contract of `Parallel.chunks`.
public struct SendablePointer<T>: @unchecked Sendable {
    public let base: UnsafeMutablePointer<T>
    @inlinable public init(_ base: UnsafeMutablePointer<T>) { self.base = base }
    @inlinable public init(_ base: UnsafePointer<T>) { self.base = UnsafeMutablePointer(mutating: base) }
}

/// Data parallelism over index ranges for element-wise work that is large enough to pay
/// for waking a second core (measured: below ~256 Ki floats a single core is faster).
public enum Parallel {
    /// Number of workers used for large element-wise kernels and split GEMMs: the core count
    /// (at most 8), or `DISTILLERY_THREADS` when set — e.g. 1 for each of several processes
    /// sharing the cores (`distillery up` sets it), where threads split per process would
    /// wait on each other's descheduled halves.
    public static let workers: Int = {
        if let text = getenv("DISTILLERY_THREADS").map({ String(cString: $0) }), let n = Int(text), n >= 1 { return min(n, 64) }
        return max(1, min(System.coreCount, 8))
    }()

    /// Calls `body` on disjoint sub-ranges covering `0..<count`, in parallel (at most `workers`
    /// at once) when `count >= minimumPerWorker * 2`, else once on the calling thread.
    @inlinable
    public static func chunks(_ count: Int, minimumPerWorker: Int = 1 << 17, workers: Int = Parallel.workers,
                              _ body: @Sendable (Range<Int>) -> Void) {
        let parts = min(workers, count / max(1, minimumPerWorker))
        if parts <= 1 { body(0..<count); return }
        let step = (count + parts - 1) / parts
        DispatchQueue.concurrentPerform(iterations: parts) { p in
            let lo = p * step
            let hi = min(count, lo + step)
            if lo < hi { body(lo..<hi) }
        }
    }
}

/// Facts about the machine.
public enum System {
    /// Online CPU cores.
    public static var coreCount: Int {
        #if canImport(Glibc)
        return Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        #else
        return 1
        #endif
    }
}
#if canImport(Glibc)
import Glibc
#endif
