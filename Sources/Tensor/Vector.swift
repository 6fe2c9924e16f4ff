/// Vectorised element-wise kernels over raw Float32 buffers (SIMD16 lanes + scalar tail).
///
/// All functions take element counts, not byte counts; input and output may alias
/// unless stated otherwise.
public enum Vector {
    public typealias V = SIMD16<Float>
    @usableFromInline static let width = 16

    @inlinable @inline(__always)
    static func load(_ p: UnsafePointer<Float>, _ i: Int) -> V {
        UnsafeRawPointer(p + i).loadUnaligned(as: V.self)
    }
    @inlinable @inline(__always)
    static func store(_ v: V, _ p: UnsafeMutablePointer<Float>, _ i: Int) {
        UnsafeMutableRawPointer(p + i).storeBytes(of: v, as: V.self)
    }

    /// `out[i] = a[i] + b[i]`
    @inlinable
    public static func add(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, _ n: Int) {
        var i = 0
        while i + width <= n { store(load(a, i) + load(b, i), out, i); i += width }
        while i < n { out[i] = a[i] + b[i]; i += 1 }
    }

    /// `y[i] += alpha · x[i]` (BLAS axpy)
    @inlinable
    public static func axpy(_ alpha: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
        let va = V(repeating: alpha)
        var i = 0
        while i + width <= n { store(load(y, i) + va * load(x, i), y, i); i += width }
        while i < n { y[i] += alpha * x[i]; i += 1 }
    }

    /// `x[i] *= alpha`
    @inlinable
    public static func scale(_ x: UnsafeMutablePointer<Float>, by alpha: Float, _ n: Int) {
        let va = V(repeating: alpha)
        var i = 0
        while i + width <= n { store(load(x, i) * va, x, i); i += width }
        while i < n { x[i] *= alpha; i += 1 }
    }

    /// `out[i] = a[i] * b[i]`
    @inlinable
    public static func multiply(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, _ n: Int) {
        var i = 0
        while i + width <= n { store(load(a, i) * load(b, i), out, i); i += width }
        while i < n { out[i] = a[i] * b[i]; i += 1 }
    }

    /// `y[i] = max(x[i], 0)`
    @inlinable
    public static func relu(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
        let zero = V(repeating: 0)
        var i = 0
        while i + width <= n { store(pointwiseMax(load(x, i), zero), y, i); i += width }
        while i < n { y[i] = max(x[i], 0); i += 1 }
    }

    /// `dx[i] = x[i] > 0 ? dy[i] : 0` (ReLU derivative; 0 at x = 0 as in PyTorch)
    @inlinable
    public static func reluBackward(_ x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>, _ n: Int) {
        let zero = V(repeating: 0)
        var i = 0
        while i + width <= n {
            let mask = load(x, i) .> zero
            store(zero.replacing(with: load(dy, i), where: mask), dx, i)
            i += width
        }
        while i < n { dx[i] = x[i] > 0 ? dy[i] : 0; i += 1 }
    }

    /// Σ x[i], accumulated in 16 lanes (pairwise-like error growth).
    @inlinable
    public static func sum(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc = V(repeating: 0)
        var i = 0
        while i + width <= n { acc += load(x, i); i += width }
        var s = acc.sum()
        while i < n { s += x[i]; i += 1 }
        return s
    }

    /// Σ a[i]·b[i]
    @inlinable
    public static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc = V(repeating: 0)
        var i = 0
        while i + width <= n { acc += load(a, i) * load(b, i); i += width }
        var s = acc.sum()
        while i < n { s += a[i] * b[i]; i += 1 }
        return s
    }

    /// `x[i] = value`
    @inlinable
    public static func fill(_ x: UnsafeMutablePointer<Float>, _ value: Float, _ n: Int) {
        x.update(repeating: value, count: n)
    }
}
