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

    /// `out[i] = max(a[i] + b[i], 0)` as `v < 0 ? 0 : v` (a residual connection's Add and Relu in one pass)
    @inlinable
    public static func addRelu(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, _ n: Int) {
        let zero = V(repeating: 0)
        var i = 0
        while i + width <= n { let v = load(a, i) + load(b, i); store(v.replacing(with: zero, where: v .< zero), out, i); i += width }
        while i < n { let v = a[i] + b[i]; out[i] = v < 0 ? 0 : v; i += 1 }
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

    /// In place, the epilogue of an inference convolution on one output channel's row:
    /// `v = y[i] + bias` (bias nil: `y[i]`), then with `norm = (shift, scale, gain, beta)`
    /// `v = gain·((v − shift)·scale) + beta`, then `v = max(v, 0)` when `relu` — the same
    /// operations, in the same order, as the separate bias, ``normalizeAffine`` and ``relu`` passes.
    @inlinable
    public static func channelEpilogue(_ y: UnsafeMutablePointer<Float>, _ n: Int, bias: Float?,
                                       norm: (shift: Float, scale: Float, gain: Float, beta: Float)?, relu: Bool) {
        let hasBias = bias != nil, hasNorm = norm != nil
        let b = bias ?? 0, nm = norm ?? (0, 1, 1, 0)
        let vb = V(repeating: b), vs = V(repeating: nm.shift), vc = V(repeating: nm.scale)
        let vg = V(repeating: nm.gain), vbeta = V(repeating: nm.beta), zero = V(repeating: 0)
        var i = 0
        while i + width <= n {
            var v = load(y, i)
            if hasBias { v = v + vb }
            if hasNorm { v = vg * ((v - vs) * vc) + vbeta }
            if relu { v = v.replacing(with: zero, where: v .< zero) }
            store(v, y, i); i += width
        }
        while i < n {
            var v = y[i]
            if hasBias { v = v + b }
            if hasNorm { v = nm.gain * ((v - nm.shift) * nm.scale) + nm.beta }
            if relu { v = v < 0 ? 0 : v }
            y[i] = v; i += 1
        }
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
        // Compare-and-blend: generic `pointwiseMax` is not lowered to a single vector max.
        while i + width <= n { let v = load(x, i); store(v.replacing(with: zero, where: v .< zero), y, i); i += width }
        while i < n { y[i] = x[i] < 0 ? 0 : x[i]; i += 1 }
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

    /// Σ (x[i] − mean)², accumulated in 16 lanes.
    @inlinable
    public static func sumSquaredDeviations(_ x: UnsafePointer<Float>, mean: Float, _ n: Int) -> Float {
        let m = V(repeating: mean)
        var acc = V(repeating: 0)
        var i = 0
        while i + width <= n { let d = load(x, i) - m; acc += d * d; i += width }
        var s = acc.sum()
        while i < n { let d = x[i] - mean; s += d * d; i += 1 }
        return s
    }

    /// `h[i] = (x[i] − shift)·scale;  y[i] = gain·h[i] + bias` (normalise then affine).
    @inlinable
    public static func normalizeAffine(_ x: UnsafePointer<Float>, shift: Float, scale: Float, gain: Float, bias: Float,
                                       normalized h: UnsafeMutablePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
        let vs = V(repeating: shift), vc = V(repeating: scale), vg = V(repeating: gain), vb = V(repeating: bias)
        var i = 0
        while i + width <= n { let v = (load(x, i) - vs) * vc; store(v, h, i); store(vg * v + vb, y, i); i += width }
        while i < n { let v = (x[i] - shift) * scale; h[i] = v; y[i] = gain * v + bias; i += 1 }
    }

    /// `out[i] = a·x[i] + b·y[i] + c` (fused affine combination).
    @inlinable
    public static func affine2(_ a: Float, _ x: UnsafePointer<Float>, _ b: Float, _ y: UnsafePointer<Float>, _ c: Float,
                               _ out: UnsafeMutablePointer<Float>, _ n: Int) {
        let va = V(repeating: a), vb = V(repeating: b), vc = V(repeating: c)
        var i = 0
        while i + width <= n { store(va * load(x, i) + vb * load(y, i) + vc, out, i); i += width }
        while i < n { out[i] = a * x[i] + b * y[i] + c; i += 1 }
    }

    /// `x[i] = value`
    @inlinable
    public static func fill(_ x: UnsafeMutablePointer<Float>, _ value: Float, _ n: Int) {
        x.update(repeating: value, count: n)
    }
}
