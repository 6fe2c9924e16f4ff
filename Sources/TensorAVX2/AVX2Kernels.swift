/// The engine's register-blocked microkernels for x86-64 CPUs with AVX2 and FMA.
///
/// This target alone is compiled with `-target-cpu haswell` (Package.swift), so `SIMD8<Float>`
/// is one ymm register and `addProduct` one `vfmadd231ps`. Nothing here is `@inlinable`: no
/// AVX2 instruction can leak into the portable targets, and the only callers are Tensor's and
/// NN's fast paths, taken when ``/Tensor/System/simd`` is `.avx2` (checked once, from the CPU's
/// flags). Every other machine runs the OpenBLAS paths.
///
/// Both kernels keep a block of the result in 12 accumulators (GEMM: 6 rows × two 8-float
/// vectors; convolution: 4 channels × three vectors) and per step of the reduction load two or
/// three vectors and broadcast six or four scalars — 12 fused multiply–adds for 7–8 loads, the
/// shape of MLAS's and OpenBLAS's Haswell kernels (measured alone on one Zen 3 core, from L1:
/// 99 GFLOP/s, about the core's peak).
/// Results differ from OpenBLAS's only by the order of the additions (≤ a few ulp·K).
#if arch(x86_64)
public enum AVX2Kernels {
    typealias V = SIMD8<Float>

