import Tensor

/// 2-D convolution (cross-correlation, as in PyTorch) by batched im2col and one GEMM.
///
/// Dimensions: B = batch, C = input channels, H×W = input size, O = output channels,
/// KH×KW = kernel, S = stride, P = padding, OH = (H + 2P − KH)/S + 1, OW likewise,
/// L = OH·OW output positions, K = C·KH·KW patch length.
///
///     cols[B·L × K]   row (n, oh, ow), column (c, kh, kw) = x[n, c, oh·S − P + kh, ow·S − P + kw] (0 outside)
///     Yt[B·L × O]     = cols · Wᵀ                 W[O × K] = weight[O, C, KH, KW]
///     y[n, o, l]      = Yt[n·L + l, o] + b[o]
///
/// Backward: `dW += dYtᵀ · cols`, `db += Σ dy`, `dcols = dYt · W`, `dx = col2im(dcols)`.
/// Initialisation (PyTorch default): W, b ~ U(−1/√K, 1/√K).
public final class Conv2D: Layer {
    public let inChannels, outChannels, kernel, stride, padding: Int
    public let height, width, outHeight, outWidth: Int
    private var weight: UnsafeMutablePointer<Float>!
    private var bias: UnsafeMutablePointer<Float>!
    private var dWeight: UnsafeMutablePointer<Float>!
    private var dBias: UnsafeMutablePointer<Float>!
    private var cols = FloatBuffer()
    private var yt = FloatBuffer()

    /// Errors when the kernel does not fit the (padded) input.
    public init(inputShape: [Int], outChannels: Int, kernel: Int, stride: Int = 1, padding: Int = 0) throws(ModelSpecError) {
        guard inputShape.count == 3 else {
            throw .invalid("conv needs a [channels, height, width] input, got \(inputShape)")
        }
        inChannels = inputShape[0]; height = inputShape[1]; width = inputShape[2]
        self.outChannels = outChannels; self.kernel = kernel; self.stride = stride; self.padding = padding
        guard outChannels > 0, kernel > 0, stride > 0, padding >= 0 else {
            throw .invalid("conv needs channels, kernel, stride > 0 and padding ≥ 0")
        }
        guard height + 2 * padding >= kernel, width + 2 * padding >= kernel else {
            throw .invalid("conv kernel \(kernel) does not fit input \(height)×\(width) with padding \(padding)")
        }
        outHeight = (height + 2 * padding - kernel) / stride + 1
        outWidth = (width + 2 * padding - kernel) / stride + 1
    }

    private var patch: Int { inChannels * kernel * kernel }
    private var positions: Int { outHeight * outWidth }

    public var kind: String { "Conv2D" }
    public var details: String { "\(inChannels)→\(outChannels) k\(kernel) s\(stride) p\(padding)" }
    public var inputShape: [Int] { [inChannels, height, width] }
    public var outputShape: [Int] { [outChannels, outHeight, outWidth] }
    public var parameterSlots: [TensorSlot] {
        [TensorSlot("weight", [outChannels, inChannels, kernel, kernel]), TensorSlot("bias", [outChannels])]
    }
    public var flopsPerSample: Int { 2 * patch * outChannels * positions + outChannels * positions }

    public func bind(_ b: LayerBinding) {
        weight = b.parameters; bias = b.parameters + outChannels * patch
        dWeight = b.gradients; dBias = b.gradients + outChannels * patch
    }

    public func resetParameters(using rng: inout SplitMix64) {
        let bound = 1 / Float(patch).squareRoot()
        for i in 0..<(outChannels * patch) { weight[i] = rng.uniform(-bound, bound) }
        for i in 0..<outChannels { bias[i] = rng.uniform(-bound, bound) }
    }

