#if canImport(Glibc)
import Glibc
#endif

/// Row-wise kernels over a row-major matrix `x[R×C]` (R = rows, e.g. batch; C = columns).
public enum Rows {
    /// `y[r, c] += b[c]` — broadcast a row vector over all rows (bias add).
    @inlinable
    public static func addRowVector(_ b: UnsafePointer<Float>, to y: UnsafeMutablePointer<Float>, rows: Int, cols: Int) {
        for r in 0..<rows { Vector.add(y + r * cols, b, y + r * cols, cols) }
    }

    /// `out[c] (+)= Σ_r x[r, c]` — column sums (bias gradient). Overwrites unless `accumulate`.
    @inlinable
    public static func sumColumns(_ x: UnsafePointer<Float>, rows: Int, cols: Int, into out: UnsafeMutablePointer<Float>, accumulate: Bool) {
        if !accumulate { out.update(repeating: 0, count: cols) }
        for r in 0..<rows { Vector.add(out, x + r * cols, out, cols) }
    }

    /// Temperature softmax of each row: `p[r, c] = exp(x[r, c]/T − m_r) / Σ_c' exp(x[r, c']/T − m_r)`,
    /// with `m_r = max_c x[r, c]/T` subtracted for stability. `out` may alias `x`.
    public static func softmax(_ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, rows: Int, cols: Int, temperature: Float = 1) {
        let invT = 1 / temperature
        for r in 0..<rows {
            let xr = x + r * cols, pr = out + r * cols
            let m = scaledMax(xr, cols, invT)
            var z: Float = 0
            for c in 0..<cols { let e = expf(xr[c] * invT - m); pr[c] = e; z += e }
            let invZ = 1 / z
            for c in 0..<cols { pr[c] *= invZ }
        }
    }

    /// Temperature log-softmax of each row: `x[r, c]/T − m_r − log Σ_c' exp(x[r, c']/T − m_r)`.
    public static func logSoftmax(_ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, rows: Int, cols: Int, temperature: Float = 1) {
        let invT = 1 / temperature
        for r in 0..<rows {
            let xr = x + r * cols, lr = out + r * cols
            let m = scaledMax(xr, cols, invT)
            var z: Float = 0
            for c in 0..<cols { z += expf(xr[c] * invT - m) }
            let logZ = m + logf(z)
            for c in 0..<cols { lr[c] = xr[c] * invT - logZ }
        }
    }

    /// `max_c row[c]·scale`, the shift that keeps the exponentials of (log-)softmax finite.
    @inline(__always)
    static func scaledMax(_ row: UnsafePointer<Float>, _ cols: Int, _ scale: Float) -> Float {
        var m = -Float.infinity
        for c in 0..<cols { m = max(m, row[c] * scale) }
        return m
    }

    /// Index of the largest element of each row (first one on ties).
    public static func argmax(_ x: UnsafePointer<Float>, rows: Int, cols: Int) -> [Int] {
        (0..<rows).map { r in
            let xr = x + r * cols
            var best = 0
            for c in 1..<max(cols, 1) where xr[c] > xr[best] { best = c }
            return best
        }
    }
}