    @inline(__always) static func load(_ p: UnsafePointer<Float>) -> V {
        UnsafeRawPointer(p).loadUnaligned(as: V.self)
    }
    @inline(__always) static func store(_ v: V, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: V.self)
    }

    /// A convolution block's epilogue: for each of its `rows` channels r, scale, shift,
    /// residual and ReLU of the block's 3 × 8 sums (`acc[24r ..< 24r + 24]`), stored as `width`
    /// positions at `dst + r·stride`; `scale`, `shift` at the block's first channel, `residual`
    /// at its first channel and position. The sums come through memory: a call taking SIMD
    /// values (when the inliner declines a large caller) passes each in pieces.
    struct Epilogue {
        let scale, shift, residual: UnsafePointer<Float>?
        let stride: Int
        let relu: Bool

        func finish(_ acc: UnsafePointer<Float>, rows: Int, width: Int, _ dst: UnsafeMutablePointer<Float>) {
            let zero = V()
            for r in 0..<rows {
                var a = load(acc + 24 * r), b = load(acc + 24 * r + 8), c = load(acc + 24 * r + 16)
                if let scale { let m = V(repeating: scale[r]); a *= m; b *= m; c *= m }
                if let shift { let t = V(repeating: shift[r]); a += t; b += t; c += t }
                let out = dst + r * stride
                if let residual {
                    let src = residual + r * stride
                    if width == 24 {
                        a += load(src); b += load(src + 8); c += load(src + 16)
                    } else {
                        var three = (V(), V(), V())  // only `width` floats of the row are readable
                        withUnsafeMutableBytes(of: &three) { raw in
                            raw.baseAddress!.assumingMemoryBound(to: Float.self).update(from: src, count: width)
                        }
                        a += three.0; b += three.1; c += three.2
                    }
                }
                if relu {
                    a.replace(with: zero, where: a .< zero); b.replace(with: zero, where: b .< zero)
                    c.replace(with: zero, where: c .< zero)
                }
                if width == 24 {
                    store(a, out); store(b, out + 8); store(c, out + 16)
                } else {
                    var partial = (a, b, c)  // the last, partial block of a row, stored then copied
                    withUnsafeBytes(of: &partial) { raw in
                        out.update(from: raw.baseAddress!.assumingMemoryBound(to: Float.self), count: width)
                    }
                }
            }
        }
    }

    /// Convolution as a sum of shifted inputs, weights broadcast, epilogue in registers:
    ///
    ///     out[o·outStride + p] = act(scale[o] · Σ_{k<K} w[o, k] · x[offsets[k] + p] + shift[o] + residual[o·outStride + p])     o < O, p < P
    ///
    /// Dimensions: O = output channels, K = depth (C·KH·KW: `offsets[k]` for k = (c, kh, kw)
    /// locates channel c's plane shifted for the tap; or C·KH·KW rows of an im2col block),
    /// P = output positions. `packed` holds the weights as [⌈O/4⌉][K][4]
    /// (``/Tensor/PackedConvWeights``); `x` must be readable up to max(offsets) + P rounded up
    /// to 24. `scale` nil means 1, `shift` and `residual` nil mean 0 (a residual connection's
    /// other branch, read only at the P positions of each row, like `out`); `act` is ReLU
    /// (`v < 0 ? 0 : v`) when `relu`. Exactly P positions of each row are written.
    ///
    /// The register block is 4 channels × 24 positions (3 vectors): per tap 3 loads, 4
    /// broadcasts, 12 fused multiply–adds. Channel counts are multiples of 4 far more often than
    /// of 6, so no lanes are wasted on them.
    public static func convolve(packed: UnsafePointer<Float>, outChannels O: Int, x: UnsafePointer<Float>,
                                offsets: UnsafePointer<Int>, depth: Int, positions P: Int,
                                out: UnsafeMutablePointer<Float>, outStride: Int,
                                scale: UnsafePointer<Float>?, shift: UnsafePointer<Float>?,
                                residual: UnsafePointer<Float>?, relu: Bool) {
        var ob = 0
        while ob < O {
            let panel = packed + (ob / 4) * depth * 4
            let rows = Swift.min(4, O - ob)
            var p = 0
            while p < P {
                var a0 = V(), b0 = V(), c0 = V(), a1 = V(), b1 = V(), c1 = V()
                var a2 = V(), b2 = V(), c2 = V(), a3 = V(), b3 = V(), c3 = V()
                var w = panel
                let xp = x + p
                for k in 0..<depth {
                    let xt = xp + offsets[k]
                    let v0 = load(xt), v1 = load(xt + 8), v2 = load(xt + 16)
                    var s = V(repeating: w[0]); a0.addProduct(s, v0); b0.addProduct(s, v1); c0.addProduct(s, v2)
                    s = V(repeating: w[1]); a1.addProduct(s, v0); b1.addProduct(s, v1); c1.addProduct(s, v2)
                    s = V(repeating: w[2]); a2.addProduct(s, v0); b2.addProduct(s, v1); c2.addProduct(s, v2)
                    s = V(repeating: w[3]); a3.addProduct(s, v0); b3.addProduct(s, v1); c3.addProduct(s, v2)
                    w += 4
                }
                var sums = (a0, b0, c0, a1, b1, c1, a2, b2, c2, a3, b3, c3)
                let e = Epilogue(scale: scale.map { $0 + ob }, shift: shift.map { $0 + ob },
                                 residual: residual.map { $0 + ob * outStride + p }, stride: outStride, relu: relu)
                withUnsafeBytes(of: &sums) { raw in
                    e.finish(raw.baseAddress!.assumingMemoryBound(to: Float.self), rows: rows, width: Swift.min(24, P - p),
                             out + ob * outStride + p)
                }
                p += 24
            }
            ob += 4
        }
    }

    /// Matrix product with B packed in panels of 16 columns, bias and ReLU applied in registers:
    ///
    ///     c[i·ldc + j] = act(Σ_{k<K} a[i·lda + k] · B[k, j] + bias[j])     i < M, j < N, j in the given panels
    ///
    /// Dimensions: M = rows of A and C, K = depth, N = columns of C. `packedB` is
    /// [⌈N/16⌉][K][16] (columns past N zero), `bias` (nil: none) has ⌈N/16⌉·16 entries, `act` is
    /// ReLU (`x < 0 ? 0 : x`) when `relu`. Only `panels` (a range of panel indices) is computed,
    /// so that threads can split the columns.
    public static func gemm(a: UnsafePointer<Float>, lda: Int, rows M: Int, depth K: Int,
                            packedB: UnsafePointer<Float>, panels: Range<Int>, columns N: Int,
                            bias: UnsafePointer<Float>?, relu: Bool, c: UnsafeMutablePointer<Float>, ldc: Int) {
        let zero = V()
        var tail = (V(), V())  // a partial panel's row, stored then copied
        for panel in panels {
            let bp = packedB + panel * K * 16
            let j0 = panel * 16, width = Swift.min(16, N - j0)
            let bias0 = bias.map { load($0 + j0) } ?? zero, bias1 = bias.map { load($0 + j0 + 8) } ?? zero
            var i = 0
            while i < M {
                let rows = Swift.min(6, M - i)
                // Rows past M repeat the last row (computed, never stored).
                let r0 = a + i * lda
                let r1 = a + Swift.min(i + 1, M - 1) * lda, r2 = a + Swift.min(i + 2, M - 1) * lda
                let r3 = a + Swift.min(i + 3, M - 1) * lda, r4 = a + Swift.min(i + 4, M - 1) * lda
                let r5 = a + Swift.min(i + 5, M - 1) * lda
                var a0 = bias0, b0 = bias1, a1 = bias0, b1 = bias1, a2 = bias0, b2 = bias1
                var a3 = bias0, b3 = bias1, a4 = bias0, b4 = bias1, a5 = bias0, b5 = bias1
                var bk = bp
                for k in 0..<K {
                    let v0 = load(bk), v1 = load(bk + 8)
                    var s = V(repeating: r0[k]); a0.addProduct(s, v0); b0.addProduct(s, v1)
                    s = V(repeating: r1[k]); a1.addProduct(s, v0); b1.addProduct(s, v1)
                    s = V(repeating: r2[k]); a2.addProduct(s, v0); b2.addProduct(s, v1)
                    s = V(repeating: r3[k]); a3.addProduct(s, v0); b3.addProduct(s, v1)
                    s = V(repeating: r4[k]); a4.addProduct(s, v0); b4.addProduct(s, v1)
                    s = V(repeating: r5[k]); a5.addProduct(s, v0); b5.addProduct(s, v1)
                    bk += 16
                }
                if relu {
                    a0.replace(with: zero, where: a0 .< zero); b0.replace(with: zero, where: b0 .< zero)
                    a1.replace(with: zero, where: a1 .< zero); b1.replace(with: zero, where: b1 .< zero)
                    a2.replace(with: zero, where: a2 .< zero); b2.replace(with: zero, where: b2 .< zero)
                    a3.replace(with: zero, where: a3 .< zero); b3.replace(with: zero, where: b3 .< zero)
                    a4.replace(with: zero, where: a4 .< zero); b4.replace(with: zero, where: b4 .< zero)
                    a5.replace(with: zero, where: a5 .< zero); b5.replace(with: zero, where: b5 .< zero)
                }
                let o = c + i * ldc + j0
                if width == 16 {
                    store(a0, o); store(b0, o + 8)
                    if rows > 1 { store(a1, o + ldc); store(b1, o + ldc + 8) }
                    if rows > 2 { store(a2, o + 2 * ldc); store(b2, o + 2 * ldc + 8) }
                    if rows > 3 { store(a3, o + 3 * ldc); store(b3, o + 3 * ldc + 8) }
                    if rows > 4 { store(a4, o + 4 * ldc); store(b4, o + 4 * ldc + 8) }
                    if rows > 5 { store(a5, o + 5 * ldc); store(b5, o + 5 * ldc + 8) }
                } else {
                    let results = [(a0, b0), (a1, b1), (a2, b2), (a3, b3), (a4, b4), (a5, b5)]
                    for r in 0..<rows {
                        tail = results[r]
                        withUnsafeBytes(of: &tail) { raw in
                            (o + r * ldc).update(from: raw.baseAddress!.assumingMemoryBound(to: Float.self), count: width)
                        }
                    }
                }
                i += 6
            }
        }
    }
}
#endif
