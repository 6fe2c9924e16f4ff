import Tensor

/// 2-D convolution (cross-correlation, as in PyTorch) by batched im2col and one GEMM
/// (the forward is ``Conv2DKernel``, shared with ONNX's Conv).
///
/// Dimensions: B = batch, C = input channels, H×W = input size, O = output channels,
/// KH×KW = kernel, S = stride, P = padding, OH = (H + 2P − KH)/S + 1, OW likewise,
/// L = OH·OW output positions, K = C·KH·KW patch length, N = B·L.
///
///     cols[K × N]   row (c, kh, kw), column (n, oh, ow) = x[n, c, oh·S − P + kh, ow·S − P + kw] (0 outside)
///     Y'[O × N]     = W · cols                 W[O × K] = weight[O, C, KH, KW]
///     y[n, o, l]    = Y'[o, n·L + l] + b[o]
///
/// Backward: `dW += dY' · colsᵀ`, `db += Σ dy`, `dcols = Wᵀ · dY'`, `dx = col2im(dcols)`.
/// Channel-major columns (Caffe's layout) make every im2col/col2im row a contiguous run of
/// output positions and every NCHW reshuffle a copy of L contiguous floats.
/// Initialisation (PyTorch default): W, b ~ U(−1/√K, 1/√K).
public final class Conv2D: Layer {
    public let inChannels, outChannels, kernel, stride, padding: Int
    public let height, width, outHeight, outWidth: Int
    private var weight: UnsafeMutablePointer<Float>!
    private var bias: UnsafeMutablePointer<Float>!
    private var dWeight: UnsafeMutablePointer<Float>!
    private var dBias: UnsafeMutablePointer<Float>!
    /// The forward kernel (im2col + GEMM), shared with ONNX's Conv.
    private let geometry: Conv2DKernel
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
        geometry = Conv2DKernel(channels: inChannels, height: height, width: width, outChannels: outChannels,
                                kernelH: kernel, kernelW: kernel, strideH: stride, strideW: stride,
                                padTop: padding, padLeft: padding, padBottom: padding, padRight: padding)!
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
        geometry.forward(x, weight: weight, bias: bias, y, batch: batch, cols: &cols, yt: &yt)
    }

    public func backward(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
                         _ dx: UnsafeMutablePointer<Float>?, batch: Int) {
        let L = positions, K = patch, O = outChannels, N = batch * L
        // dY'[o, n·L + l] = dy[n, o, l]  (reuses the forward's Y' workspace)
        let dyt = yt.reserve(O * N)
        let src = SendablePointer(dy), dst = SendablePointer(dyt)
        Parallel.chunks(batch, minimumPerWorker: max(1, (1 << 15) / max(1, L * O))) { range in
            for n in range {
                for o in 0..<O { (dst.base + o * N + n * L).update(from: src.base + (n * O + o) * L, count: L) }
            }
        }
        for o in 0..<O { dBias[o] += Vector.sum(dyt + o * N, N) }
        gemm(.no, .yes, m: O, n: K, k: N, dyt, cols.pointer, beta: 1, dWeight)
        guard let dx else { return }
        // dcols overwrites the im2col columns: they are no longer needed.
        let dcols = cols.pointer
        gemm(.yes, .no, m: K, n: N, k: O, weight, dyt, dcols)
        col2im(dcols, dx, batch: batch)
    }

    /// Scatters column gradients back onto the input positions they were gathered from
    /// (overlapping windows accumulate). Overwrites `dx`.
    private func col2im(_ cols: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>, batch: Int) {
        let C = inChannels, H = height, W = width, KH = kernel, KW = kernel
        let S = stride, P = padding, OH = outHeight, L = positions, N = batch * L, OW = outWidth
        let ranges = (0..<KW).map(geometry.validColumns)
        let cs = SendablePointer(cols), ds = SendablePointer(dx)
        Parallel.chunks(batch, minimumPerWorker: max(1, (1 << 15) / max(1, L * patch))) { range in
            for n in range {
                let dn = ds.base + n * C * H * W
                dn.update(repeating: 0, count: C * H * W)
                for c in 0..<C {
                    let dc = dn + c * H * W
                    for kh in 0..<KH {
                        for kw in 0..<KW {
                            let row = cs.base + ((c * KH + kh) * KW + kw) * N + n * L
                            let valid = ranges[kw]
                            guard !valid.isEmpty else { continue }
                            for oh in 0..<OH {
                                let h = oh * S - P + kh
                                guard h >= 0 && h < H else { continue }
                                let dr = dc + h * W - P + kw
                                let src = row + oh * OW
                                if S == 1 {
                                    Vector.add(dr + valid.lowerBound, src + valid.lowerBound, dr + valid.lowerBound, valid.count)
                                } else {
                                    for ow in valid { dr[ow * S] += src[ow] }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
