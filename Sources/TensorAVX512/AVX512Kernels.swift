/// The engine's register-blocked microkernels for x86-64 CPUs with AVX-512 (F, DQ, BW, VL:
/// Skylake-SP and later Xeons, Ice Lake, Sapphire Rapids, Zen 4).
///
/// This target alone is compiled with `-target-cpu skylake-avx512` (Package.swift), so
/// `SIMD16<Float>` is one zmm register and `addProduct` one `vfmadd231ps`. As in TensorAVX2,
/// nothing is `@inlinable` and the only callers are Tensor's fast paths, taken when
/// ``/Tensor/System/simd`` is `.avx512`. The operands are packed exactly as for the AVX2 kernels
/// (``/Tensor/PackedMatrix``: [⌈N/16⌉][K][16]; ``/Tensor/PackedConvWeights``: [⌈O/4⌉][K][4]),
/// so one packing serves both levels; these kernels take two of those blocks at a time.
///
/// Register blocks: GEMM 6 rows × 32 columns (two panels, 12 zmm accumulators: per step of the
/// reduction 2 loads, 6 broadcasts from memory, 12 fused multiply–adds — the AVX2 kernel's
/// shape at twice the width); convolution 8 channels × 32 positions (16 accumulators: 2 loads,
/// 8 broadcasts, 16 fused multiply–adds). Results differ from the AVX2 kernels' only by the order
/// of the additions, which is the same per output (k ascending): they are in fact equal.
#if arch(x86_64)
public enum AVX512Kernels {
    typealias V = SIMD16<Float>

