/// Data-movement kernels over any element type (Float at run time, Int64 for shape tensors
/// folded at plan time), on row-major buffers with explicit shapes.
enum ONNXLayout {
    /// Row-major strides of `shape`.
    static func strides(_ shape: [Int]) -> [Int] {
        var s = [Int](repeating: 1, count: shape.count)
        var acc = 1
        for i in stride(from: shape.count - 1, through: 0, by: -1) { s[i] = acc; acc *= shape[i] }
        return s
    }

    /// Numpy broadcast of two shapes (right-aligned; equal dims or 1), nil when incompatible.
    static func broadcast(_ a: [Int], _ b: [Int]) -> [Int]? {
        let rank = max(a.count, b.count)
        var out = [Int](repeating: 1, count: rank)
        for i in 0..<rank {
            let x = i < rank - a.count ? 1 : a[i - (rank - a.count)]
            let y = i < rank - b.count ? 1 : b[i - (rank - b.count)]
            guard x == y || x == 1 || y == 1 else { return nil }
            out[i] = x == 1 ? y : x
        }
        return out
    }

    /// Strides of `shape` read as `outShape` under broadcasting (0 along broadcast dims).
    static func broadcastStrides(_ shape: [Int], to outShape: [Int]) -> [Int] {
        let s = strides(shape), pad = outShape.count - shape.count
        return (0..<outShape.count).map { i in i < pad || shape[i - pad] == 1 ? 0 : s[i - pad] }
    }

    /// `out[i] = f(a[i'], b[i''])` with numpy broadcasting: out[d₀…dₖ] reads a and b at their
    /// broadcast strides; the innermost dimension is a contiguous, scalar or strided run.
    static func binary<T>(_ a: UnsafePointer<T>, _ aShape: [Int], _ b: UnsafePointer<T>, _ bShape: [Int],
                          _ out: UnsafeMutablePointer<T>, _ outShape: [Int], _ f: (T, T) -> T) {
        let total = outShape.reduce(1, *)
        guard total > 0 else { return }
        if aShape == bShape && aShape == outShape {
            for i in 0..<total { out[i] = f(a[i], b[i]) }
            return
        }
        let sa = broadcastStrides(aShape, to: outShape), sb = broadcastStrides(bShape, to: outShape)
        let rank = outShape.count
        let inner = rank == 0 ? 1 : outShape[rank - 1]
        let ia = rank == 0 ? 0 : sa[rank - 1], ib = rank == 0 ? 0 : sb[rank - 1]
        var index = [Int](repeating: 0, count: max(rank - 1, 0))
        var o = 0
        while o < total {
            var pa = 0, pb = 0
            for d in 0..<index.count { pa += index[d] * sa[d]; pb += index[d] * sb[d] }
            for i in 0..<inner { out[o + i] = f(a[pa + i * ia], b[pb + i * ib]) }
            o += inner
            var d = index.count - 1
            while d >= 0 { index[d] += 1; if index[d] < outShape[d] { break }; index[d] = 0; d -= 1 }
        }
    }

    /// `out = transpose(x, perm)`: out[i₀…iₖ] = x[j] with j[perm[d]] = i[d].
    static func transpose<T>(_ x: UnsafePointer<T>, _ shape: [Int], perm: [Int], _ out: UnsafeMutablePointer<T>) {
        let total = shape.reduce(1, *)
        guard total > 0 else { return }
        let inStrides = strides(shape)
        let outShape = perm.map { shape[$0] }
        let walk = perm.map { inStrides[$0] }
        var index = [Int](repeating: 0, count: outShape.count)
        var src = 0
        for o in 0..<total {
            out[o] = x[src]
            var d = outShape.count - 1
            while d >= 0 {
                index[d] += 1; src += walk[d]
                if index[d] < outShape[d] { break }
                src -= walk[d] * outShape[d]; index[d] = 0; d -= 1
            }
        }
    }

    /// Concatenation along `axis`: each part contributes `shape[axis]·inner` contiguous
    /// elements per outer index.
    static func concat<T>(_ parts: [(UnsafePointer<T>, [Int])], axis: Int, _ out: UnsafeMutablePointer<T>) {
        guard let first = parts.first?.1 else { return }
        let outer = first[..<axis].reduce(1, *), inner = first[(axis + 1)...].reduce(1, *)
        let total = parts.reduce(0) { $0 + $1.1[axis] } * inner
        var offset = 0
        for (p, shape) in parts {
            let run = shape[axis] * inner
            for o in 0..<outer { (out + o * total + offset).update(from: p + o * run, count: run) }
            offset += run
        }
    }

    /// Gather along `axis`: out[outer, j, inner] = x[outer, indices[j], inner] (indices already
    /// normalised to 0..<shape[axis]).
    static func gather<T>(_ x: UnsafePointer<T>, _ shape: [Int], axis: Int, indices: [Int], _ out: UnsafeMutablePointer<T>) {
        let outer = shape[..<axis].reduce(1, *), inner = shape[(axis + 1)...].reduce(1, *), n = shape[axis]
        for o in 0..<outer {
            for (j, index) in indices.enumerated() {
                (out + (o * indices.count + j) * inner).update(from: x + (o * n + index) * inner, count: inner)
            }
        }
    }

    /// Constant padding: pads = [begin₀…beginₖ, end₀…endₖ] (negative values crop).
    static func pad<T>(_ x: UnsafePointer<T>, _ shape: [Int], pads: [Int], value: T, _ out: UnsafeMutablePointer<T>) {
        let rank = shape.count
        let outShape = (0..<rank).map { shape[$0] + pads[$0] + pads[$0 + rank] }
        let total = outShape.reduce(1, *)
        guard total > 0 else { return }
        let inStrides = strides(shape)
        var index = [Int](repeating: 0, count: rank)
        for o in 0..<total {
            var src = 0, inside = true
            for d in 0..<rank {
                let i = index[d] - pads[d]
                if i < 0 || i >= shape[d] { inside = false; break }
                src += i * inStrides[d]
            }
            out[o] = inside ? x[src] : value
            var d = rank - 1
            while d >= 0 { index[d] += 1; if index[d] < outShape[d] { break }; index[d] = 0; d -= 1 }
        }
    }
}
