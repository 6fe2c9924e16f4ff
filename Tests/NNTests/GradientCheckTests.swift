import DistilleryTestKit
import NN
import Tensor
import Testing

/// Finite-difference gradient checks for every layer (inputs and parameters).
@Suite struct GradientCheckTests {
    func randomInput(_ n: Int, seed: UInt64, awayFromZero: Float = 0) -> [Float] {
        var rng = SplitMix64(seed: seed)
        return (0..<n).map { _ in
            var v: Float
            repeat { v = rng.uniform(-2, 2) } while abs(v) < awayFromZero
            return v
        }
    }

    @Test func linear() {
        let m = Sequential(layers: [Linear(7, 5)], inputShape: [7], seed: 1)
        expectGradientsMatch(gradientCheck(m, input: randomInput(3 * 7, seed: 2), batch: 3), "Linear")
    }

    @Test func relu() {
        let m = Sequential(layers: [ReLU(shape: [10])], inputShape: [10], seed: 1)
        expectGradientsMatch(gradientCheck(m, input: randomInput(40, seed: 3, awayFromZero: 0.05), batch: 4), "ReLU")
    }

    @Test func flatten() {
        let m = Sequential(layers: [Flatten(shape: [2, 3, 2])], inputShape: [2, 3, 2], seed: 1)
        expectGradientsMatch(gradientCheck(m, input: randomInput(24, seed: 4), batch: 2), "Flatten")
    }

    @Test func dropoutWithFixedMask() {
        let d = Dropout(shape: [20], probability: 0.3, seed: 9)
        let m = Sequential(layers: [d], inputShape: [20], seed: 1)
        expectGradientsMatch(gradientCheck(m, input: randomInput(60, seed: 5), batch: 3, beforeForward: { d.reseed(99) }), "Dropout")
    }

    @Test(arguments: [(3, 1, 1), (3, 2, 0), (5, 1, 2), (2, 2, 1)])
    func conv2d(kernel: Int, stride: Int, padding: Int) throws {
        let conv = try Conv2D(inputShape: [2, 6, 5], outChannels: 3, kernel: kernel, stride: stride, padding: padding)
        let m = Sequential(layers: [conv], inputShape: [2, 6, 5], seed: 1)
        expectGradientsMatch(gradientCheck(m, input: randomInput(2 * 60, seed: 6), batch: 2), "Conv2D k\(kernel) s\(stride) p\(padding)")
    }

    @Test(arguments: [(2, 2), (3, 2), (3, 1)])
    func maxPool(kernel: Int, stride: Int) throws {
        // Distinct values spaced far beyond the probe step, so no window has a near-tie.
        var rng = SplitMix64(seed: 12)
        var values = (0..<(2 * 2 * 7 * 7)).map { Float($0) * 0.1 }
        values.shuffle(using: &rng)
        let pool = try MaxPool2D(inputShape: [2, 7, 7], kernel: kernel, stride: stride)
        let m = Sequential(layers: [pool], inputShape: [2, 7, 7], seed: 1)
        expectGradientsMatch(gradientCheck(m, input: values, batch: 2, step: 1e-2), "MaxPool k\(kernel) s\(stride)")
    }

    @Test(arguments: [[6], [3, 4, 4]])
    func batchNormTraining(shape: [Int]) throws {
        let m = Sequential(layers: [try BatchNorm(shape: shape)], inputShape: shape, seed: 1)
        // Non-trivial γ, β so their gradients are exercised.
        for i in 0..<m.parameterCount { m.parameters.pointer[i] = 0.5 + Float(i % 5) * 0.3 }
        let n = 5 * shape.reduce(1, *)
        expectGradientsMatch(gradientCheck(m, input: randomInput(n, seed: 7), batch: 5, step: 5e-3), "BatchNorm \(shape)")
    }

    @Test func batchNormInference() throws {
        let m = Sequential(layers: [try BatchNorm(shape: [4])], inputShape: [4], seed: 1)
        for i in 0..<4 { m.state.pointer[i] = Float(i) * 0.2; m.state.pointer[4 + i] = 0.5 + Float(i) }
        expectGradientsMatch(gradientCheck(m, input: randomInput(12, seed: 8), batch: 3, mode: .inference), "BatchNorm eval")
    }

    @Test func wholeCNN() throws {
        let m = try ModelSpec(parsing: "cnn:1x8x8-c4-p2-c4k3s1p0-fc6-fc3,bn").build(seed: 3)
        // Spread the input so ReLU/max-pool kinks are unlikely within the probe step.
        expectGradientsMatch(gradientCheck(m, input: randomInput(2 * 64, seed: 9), batch: 2, step: 2e-3, samples: 40), "CNN")
    }

    @Test func crossEntropyWithSmoothing() {
        let z0 = randomInput(4 * 6, seed: 10)
        let labels: [Int32] = [0, 5, 2, 2]
        for smoothing: Float in [0, 0.2] {
            var g = [Float](repeating: 0, count: z0.count)
            _ = g.withUnsafeMutableBufferPointer { CrossEntropy.loss(logits: z0, labels: labels, batch: 4, classes: 6, smoothing: smoothing, gradient: $0.baseAddress!) }
            var z = z0
            let numeric = z.withUnsafeMutableBufferPointer { zp in
                numericGradient(at: zp.baseAddress!, indices: Array(0..<24), step: 1e-2) {
                    Double(CrossEntropy.loss(logits: zp.baseAddress!, labels: labels, batch: 4, classes: 6, smoothing: smoothing))
                }
            }
            assertClose(g, numeric, rtol: 2e-2, atol: 1e-3, "CE ε=\(smoothing)")
        }
    }
}
