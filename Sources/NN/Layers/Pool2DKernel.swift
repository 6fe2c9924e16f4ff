import Tensor

/// 2-D max and average pooling forward, shared by NN's `MaxPool2D` and ONNX's MaxPool,
/// AveragePool and GlobalAveragePool.
///
/// Dimensions: P = planes (batch × channels), H×W = input, KH×KW = window, SH/SW = strides,
/// DH/DW = dilations, PT/PL/PB/PR = pads (top, left, bottom, right). Output size
/// OH = ⌊(H + PT + PB − DH·(KH−1) − 1)/SH⌋ + 1 (⌈·⌉ with ceil mode, dropping a last window that
/// would start in the bottom padding), OW likewise.
///
///     max:  y[p, oh, ow] = max over the window's positions inside the input of x[p, oh·SH − PT + kh·DH, ow·SW − PL + kw·DW]
///           (padding never wins; ties keep the first position in row-major window order)
///     avg:  y[p, oh, ow] = Σ window positions inside the input / count, count = positions inside the
///           input, or with `countIncludePad` the window clipped to the padded input (PyTorch's rule)
public struct Pool2DKernel: Sendable, Equatable {
    public let height, width, kernelH, kernelW, strideH, strideW, dilationH, dilationW: Int
    public let padTop, padLeft, padBottom, padRight: Int
    public let outHeight, outWidth: Int

    /// Nil when the window does not fit the padded input or a size is not positive.
    public init?(height: Int, width: Int, kernelH: Int, kernelW: Int, strideH: Int, strideW: Int,
                 dilationH: Int = 1, dilationW: Int = 1, padTop: Int = 0, padLeft: Int = 0,
                 padBottom: Int = 0, padRight: Int = 0, ceilMode: Bool = false) {
        guard kernelH > 0, kernelW > 0, strideH > 0, strideW > 0, dilationH > 0, dilationW > 0,
              min(padTop, padLeft, padBottom, padRight) >= 0 else { return nil }
        func size(_ n: Int, _ k: Int, _ s: Int, _ d: Int, _ p0: Int, _ p1: Int) -> Int? {
            let span = d * (k - 1) + 1, room = n + p0 + p1 - span
            guard room >= 0 else { return nil }
            var out = (ceilMode ? (room + s - 1) / s : room / s) + 1
            if ceilMode && (out - 1) * s >= n + p0 { out -= 1 }
            return out
        }
        guard let oh = size(height, kernelH, strideH, dilationH, padTop, padBottom),
              let ow = size(width, kernelW, strideW, dilationW, padLeft, padRight) else { return nil }
        self.height = height; self.width = width; self.kernelH = kernelH; self.kernelW = kernelW
        self.strideH = strideH; self.strideW = strideW; self.dilationH = dilationH; self.dilationW = dilationW
        self.padTop = padTop; self.padLeft = padLeft; self.padBottom = padBottom; self.padRight = padRight
        outHeight = oh; outWidth = ow
    }

    /// Max pooling of `planes` planes; `argmax` (when given) receives each maximum's index in its plane.
    public func max(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, planes: Int,
                    argmax: UnsafeMutablePointer<Int32>? = nil) {
        let H = height, W = width, OH = outHeight, OW = outWidth
        let xs = SendablePointer(x), ys = SendablePointer(y), am = argmax.map { SendablePointer($0) }
        Parallel.chunks(planes, minimumPerWorker: Swift.max(1, (1 << 16) / Swift.max(1, OH * OW * kernelH * kernelW))) { range in
            for p in range {
                let xp = xs.base + p * H * W, yp = ys.base + p * OH * OW
                for oh in 0..<OH {
                    let h0 = oh * self.strideH - self.padTop
                    for ow in 0..<OW {
                        let w0 = ow * self.strideW - self.padLeft
                        var at = -1, best: Float = 0
                        for kh in 0..<self.kernelH {
                            let h = h0 + kh * self.dilationH
                            guard h >= 0 && h < H else { continue }
                            for kw in 0..<self.kernelW {
                                let w = w0 + kw * self.dilationW
                                guard w >= 0 && w < W else { continue }
                                let i = h * W + w
                                if at < 0 || xp[i] > best { best = xp[i]; at = i }
                            }
                        }
                        yp[oh * OW + ow] = at < 0 ? -Float.infinity : best
                        am?.base[p * OH * OW + oh * OW + ow] = Int32(at)
                    }
                }
            }
        }
    }

    /// Average pooling of `planes` planes.
    public func average(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, planes: Int, countIncludePad: Bool) {
        let H = height, W = width, OH = outHeight, OW = outWidth
        let xs = SendablePointer(x), ys = SendablePointer(y)
        Parallel.chunks(planes, minimumPerWorker: Swift.max(1, (1 << 16) / Swift.max(1, OH * OW * kernelH * kernelW))) { range in
            for p in range {
                let xp = xs.base + p * H * W, yp = ys.base + p * OH * OW
                for oh in 0..<OH {
                    let h0 = oh * self.strideH - self.padTop
                    let hEnd = Swift.min(h0 + (self.kernelH - 1) * self.dilationH + 1, H + self.padBottom)
                    for ow in 0..<OW {
                        let w0 = ow * self.strideW - self.padLeft
                        let wEnd = Swift.min(w0 + (self.kernelW - 1) * self.dilationW + 1, W + self.padRight)
                        var sum: Float = 0, inside = 0, padded = 0
                        for kh in 0..<self.kernelH {
                            let h = h0 + kh * self.dilationH
                            guard h < hEnd else { continue }
                            for kw in 0..<self.kernelW {
                                let w = w0 + kw * self.dilationW
                                guard w < wEnd else { continue }
                                padded += 1
                                guard h >= 0 && h < H && w >= 0 && w < W else { continue }
                                sum += xp[h * W + w]; inside += 1
                            }
                        }
                        let count = countIncludePad ? padded : inside
                        yp[oh * OW + ow] = count > 0 ? sum / Float(count) : 0
                    }
                }
            }
        }
    }
}
