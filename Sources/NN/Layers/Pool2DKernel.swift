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

    /// Whether every window lies inside the input (no padding reached): the guard-free path.
    var windowsInside: Bool {
        min(padTop, padLeft) == 0 && (outHeight - 1) * strideH + (kernelH - 1) * dilationH < height
            && (outWidth - 1) * strideW + (kernelW - 1) * dilationW < width
    }

    /// Max pooling of `planes` planes; `argmax` (when given) receives each maximum's index in its plane.
    public func max(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, planes: Int,
                    argmax: UnsafeMutablePointer<Int32>? = nil, workers: Int = Parallel.workers) {
        let H = height, W = width, OH = outHeight, OW = outWidth
        let KH = kernelH, KW = kernelW, SH = strideH, SW = strideW, DH = dilationH, DW = dilationW, PT = padTop, PL = padLeft
        let xs = SendablePointer(x), ys = SendablePointer(y), am = argmax.map { SendablePointer($0) }
        let inside = windowsInside
        Parallel.chunks(planes, minimumPerWorker: Swift.max(1, (1 << 16) / Swift.max(1, OH * OW * KH * KW)), workers: workers) { range in
            for p in range {
                let xp = xs.base + p * H * W, yp = ys.base + p * OH * OW
                let ap = am.map { $0.base + p * OH * OW }
                if inside && am == nil && KH == 2 && KW == 2 && SH == 2 && SW == 2 && DH == 1 && DW == 1 {
                    Self.max2x2(xp, yp, width: W, outHeight: OH, outWidth: OW)
                    continue
                }
                if inside {
                    // Same visiting order and comparison as below, without the bounds guards.
                    for oh in 0..<OH {
                        let h0 = oh * SH
                        for ow in 0..<OW {
                            var at = h0 * W + ow * SW, best = xp[at]
                            for kh in 0..<KH {
                                let row = (h0 + kh * DH) * W + ow * SW
                                for kw in (kh == 0 ? 1 : 0)..<KW {
                                    let i = row + kw * DW
                                    if xp[i] > best { best = xp[i]; at = i }
                                }
                            }
                            yp[oh * OW + ow] = best
                            ap?[oh * OW + ow] = Int32(at)
                        }
                    }
                    continue
                }
                for oh in 0..<OH {
                    let h0 = oh * SH - PT
                    for ow in 0..<OW {
                        let w0 = ow * SW - PL
                        var at = -1, best: Float = 0
                        for kh in 0..<KH {
                            let h = h0 + kh * DH
                            guard h >= 0 && h < H else { continue }
                            for kw in 0..<KW {
                                let w = w0 + kw * DW
                                guard w >= 0 && w < W else { continue }
                                let i = h * W + w
                                if at < 0 || xp[i] > best { best = xp[i]; at = i }
                            }
                        }
                        yp[oh * OW + ow] = at < 0 ? -Float.infinity : best
                        ap?[oh * OW + ow] = Int32(at)
                    }
                }
            }
        }
    }

    /// One plane of a 2×2, stride-2 max pool inside the input, 8 (or 4) windows at a time: each
    /// SIMD lane compares its window's four values in the order of the general loop (a, b, c, d).
    /// A row's last block overlaps the one before it (windows computed twice, identically)
    /// rather than leaving a scalar tail: 14 outputs are two blocks of 8, 7 are two of 4.
    @inline(__always)
    static func max2x2(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, width W: Int, outHeight OH: Int, outWidth OW: Int) {
        @inline(__always) func eight(_ r0: UnsafePointer<Float>, _ r1: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, _ ow: Int) {
            let top = UnsafeRawPointer(r0 + 2 * ow).loadUnaligned(as: SIMD16<Float>.self)
            let bottom = UnsafeRawPointer(r1 + 2 * ow).loadUnaligned(as: SIMD16<Float>.self)
            var m = top.evenHalf
            let b = top.oddHalf, c = bottom.evenHalf, d = bottom.oddHalf
            m.replace(with: b, where: b .> m); m.replace(with: c, where: c .> m); m.replace(with: d, where: d .> m)
            UnsafeMutableRawPointer(out + ow).storeBytes(of: m, as: SIMD8<Float>.self)
        }
        @inline(__always) func four(_ r0: UnsafePointer<Float>, _ r1: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, _ ow: Int) {
            let top = UnsafeRawPointer(r0 + 2 * ow).loadUnaligned(as: SIMD8<Float>.self)
            let bottom = UnsafeRawPointer(r1 + 2 * ow).loadUnaligned(as: SIMD8<Float>.self)
            var m = top.evenHalf
            let b = top.oddHalf, c = bottom.evenHalf, d = bottom.oddHalf
            m.replace(with: b, where: b .> m); m.replace(with: c, where: c .> m); m.replace(with: d, where: d .> m)
            UnsafeMutableRawPointer(out + ow).storeBytes(of: m, as: SIMD4<Float>.self)
        }
        for oh in 0..<OH {
            let r0 = x + 2 * oh * W, r1 = r0 + W, out = y + oh * OW
            if OW >= 8 {
                var ow = 0
                while ow + 8 <= OW { eight(r0, r1, out, ow); ow += 8 }
                if ow < OW { eight(r0, r1, out, OW - 8) }
                continue
            }
            if OW >= 4 {
                four(r0, r1, out, 0)
                four(r0, r1, out, OW - 4)
                continue
            }
            var ow = 0
            while ow < OW {
                var m = r0[2 * ow]
                if r0[2 * ow + 1] > m { m = r0[2 * ow + 1] }
                if r1[2 * ow] > m { m = r1[2 * ow] }
                if r1[2 * ow + 1] > m { m = r1[2 * ow + 1] }
                out[ow] = m
                ow += 1
            }
        }
    }

    /// Average pooling of `planes` planes.
    public func average(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, planes: Int, countIncludePad: Bool,
                        workers: Int = Parallel.workers) {
        let H = height, W = width, OH = outHeight, OW = outWidth
        let xs = SendablePointer(x), ys = SendablePointer(y)
        Parallel.chunks(planes, minimumPerWorker: Swift.max(1, (1 << 16) / Swift.max(1, OH * OW * kernelH * kernelW)), workers: workers) { range in
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