    public func forward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, batch: Int, mode: Mode) {
        let L = positions, K = patch, O = outChannels
        let colsP = cols.reserve(batch * L * K)
        let ytP = yt.reserve(batch * L * O)
        im2col(x, colsP, batch: batch)
        gemm(.no, .yes, m: batch * L, n: O, k: K, colsP, weight, ytP)
        // Transpose each sample's [L × O] block to [O × L] and add the bias.
        let src = SendablePointer(ytP), dst = SendablePointer(y), b = SendablePointer(bias!)
        Parallel.chunks(batch, minimumPerWorker: max(1, (1 << 15) / max(1, L * O))) { range in
            for n in range {
                let s = src.base + n * L * O, d = dst.base + n * O * L
                for o in 0..<O {
                    let bo = b.base[o], row = d + o * L
                    for l in 0..<L { row[l] = s[l * O + o] + bo }
                }
            }
        }
    }

    public func backward(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
                         _ dx: UnsafeMutablePointer<Float>?, batch: Int) {
        let L = positions, K = patch, O = outChannels
        // dYt[n·L + l, o] = dy[n, o, l]  (reuses the forward's Yt workspace)
        let dyt = yt.reserve(batch * L * O)
        let src = SendablePointer(dy), dst = SendablePointer(dyt)
        Parallel.chunks(batch, minimumPerWorker: max(1, (1 << 15) / max(1, L * O))) { range in
            for n in range {
                let s = src.base + n * O * L, d = dst.base + n * L * O
                for o in 0..<O { let row = s + o * L; for l in 0..<L { d[l * O + o] = row[l] } }
            }
        }
        for n in 0..<batch {
            for o in 0..<O { dBias[o] += Vector.sum(dy + n * O * L + o * L, L) }
        }
        gemm(.yes, .no, m: O, n: K, k: batch * L, dyt, cols.pointer, beta: 1, dWeight)
        guard let dx else { return }
        // dcols overwrites the im2col columns: they are no longer needed.
        let dcols = cols.pointer
        gemm(.no, .no, m: batch * L, n: K, k: O, dyt, weight, dcols)
        col2im(dcols, dx, batch: batch)
    }

    /// Gathers every receptive field into a row of `cols` (zero where it overlaps padding).
    private func im2col(_ x: UnsafePointer<Float>, _ cols: UnsafeMutablePointer<Float>, batch: Int) {
        let C = inChannels, H = height, W = width, KH = kernel, KW = kernel
        let S = stride, P = padding, OH = outHeight, OW = outWidth, K = patch
        let xs = SendablePointer(x), cs = SendablePointer(cols)
        Parallel.chunks(batch, minimumPerWorker: max(1, (1 << 15) / max(1, OH * OW * K))) { range in
            for n in range {
                let xn = xs.base + n * C * H * W
                for oh in 0..<OH {
                    for ow in 0..<OW {
                        var row = cs.base + ((n * OH + oh) * OW + ow) * K
                        let h0 = oh * S - P, w0 = ow * S - P
                        for c in 0..<C {
                            let xc = xn + c * H * W
                            for kh in 0..<KH {
                                let h = h0 + kh
                                if h < 0 || h >= H {
                                    row.update(repeating: 0, count: KW)
                                } else if w0 >= 0 && w0 + KW <= W {
                                    row.update(from: xc + h * W + w0, count: KW)
                                } else {
                                    for kw in 0..<KW {
                                        let w = w0 + kw
                                        row[kw] = (w >= 0 && w < W) ? xc[h * W + w] : 0
                                    }
                                }
                                row += KW
                            }
                        }
                    }
                }
            }
        }
    }

    /// Scatters column gradients back onto the input positions they were gathered from
    /// (overlapping windows accumulate). Overwrites `dx`.
    private func col2im(_ cols: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>, batch: Int) {
        let C = inChannels, H = height, W = width, KH = kernel, KW = kernel
        let S = stride, P = padding, OH = outHeight, OW = outWidth, K = patch
        let cs = SendablePointer(cols), ds = SendablePointer(dx)
        Parallel.chunks(batch, minimumPerWorker: max(1, (1 << 15) / max(1, OH * OW * K))) { range in
            for n in range {
                let dn = ds.base + n * C * H * W
                dn.update(repeating: 0, count: C * H * W)
                for oh in 0..<OH {
                    for ow in 0..<OW {
                        var row = cs.base + ((n * OH + oh) * OW + ow) * K
                        let h0 = oh * S - P, w0 = ow * S - P
                        for c in 0..<C {
                            let dc = dn + c * H * W
                            for kh in 0..<KH {
                                let h = h0 + kh
                                if h >= 0 && h < H {
                                    for kw in 0..<KW {
                                        let w = w0 + kw
                                        if w >= 0 && w < W { dc[h * W + w] += row[kw] }
                                    }
                                }
                                row += KW
                            }
                        }
                    }
                }
            }
        }
    }
}
