import Dispatch
import Tensor

/// Inference convolution on the microkernels (TensorAVX2's or TensorAVX512's, as the CPU allows;
/// ONNX teachers).
///
/// Dimensions as in ``Conv2DKernel``; Hp = H + PT + PB is the padded input's height.
///
/// Stride 1 (every "same" convolution): no im2col. For each kernel column kw the sample is
/// copied once into a shifted, zero-padded plane xs_kw[C, Hp, OW] holding
/// xs_kw[c, h', ow] = x[c, h' − PT, ow − PL + kw·DW] (0 outside), so that the tap (kh, kw) of
/// output position q = oh·OW + ow reads xs_kw[c, kh·DH·OW + q]: one contiguous run of positions
/// per tap, and the kernel writes y[n, o, :] directly with the bias, normalisation and ReLU
/// applied in registers:
///
///     y[n, o, q] = act(s[o] · Σ_c Σ_kh Σ_kw W[o, c, kh, kw] · xs_kw[c, kh·DH·OW + q] + t[o])
///     s[o] = gain·inv, t[o] = gain·(b[o] − mean)·inv + beta, inv = 1/√(var + ε)   (no norm: s = 1, t = b)
///
/// Other strides build the per-sample im2col block cols[K × L] as ``infer`` does and run the
/// same kernel over it with one tap. Groups > 1 keep ``infer``.
extension Conv2DKernel {
    /// Whether ``infer(_:packed:bias:norm:relu:_:batch:scratch:)`` can run this convolution.
    public var packable: Bool { groups == 1 && System.simd.hasMicrokernels }

    /// The weights [O, C, KH, KW] packed for the microkernel (once per model).
    public func pack(_ weight: UnsafePointer<Float>) -> PackedConvWeights {
        PackedConvWeights(weight, outChannels: outChannels, depth: patch)
    }

    /// y[B, O, OH, OW] = act(norm(conv(x, W) + bias) + residual) with W packed by ``pack(_:)``
    /// (`residual`, when given, is [B, O, OH, OW]: a residual connection's other branch); each core
    /// takes a range of samples and keeps its shifted planes (or im2col block) in its slice of
    /// `scratch`. `level` picks the kernel (tests compare both on one machine).
    public func infer(_ x: UnsafePointer<Float>, packed: PackedConvWeights, bias: UnsafePointer<Float>?, norm: ChannelNorm?,
                      residual: UnsafePointer<Float>? = nil,
                      relu: Bool, _ y: UnsafeMutablePointer<Float>, batch: Int, scratch: inout FloatBuffer,
                      workers: Int = Parallel.workers, level: SIMDLevel = System.simd) {
        precondition(groups == 1 && level.hasMicrokernels && packed.outChannels == outChannels && packed.depth == patch, "weights packed for another convolution")
        let O = outChannels, C = channels, H = height, W = width, L = positions, OW = outWidth, K = patch
        let KW = kernelW, PT = padTop, PL = padLeft, DW = dilationW
        let shifted = strideH == 1 && strideW == 1
        let plane = shifted ? (H + padTop + padBottom) * OW : L
        // Readable bounds of the kernels: max offset + L rounded up to the position block.
        let slice = shifted ? KW * C * plane + PackedConvWeights.overread : K * L + PackedConvWeights.overread
        let parts = Swift.max(1, Swift.min(workers, batch, batch * O * K * L / (1 << 18)))
        let base = SendablePointer(scratch.reserve(parts * slice))
        // Where row k = (c, kh, kw) of the product reads its run of positions.
        let offsets = shifted
            ? (0..<C).flatMap { c in (0..<kernelH).flatMap { kh in (0..<KW).map { kw in (kw * C + c) * plane + kh * dilationH * OW } } }
            : (0..<K).map { $0 * L }
        let ranges = (0..<KW).map(validColumns)
        // The epilogue as one multiply and one add per channel.
        var scale: [Float]? = nil, shift: [Float]? = bias.map { Array(UnsafeBufferPointer(start: $0, count: O)) }
        if let norm {
            var s = [Float](repeating: 0, count: O), t = [Float](repeating: 0, count: O)
            for o in 0..<O {
                let inv = 1 / (norm.variance[o] + norm.epsilon).squareRoot()
                s[o] = norm.gain[o] * inv
                t[o] = norm.gain[o] * (((bias?[o] ?? 0) - norm.mean[o]) * inv) + norm.beta[o]
            }
            scale = s; shift = t
        }
        let epilogue = (scale, shift)
        let xs = SendablePointer(x), ys = SendablePointer(y), rs = residual.map { SendablePointer($0) }
        let step = (batch + parts - 1) / parts
        let body = { @Sendable (part: Int) in
            let input = base.base + part * slice
            // Padding cells are the same zeros for every sample: cleared once, never rewritten.
            input.update(repeating: 0, count: slice)
            offsets.withUnsafeBufferPointer { offs in
                for n in (part * step)..<Swift.min(batch, (part + 1) * step) {
                    let xn = UnsafePointer(xs.base + n * C * H * W)
                    if shifted {
                        for kw in 0..<KW {
                            let valid = ranges[kw]
                            guard !valid.isEmpty else { continue }
                            let shift = kw * DW - PL  // input column = ow + shift
                            for c in 0..<C {
                                let dst = input + (kw * C + c) * plane + PT * OW, src = xn + c * H * W
                                if OW == W {
                                    // "Same" padding: one flat copy shifted by `shift`; the cells that
                                    // received a neighbouring row's value (ow outside `valid`) are cleared.
                                    let lo = Swift.max(0, -shift), hi = H * W - Swift.max(0, shift)
                                    (dst + lo).update(from: src + lo + shift, count: hi - lo)
                                    if valid.count < OW {
                                        for h in 0..<H {
                                            let row = dst + h * OW
                                            for ow in 0..<valid.lowerBound { row[ow] = 0 }
                                            for ow in valid.upperBound..<OW { row[ow] = 0 }
                                        }
                                    }
                                } else {
                                    for h in 0..<H {
                                        Self.copyRow(dst + h * OW + valid.lowerBound, src + h * W + valid.lowerBound + shift, valid.count)
                                    }
                                }
                            }
                        }
                    } else {
                        self.im2colInside(xn, input, ranges)
                    }
                    Self.withEpilogue(epilogue) { s, t in
                        packed.convolve(input, offsets: offs.baseAddress!, positions: L, into: ys.base + n * O * L, outStride: L,
                                        scale: s, shift: t, residual: rs.map { UnsafePointer($0.base + n * O * L) },
                                        relu: relu, level: level)
                    }
                }
            }
        }
        if parts == 1 { body(0) } else { DispatchQueue.concurrentPerform(iterations: parts, execute: body) }
    }

    @inline(__always)
    private static func withEpilogue(_ e: ([Float]?, [Float]?), _ body: (UnsafePointer<Float>?, UnsafePointer<Float>?) -> Void) {
        func with(_ a: [Float]?, _ f: (UnsafePointer<Float>?) -> Void) {
            guard let a else { f(nil); return }
            a.withUnsafeBufferPointer { f($0.baseAddress) }
        }
        with(e.0) { s in with(e.1) { t in body(s, t) } }
    }
}
