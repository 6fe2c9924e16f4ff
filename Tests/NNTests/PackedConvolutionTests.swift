import Testing
import Tensor
@testable import NN

/// The inference convolution on the microkernels (``Conv2DKernel/infer(_:packed:bias:norm:relu:_:batch:scratch:workers:level:)``,
/// AVX2 and, where the CPU has it, AVX-512, whose results must also be equal bit for bit)
/// against the im2col + OpenBLAS forward, then the bias, normalisation and ReLU applied
/// separately: "same" 3×3 and 5×5 (the shifted-plane path, one flat copy per plane), asymmetric
/// and no padding, a dilation (row copies), strides 2 (the im2col path), 1×1 kernels, channel
/// counts that are not multiples of 4 or 8, one sample and batches split over two cores, with
/// and without a residual branch added before the ReLU.
@Suite struct PackedConvolutionTests {
    struct Case: CustomTestStringConvertible, Sendable {
        let c, h, w, o, k, stride, dilation, padTop, padLeft, padBottom, padRight, batch: Int
        var testDescription: String {
            "\(c)x\(h)x\(w) → \(o), \(k)×\(k) s\(stride) d\(dilation) pads \(padTop),\(padLeft),\(padBottom),\(padRight), batch \(batch)"
        }
    }

    static let cases: [Case] = [
        Case(c: 1, h: 28, w: 28, o: 16, k: 3, stride: 1, dilation: 1, padTop: 1, padLeft: 1, padBottom: 1, padRight: 1, batch: 3),
        Case(c: 32, h: 14, w: 14, o: 64, k: 3, stride: 1, dilation: 1, padTop: 1, padLeft: 1, padBottom: 1, padRight: 1, batch: 5),
        Case(c: 3, h: 9, w: 11, o: 7, k: 5, stride: 1, dilation: 1, padTop: 2, padLeft: 2, padBottom: 2, padRight: 2, batch: 2),
        Case(c: 5, h: 8, w: 10, o: 6, k: 3, stride: 1, dilation: 1, padTop: 0, padLeft: 2, padBottom: 1, padRight: 0, batch: 4),
        Case(c: 4, h: 12, w: 12, o: 9, k: 3, stride: 1, dilation: 1, padTop: 0, padLeft: 0, padBottom: 0, padRight: 0, batch: 1),
        Case(c: 3, h: 13, w: 13, o: 5, k: 3, stride: 1, dilation: 2, padTop: 2, padLeft: 2, padBottom: 2, padRight: 2, batch: 2),
        Case(c: 16, h: 28, w: 28, o: 32, k: 3, stride: 2, dilation: 1, padTop: 1, padLeft: 1, padBottom: 1, padRight: 1, batch: 4),
        Case(c: 16, h: 28, w: 28, o: 32, k: 1, stride: 2, dilation: 1, padTop: 0, padLeft: 0, padBottom: 0, padRight: 0, batch: 3),
        Case(c: 8, h: 7, w: 7, o: 10, k: 1, stride: 1, dilation: 1, padTop: 0, padLeft: 0, padBottom: 0, padRight: 0, batch: 6),
    ]

    static let levels = [SIMDLevel.avx2, .avx512].filter { $0 <= System.cpuSIMD }

