import Dispatch
import Tensor

/// The 2-D convolution forward shared by NN's `Conv2D` and ONNX's `Conv`: batched im2col and
/// one GEMM per group.
///
/// Dimensions: B = batch, C = input channels, H×W = input size, O = output channels,
/// G = groups (C and O divisible by G; G = C is depthwise), KH×KW = kernel, SH/SW = strides,
/// DH/DW = dilations, PT/PL/PB/PR = pads (top, left, bottom, right),
/// OH = (H + PT + PB − DH·(KH−1) − 1)/SH + 1, OW likewise, L = OH·OW, N = B·L,
/// Kg = (C/G)·KH·KW patch length of a group, K = G·Kg.
///
///     cols[K × N]    row (c, kh, kw), column (n, oh, ow) = x[n, c, oh·SH − PT + kh·DH, ow·SW − PL + kw·DW] (0 outside)
///     Y'_g[Og × N]   = W_g · cols_g          W_g = weight[g·Og ..< (g+1)·Og, C/G, KH, KW], cols_g = rows g·Kg ..< (g+1)·Kg
///     y[n, o, l]     = Y'[o, n·L + l] + b[o]
///
/// Channel-major columns (Caffe's layout) make every im2col row a contiguous run of output
/// positions; a group's rows and weights are contiguous blocks.
public struct Conv2DKernel: Sendable, Equatable {
    public let channels, height, width, outChannels, groups: Int
    public let kernelH, kernelW, strideH, strideW, dilationH, dilationW: Int
    public let padTop, padLeft, padBottom, padRight: Int
    public let outHeight, outWidth: Int

    /// Nil when the geometry is invalid (channels not divisible by groups, a kernel larger than
    /// the padded input, non-positive sizes).
    public init?(channels: Int, height: Int, width: Int, outChannels: Int, kernelH: Int, kernelW: Int,
                 strideH: Int = 1, strideW: Int = 1, dilationH: Int = 1, dilationW: Int = 1,
                 padTop: Int = 0, padLeft: Int = 0, padBottom: Int = 0, padRight: Int = 0, groups: Int = 1) {
        guard channels > 0, outChannels > 0, groups > 0, channels % groups == 0, outChannels % groups == 0,
              kernelH > 0, kernelW > 0, strideH > 0, strideW > 0, dilationH > 0, dilationW > 0,
              min(padTop, padLeft, padBottom, padRight) >= 0 else { return nil }
        let spanH = dilationH * (kernelH - 1) + 1, spanW = dilationW * (kernelW - 1) + 1
        guard height + padTop + padBottom >= spanH, width + padLeft + padRight >= spanW else { return nil }
        self.channels = channels; self.height = height; self.width = width; self.outChannels = outChannels
        self.groups = groups; self.kernelH = kernelH; self.kernelW = kernelW
        self.strideH = strideH; self.strideW = strideW; self.dilationH = dilationH; self.dilationW = dilationW
        self.padTop = padTop; self.padLeft = padLeft; self.padBottom = padBottom; self.padRight = padRight
        outHeight = (height + padTop + padBottom - spanH) / strideH + 1
        outWidth = (width + padLeft + padRight - spanW) / strideW + 1
    }

    /// K = C·KH·KW rows of the im2col matrix.
    public var patch: Int { channels * kernelH * kernelW }
    /// L = OH·OW output positions per sample.
    public var positions: Int { outHeight * outWidth }
    /// Elements of the weight tensor [O, C/G, KH, KW].
    public var weightCount: Int { outChannels * patch / groups }
    /// Multiply–adds ×2 of one sample, plus the bias.
    public var flopsPerSample: Int { 2 * weightCount * positions + outChannels * positions }

    /// y[B, O, OH, OW] = conv(x[B, C, H, W], weight) + bias (bias nil: none). `cols` and `yt`
    /// are the caller's workspaces (grown as needed); `cols` keeps the im2col matrix.
    public func forward(_ x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                        _ y: UnsafeMutablePointer<Float>, batch: Int, cols: inout FloatBuffer, yt: inout FloatBuffer) {
        let L = positions, K = patch, O = outChannels, N = batch * L, G = groups
        let Kg = K / G, Og = O / G
        let colsP = cols.reserve(K * N)
        let yp = yt.reserve(O * N)
        im2col(x, colsP, batch: batch)
        for g in 0..<G {
            gemm(.no, .no, m: Og, n: N, k: Kg, weight + g * Og * Kg, colsP + g * Kg * N, yp + g * Og * N)
        }
        // y[n, o, :] = Y'[o, n·L ..< (n+1)·L] + b[o]
        let src = SendablePointer(yp), dst = SendablePointer(y), b = bias.map { SendablePointer($0) }
        Parallel.chunks(batch, minimumPerWorker: max(1, (1 << 15) / max(1, L * O))) { range in
            for n in range {
                for o in 0..<O {
                    let d = dst.base + (n * O + o) * L
                    d.update(from: src.base + o * N + n * L, count: L)
                    if let b {
                        let bo = b.base[o]
                        for l in 0..<L { d[l] += bo }
                    }
                }
            }
        }
    }