    @inline(__always) static func load(_ p: UnsafePointer<Float>) -> V {
        UnsafeRawPointer(p).loadUnaligned(as: V.self)
    }
    @inline(__always) static func store(_ v: V, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: V.self)
    }
    @inline(__always) static func relu(_ v: inout V) {
        v.replace(with: V(), where: v .< V())
    }
    /// Stores the first `width` (≤ 32) floats of (a, b) at `dst`.
    @inline(__always) static func store(_ a: V, _ b: V, _ dst: UnsafeMutablePointer<Float>, _ width: Int) {
        if width == 32 { store(a, dst); store(b, dst + 16) } else { storePartial(a, b, dst, count: width) }
    }
    /// Stores the first `count` (< 32) floats of (a, b) at `dst`.
    @inline(__always) static func storePartial(_ a: V, _ b: V, _ dst: UnsafeMutablePointer<Float>, count: Int) {
        var pair = (a, b)
        withUnsafeBytes(of: &pair) { raw in
            dst.update(from: raw.baseAddress!.assumingMemoryBound(to: Float.self), count: count)
        }
    }

    /// A convolution block's epilogue: for each of its `rows` channels r, scale, shift,
    /// residual and ReLU of the block's 2 × 16 sums (`acc[32r ..< 32r + 32]`), stored as `width`
    /// positions at `dst + r·stride`; `scale`, `shift` at the block's first channel, `residual`
    /// at its first channel and position. The sums come through memory: a call taking SIMD
    /// values (when the inliner declines a large caller) passes each in pieces.
    struct Epilogue {
        let scale, shift, residual: UnsafePointer<Float>?
        let stride: Int
        let relu: Bool

        func finish(_ acc: UnsafePointer<Float>, rows: Int, width: Int, _ dst: UnsafeMutablePointer<Float>) {
            for r in 0..<rows {
                var a = load(acc + 32 * r), b = load(acc + 32 * r + 16)
                if let scale { let m = V(repeating: scale[r]); a *= m; b *= m }
                if let shift { let t = V(repeating: shift[r]); a += t; b += t }
                let out = dst + r * stride
                if width == 32 {
                    if let residual { a += load(residual + r * stride); b += load(residual + r * stride + 16) }
                    if relu { AVX512Kernels.relu(&a); AVX512Kernels.relu(&b) }
                    store(a, out); store(b, out + 16)
                } else {
                    if let residual {  // only `width` floats of the row are readable
                        var pair = (V(), V())
                        withUnsafeMutableBytes(of: &pair) { raw in
                            raw.baseAddress!.assumingMemoryBound(to: Float.self).update(from: residual + r * stride, count: width)
                        }
                        a += pair.0; b += pair.1
                    }
                    if relu { AVX512Kernels.relu(&a); AVX512Kernels.relu(&b) }
                    storePartial(a, b, out, count: width)
                }
            }
        }
    }

    /// Convolution as a sum of shifted inputs, weights broadcast, epilogue in registers:
    ///
    ///     out[o·outStride + p] = act(scale[o] · Σ_{k<K} w[o, k] · x[offsets[k] + p] + shift[o] + residual[o·outStride + p])     o < O, p < P
    ///
    /// Dimensions and operands as in `AVX2Kernels.convolve` (`packed` is [⌈O/4⌉][K][4]), except
    /// that `x` must be readable up to max(offsets) + P rounded up to **32**. Block: 8 channels
    /// (two packed blocks) × 32 positions, positions outer (a block's 32 columns of x stay in L1
    /// while every channel block passes over them); a last run of ≤ 16 positions takes 8 × 16;
    /// a last block of ≤ 4 channels reads its one packed block twice and stores half.
    public static func convolve(packed: UnsafePointer<Float>, outChannels O: Int, x: UnsafePointer<Float>,
                                offsets: UnsafePointer<Int>, depth: Int, positions P: Int,
                                out: UnsafeMutablePointer<Float>, outStride: Int,
                                scale: UnsafePointer<Float>?, shift: UnsafePointer<Float>?,
                                residual: UnsafePointer<Float>?, relu doRelu: Bool) {
        var p = 0
        while p < P {
            // A last run of ≤ 16 positions takes one vector per channel instead of two.
            let single = P - p <= 16
            let width = Swift.min(single ? 16 : 32, P - p)
            var ob = 0
            while ob < O {
                let rows = Swift.min(8, O - ob)
                let w0 = packed + (ob / 4) * depth * 4
                let w1 = rows > 4 ? w0 + depth * 4 : w0
                var a0 = V(), b0 = V(), a1 = V(), b1 = V(), a2 = V(), b2 = V(), a3 = V(), b3 = V()
                var a4 = V(), b4 = V(), a5 = V(), b5 = V(), a6 = V(), b6 = V(), a7 = V(), b7 = V()
                var u = w0, v = w1
                let xp = x + p
                if single {
                    for k in 0..<depth {
                        let x0 = load(xp + offsets[k])
                        a0.addProduct(V(repeating: u[0]), x0); a1.addProduct(V(repeating: u[1]), x0)
                        a2.addProduct(V(repeating: u[2]), x0); a3.addProduct(V(repeating: u[3]), x0)
                        a4.addProduct(V(repeating: v[0]), x0); a5.addProduct(V(repeating: v[1]), x0)
                        a6.addProduct(V(repeating: v[2]), x0); a7.addProduct(V(repeating: v[3]), x0)
                        u += 4; v += 4
                    }
                } else {
                    for k in 0..<depth {
                        let xt = xp + offsets[k]
                        let x0 = load(xt), x1 = load(xt + 16)
                        var s = V(repeating: u[0]); a0.addProduct(s, x0); b0.addProduct(s, x1)
                        s = V(repeating: u[1]); a1.addProduct(s, x0); b1.addProduct(s, x1)
                        s = V(repeating: u[2]); a2.addProduct(s, x0); b2.addProduct(s, x1)
                        s = V(repeating: u[3]); a3.addProduct(s, x0); b3.addProduct(s, x1)
                        s = V(repeating: v[0]); a4.addProduct(s, x0); b4.addProduct(s, x1)
                        s = V(repeating: v[1]); a5.addProduct(s, x0); b5.addProduct(s, x1)
                        s = V(repeating: v[2]); a6.addProduct(s, x0); b6.addProduct(s, x1)
                        s = V(repeating: v[3]); a7.addProduct(s, x0); b7.addProduct(s, x1)
                        u += 4; v += 4
                    }
                }
                var sums = (a0, b0, a1, b1, a2, b2, a3, b3, a4, b4, a5, b5, a6, b6, a7, b7)
                let e = Epilogue(scale: scale.map { $0 + ob }, shift: shift.map { $0 + ob },
                                 residual: residual.map { $0 + ob * outStride + p }, stride: outStride, relu: doRelu)
                withUnsafeBytes(of: &sums) { raw in
                    e.finish(raw.baseAddress!.assumingMemoryBound(to: Float.self), rows: rows, width: width, out + ob * outStride + p)
                }
                ob += 8
            }
            p += width
        }
    }

    /// Matrix product with B packed in panels of 16 columns, bias and ReLU applied in registers:
    ///
    ///     c[i·ldc + j] = act(Σ_{k<K} a[i·lda + k] · B[k, j] + bias[j])     i < M, j < N, j in the given panels
    ///
    /// Operands as in `AVX2Kernels.gemm` (`packedB` [⌈N/16⌉][K][16], `bias` ⌈N/16⌉·16 entries or
    /// nil). Panels are taken two at a time (6 rows × 32 columns); an odd last panel of `panels`
    /// reads its one panel twice and stores half.
    public static func gemm(a: UnsafePointer<Float>, lda: Int, rows M: Int, depth K: Int,
                            packedB: UnsafePointer<Float>, panels: Range<Int>, columns N: Int,
                            bias: UnsafePointer<Float>?, relu doRelu: Bool, c: UnsafeMutablePointer<Float>, ldc: Int) {
        var panel = panels.lowerBound
        while panel < panels.upperBound {
            let pair = panel + 1 < panels.upperBound
            let bp0 = packedB + panel * K * 16, bp1 = pair ? bp0 + K * 16 : bp0
            let j0 = panel * 16, width = Swift.min(pair ? 32 : 16, N - j0)
            let bias0 = bias.map { load($0 + j0) } ?? V()
            let bias1 = pair ? (bias.map { load($0 + j0 + 16) } ?? V()) : bias0
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
                var u = bp0, v = bp1
                for k in 0..<K {
                    let v0 = load(u), v1 = load(v)
                    var s = V(repeating: r0[k]); a0.addProduct(s, v0); b0.addProduct(s, v1)
                    s = V(repeating: r1[k]); a1.addProduct(s, v0); b1.addProduct(s, v1)
                    s = V(repeating: r2[k]); a2.addProduct(s, v0); b2.addProduct(s, v1)
                    s = V(repeating: r3[k]); a3.addProduct(s, v0); b3.addProduct(s, v1)
                    s = V(repeating: r4[k]); a4.addProduct(s, v0); b4.addProduct(s, v1)
                    s = V(repeating: r5[k]); a5.addProduct(s, v0); b5.addProduct(s, v1)
                    u += 16; v += 16
                }
                if doRelu {
                    relu(&a0); relu(&b0); relu(&a1); relu(&b1); relu(&a2); relu(&b2)
                    relu(&a3); relu(&b3); relu(&a4); relu(&b4); relu(&a5); relu(&b5)
                }
                let o = c + i * ldc + j0
                store(a0, b0, o, width)
                if rows > 1 { store(a1, b1, o + ldc, width) }
                if rows > 2 { store(a2, b2, o + 2 * ldc, width) }
                if rows > 3 { store(a3, b3, o + 3 * ldc, width) }
                if rows > 4 { store(a4, b4, o + 4 * ldc, width) }
                if rows > 5 { store(a5, b5, o + 5 * ldc, width) }
                i += 6
            }
            panel += pair ? 2 : 1
        }
    }
}
#endif
