import Testing
import Tensor
@testable import NN

/// The vectorised 2×2, stride-2 max pool (blocks of 8 or 4 windows, the last block overlapping)
/// against the window-by-window rule it replaces — the first of a, b, c, d unless a later one is
/// greater — with ties, NaNs and infinities, at every output width from 1 to 17 and on
/// several planes (so that blocks never read across a plane's end).
@Suite struct MaxPool2x2Tests {
    @Test(arguments: Array(1...17))
    func vectorBlocksFollowTheWindowRule(outWidth: Int) throws {
        let H = 6, W = 2 * outWidth + (outWidth % 3 == 0 ? 1 : 0)  // some rows wider than the windows
        let pool = try #require(Pool2DKernel(height: H, width: W, kernelH: 2, kernelW: 2, strideH: 2, strideW: 2))
        let planes = 3
        var random = SplitMix64(seed: UInt64(outWidth))
        let specials: [Float] = [.nan, .infinity, -.infinity, 0, -0.0, 1, 1]
        let x = (0..<(planes * H * W)).map { i -> Float in
            i % 5 == 0 ? specials[Int(random.next() % UInt64(specials.count))] : Float(Int(random.uniform(-3, 3)))
        }
        var y = [Float](repeating: 42, count: planes * 3 * outWidth)
        x.withUnsafeBufferPointer { xp in y.withUnsafeMutableBufferPointer { pool.max(xp.baseAddress!, $0.baseAddress!, planes: planes) } }
        for p in 0..<planes {
            for oh in 0..<3 {
                for ow in 0..<outWidth {
                    let base = p * H * W + 2 * oh * W + 2 * ow
                    var m = x[base]
                    for v in [x[base + 1], x[base + W], x[base + W + 1]] where v > m { m = v }
                    let got = y[(p * 3 + oh) * outWidth + ow]
                    #expect(got.bitPattern == m.bitPattern || (got.isNaN && m.isNaN),
                            "plane \(p) window (\(oh), \(ow)) of width \(outWidth): \(got), expected \(m)")
                }
            }
        }
    }
}