    /// Inference-time batch normalisation after a convolution, per output channel (ONNX's
    /// BatchNormalization fused into Conv): `y = gain·((v − mean)·1/√(variance + ε)) + beta`.
    public struct ChannelNorm: @unchecked Sendable {
        public let gain, beta, mean, variance: UnsafePointer<Float>
        public let epsilon: Float
        public init(gain: UnsafePointer<Float>, beta: UnsafePointer<Float>, mean: UnsafePointer<Float>,
                    variance: UnsafePointer<Float>, epsilon: Float) {
            self.gain = gain; self.beta = beta; self.mean = mean; self.variance = variance; self.epsilon = epsilon
        }
    }

    /// Inference forward: y[B, O, OH, OW] = act(norm(conv(x, weight) + bias)), sample by sample.
    ///
    /// Each core takes a contiguous range of samples; per sample it builds the im2col block
    /// cols[K × L] in its own slice of `cols` (small enough to stay in cache; skipped for a 1×1,
    /// stride-1, unpadded kernel, whose columns are x itself), runs one single-threaded GEMM per
    /// group straight into y[n] (Y_n[O × L] = W · cols_n, no re-layout) and applies the bias,
    /// `norm` and ReLU to each channel's row while it is in cache (``Vector/channelEpilogue``).
    /// Nothing is kept for a backward pass (training uses ``forward``).
    public func infer(_ x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                      norm: ChannelNorm?, relu: Bool, _ y: UnsafeMutablePointer<Float>, batch: Int, cols: inout FloatBuffer) {
        let L = positions, K = patch, O = outChannels, G = groups, Kg = K / G, Og = O / G
        let sampleIn = channels * height * width
        let direct = kernelH == 1 && kernelW == 1 && strideH == 1 && strideW == 1
            && padTop == 0 && padLeft == 0 && padBottom == 0 && padRight == 0
        // Enough multiply–adds per core to pay for waking the other one (as Parallel.chunks).
        let parts = Swift.max(1, Swift.min(Parallel.workers, batch, batch * O * K * L / (1 << 18)))
        let colsP = SendablePointer(cols.reserve(direct ? 1 : parts * K * L))
        let xs = SendablePointer(x), ws = SendablePointer(weight), ys = SendablePointer(y)
        let b = bias.map { SendablePointer($0) }
        var scale = [Float](repeating: 1, count: norm == nil ? 0 : O)
        if let norm { for o in 0..<O { scale[o] = 1 / (norm.variance[o] + norm.epsilon).squareRoot() } }
        let inv = scale
        let step = (batch + parts - 1) / parts
        let ranges = (0..<kernelW).map(validColumns)
        let body = { @Sendable (p: Int) in
            let c = colsP.base + p * K * L
            // Padding cells are the same zeros for every sample: cleared once, never rewritten.
            if !direct { c.update(repeating: 0, count: K * L) }
            for n in (p * step)..<Swift.min(batch, (p + 1) * step) {
                let xn = UnsafePointer(xs.base + n * sampleIn), yn = ys.base + n * O * L
                let src: UnsafePointer<Float>
                if direct { src = xn } else { self.im2colInside(xn, c, ranges); src = UnsafePointer(c) }
                for g in 0..<G {
                    gemm(.no, .no, m: Og, n: L, k: Kg, ws.base + g * Og * Kg, src + g * Kg * L, yn + g * Og * L)
                }
                for o in 0..<O {
                    Vector.channelEpilogue(yn + o * L, L, bias: b?.base[o],
                                           norm: norm.map { ($0.mean[o], inv[o], $0.gain[o], $0.beta[o]) }, relu: relu)
                }
            }
        }
        if parts == 1 { body(0) } else { DispatchQueue.concurrentPerform(iterations: parts, execute: body) }
    }