    @Test(.enabled(if: System.cpuSIMD.hasMicrokernels, "needs a CPU with AVX2 and FMA"), arguments: cases)
    func packedInferenceMatchesForward(_ t: Case) throws {
        let geometry = try #require(Conv2DKernel(
            channels: t.c, height: t.h, width: t.w, outChannels: t.o, kernelH: t.k, kernelW: t.k,
            strideH: t.stride, strideW: t.stride, dilationH: t.dilation, dilationW: t.dilation,
            padTop: t.padTop, padLeft: t.padLeft, padBottom: t.padBottom, padRight: t.padRight))
        var random = SplitMix64(seed: UInt64(t.c * 7919 + t.o * 31 + t.k))
        let x = (0..<(t.batch * t.c * t.h * t.w)).map { _ in random.uniform(-1, 1) }
        let weight = (0..<geometry.weightCount).map { _ in random.uniform(-0.5, 0.5) }
        let bias = (0..<t.o).map { _ in random.uniform(-0.5, 0.5) }
        let gain = (0..<t.o).map { _ in random.uniform(0.5, 1.5) }, beta = (0..<t.o).map { _ in random.uniform(-0.5, 0.5) }
        let mean = (0..<t.o).map { _ in random.uniform(-0.5, 0.5) }, variance = (0..<t.o).map { _ in random.uniform(0.5, 2) }
        let L = geometry.positions, count = t.batch * t.o * L
        // A residual branch, added before the ReLU (the second pass of each level).
        let residual = (0..<count).map { _ in random.uniform(-1, 1) }
        // Reference: forward, then y = relu(gain·((v − mean)/√(var + ε)) + beta [+ residual]) per channel.
        var expected = [Float](repeating: 0, count: count)
        var cols = FloatBuffer(), yt = FloatBuffer()
        x.withUnsafeBufferPointer { xp in weight.withUnsafeBufferPointer { wp in bias.withUnsafeBufferPointer { bp in
            expected.withUnsafeMutableBufferPointer {
                geometry.forward(xp.baseAddress!, weight: wp.baseAddress!, bias: bp.baseAddress!, $0.baseAddress!,
                                 batch: t.batch, cols: &cols, yt: &yt)
            }
        } } }
        var withResidual = expected
        for n in 0..<t.batch {
            for o in 0..<t.o {
                for l in 0..<L {
                    let i = (n * t.o + o) * L + l
                    let v = gain[o] * ((expected[i] - mean[o]) / (variance[o] + 1e-5).squareRoot()) + beta[o]
                    expected[i] = v < 0 ? 0 : v
                    withResidual[i] = v + residual[i] < 0 ? 0 : v + residual[i]
                }
            }
        }
        var byLevel: [[Float]] = []
        for level in Self.levels { for (workers, addsResidual) in [(1, false), (2, false), (1, true), (2, true)] {
            let expected = addsResidual ? withResidual : expected
            var y = [Float](repeating: .nan, count: count)
            var scratch = FloatBuffer()
            x.withUnsafeBufferPointer { xp in weight.withUnsafeBufferPointer { wp in bias.withUnsafeBufferPointer { bp in
                gain.withUnsafeBufferPointer { g in beta.withUnsafeBufferPointer { b in mean.withUnsafeBufferPointer { m in
                    variance.withUnsafeBufferPointer { v in
                        let norm = Conv2DKernel.ChannelNorm(gain: g.baseAddress!, beta: b.baseAddress!, mean: m.baseAddress!,
                                                            variance: v.baseAddress!, epsilon: 1e-5)
                        residual.withUnsafeBufferPointer { r in
                            y.withUnsafeMutableBufferPointer {
                                geometry.infer(xp.baseAddress!, packed: geometry.pack(wp.baseAddress!), bias: bp.baseAddress!, norm: norm,
                                               residual: addsResidual ? r.baseAddress! : nil, relu: true, $0.baseAddress!,
                                               batch: t.batch, scratch: &scratch, workers: workers, level: level)
                            }
                        }
                    }
                } } }
            } } }
            let worst = zip(y, expected).map { abs($0 - $1) }.max() ?? 0
            #expect(worst <= 2e-5, "\(t.testDescription), \(workers) core(s), residual \(addsResidual): largest difference \(worst)")
            #expect(!y.contains { $0.isNaN }, "\(t.testDescription): an output was not written")
            if workers == 1 && addsResidual { byLevel.append(y) }
        } }
        if byLevel.count == 2 { #expect(byLevel[0] == byLevel[1], "\(t.testDescription): AVX2 and AVX-512 differ") }
    }
}
