import Tensor

/// Max pooling over KH×KW windows with stride S and no padding (PyTorch `MaxPool2d`,
/// `ceil_mode=False`): `y[n, c, oh, ow] = max_{kh,kw} x[n, c, oh·S + kh, ow·S + kw]`.
/// The forward is ``Pool2DKernel/max(_:_:planes:argmax:)``. Backward routes each `dy` to the arg-max position (first on ties); overlapping windows
/// accumulate.
public final class MaxPool2D: ParameterlessLayer {
    public let channels, height, width, kernel, stride, outHeight, outWidth: Int
    /// The forward kernel, shared with ONNX's MaxPool.
    private let geometry: Pool2DKernel
    private var argmax: [Int32] = []

    public init(inputShape: [Int], kernel: Int, stride: Int? = nil) throws(ModelSpecError) {
        guard inputShape.count == 3 else { throw .invalid("pool needs a [channels, height, width] input, got \(inputShape)") }
        let s = stride ?? kernel
        guard kernel > 0, s > 0 else { throw .invalid("pool kernel and stride must be > 0") }
        channels = inputShape[0]; height = inputShape[1]; width = inputShape[2]
        guard height >= kernel, width >= kernel else {
            throw .invalid("pool window \(kernel) does not fit input \(height)×\(width)")
        }
        self.kernel = kernel; self.stride = s
        outHeight = (height - kernel) / s + 1; outWidth = (width - kernel) / s + 1
        geometry = Pool2DKernel(height: height, width: width, kernelH: kernel, kernelW: kernel, strideH: s, strideW: s)!
    }

    public var kind: String { "MaxPool2D" }
    public var details: String { "k\(kernel) s\(stride)" }
    public var inputShape: [Int] { [channels, height, width] }
    public var outputShape: [Int] { [channels, outHeight, outWidth] }
    public var flopsPerSample: Int { channels * outHeight * outWidth * kernel * kernel }

    public func forward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, batch: Int, mode: Mode) {
        let planes = batch * channels, OL = outHeight * outWidth
        if argmax.count < planes * OL { argmax = [Int32](repeating: 0, count: planes * OL) }
        argmax.withUnsafeMutableBufferPointer { am in geometry.max(x, y, planes: planes, argmax: am.baseAddress!) }
    }

    public func backward(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
                         _ dx: UnsafeMutablePointer<Float>?, batch: Int) {
        guard let dx else { return }
        let planes = batch * channels, HW = height * width, OL = outHeight * outWidth
        dx.update(repeating: 0, count: planes * HW)
        argmax.withUnsafeBufferPointer { am in
            for p in 0..<planes {
                let dxp = dx + p * HW, dyp = dy + p * OL, ap = am.baseAddress! + p * OL
                for l in 0..<OL { dxp[Int(ap[l])] += dyp[l] }
            }
        }
    }
}