    /// One sample's im2col block cols[K × L], writing only the cells inside the input (the
    /// padding cells must already be 0); short rows are copied inline rather than by memmove.
    @inline(__always)
    func im2colInside(_ x: UnsafePointer<Float>, _ cols: UnsafeMutablePointer<Float>, _ ranges: [Range<Int>]) {
        let H = height, W = width, KH = kernelH, KW = kernelW, SH = strideH, SW = strideW
        let PT = padTop, PL = padLeft, DH = dilationH, DW = dilationW, OH = outHeight, OW = outWidth, L = positions
        let end = x + channels * H * W
        for ch in 0..<channels {
            let xc = x + ch * H * W
            for kh in 0..<KH {
                for kw in 0..<KW {
                    let row = cols + ((ch * KH + kh) * KW + kw) * L
                    let valid = ranges[kw]
                    guard !valid.isEmpty else { continue }
                    for oh in 0..<OH {
                        let h = oh * SH - PT + kh * DH
                        guard h >= 0 && h < H else { continue }
                        let out = row + oh * OW, xr = xc + h * W - PL + kw * DW
                        if SW == 1 {
                            Self.copyRow(out + valid.lowerBound, xr + valid.lowerBound, valid.count)
                        } else if SW == 2 {
                            // 8 outputs from 16 consecutive inputs, while those lie inside the sample;
                            // the row's last 8 overlap the block before rather than a scalar tail.
                            @inline(__always) func eight(_ ow: Int) {
                                UnsafeMutableRawPointer(out + ow).storeBytes(
                                    of: UnsafeRawPointer(xr + 2 * ow).loadUnaligned(as: SIMD16<Float>.self).evenHalf, as: SIMD8<Float>.self)
                            }
                            var ow = valid.lowerBound
                            while ow + 8 <= valid.upperBound && xr + 2 * ow + 16 <= end { eight(ow); ow += 8 }
                            let last = valid.upperBound - 8
                            if ow < valid.upperBound && last >= valid.lowerBound && xr + 2 * last + 16 <= end {
                                eight(last); ow = valid.upperBound
                            }
                            while ow < valid.upperBound { out[ow] = xr[2 * ow]; ow += 1 }
                        } else {
                            for ow in valid { out[ow] = xr[ow * SW] }
                        }
                    }
                }
            }
        }
    }

    /// `dst[0..<n] = src[0..<n]` for short rows: whole vectors, the last one overlapping the
    /// previous (no call, no scalar tail below 4 elements).
    @inline(__always)
    static func copyRow(_ dst: UnsafeMutablePointer<Float>, _ src: UnsafePointer<Float>, _ n: Int) {
        func move<V: SIMD>(_: V.Type, _ i: Int) where V.Scalar == Float {
            UnsafeMutableRawPointer(dst + i).storeBytes(of: UnsafeRawPointer(src + i).loadUnaligned(as: V.self), as: V.self)
        }
        if n >= 16 {
            var i = 0
            while i + 16 <= n { move(SIMD16<Float>.self, i); i += 16 }
            if i < n { move(SIMD16<Float>.self, n - 16) }
        } else if n >= 8 {
            move(SIMD8<Float>.self, 0); move(SIMD8<Float>.self, n - 8)
        } else if n >= 4 {
            move(SIMD4<Float>.self, 0); move(SIMD4<Float>.self, n - 4)
        } else {
            for i in 0..<n { dst[i] = src[i] }
        }
    }

    /// Output columns `ow` whose input column `ow·SW − PL + kw·DW` lies inside `0..<W`.
    @inline(__always)
    public func validColumns(_ kw: Int) -> Range<Int> {
        // ow·S − P + kw·D ≥ 0  ⇔  ow ≥ ⌈(P − kw·D)/S⌉;   ow·S − P + kw·D ≤ W − 1  ⇔  ow ≤ ⌊(W − 1 + P − kw·D)/S⌋
        let offset = kw * dilationW
        let lo = max(0, (padLeft - offset + strideW - 1) / strideW)
        let hiNumerator = width - 1 + padLeft - offset
        let hi = hiNumerator < 0 ? 0 : min(outWidth, hiNumerator / strideW + 1)
        return lo..<max(lo, hi)
    }

    /// Gathers every receptive field into a column of `cols[K × B·L]` (0 where it overlaps padding).
    public func im2col(_ x: UnsafePointer<Float>, _ cols: UnsafeMutablePointer<Float>, batch: Int) {
        let C = channels, H = height, W = width, KH = kernelH, KW = kernelW
        let SH = strideH, SW = strideW, PT = padTop, PL = padLeft, DH = dilationH, DW = dilationW
        let OH = outHeight, OW = outWidth, L = positions, N = batch * L
        let ranges = (0..<KW).map(validColumns)
        let xs = SendablePointer(x), cs = SendablePointer(cols)
        Parallel.chunks(batch, minimumPerWorker: max(1, (1 << 15) / max(1, L * patch))) { range in
            for n in range {
                for c in 0..<C {
                    let xc = xs.base + (n * C + c) * H * W
                    for kh in 0..<KH {
                        for kw in 0..<KW {
                            let row = cs.base + ((c * KH + kh) * KW + kw) * N + n * L
                            let valid = ranges[kw]
                            for oh in 0..<OH {
                                let out = row + oh * OW
                                let h = oh * SH - PT + kh * DH
                                guard h >= 0 && h < H, !valid.isEmpty else { out.update(repeating: 0, count: OW); continue }
                                if valid.lowerBound > 0 { out.update(repeating: 0, count: valid.lowerBound) }
                                let xr = xc + h * W - PL + kw * DW
                                if SW == 1 {
                                    (out + valid.lowerBound).update(from: xr + valid.lowerBound, count: valid.count)
                                } else {
                                    for ow in valid { out[ow] = xr[ow * SW] }
                                }
                                if valid.upperBound < OW { (out + valid.upperBound).update(repeating: 0, count: OW - valid.upperBound) }
                            }
                        }
                    }
                }
            }
        }
    }
}
