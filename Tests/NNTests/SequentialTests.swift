import NN
import Tensor
import Testing

@Suite struct SequentialTests {
    /// Skipping the input gradient (the default) must not change any parameter gradient.
    @Test(arguments: ["mlp:12-8-3,dropout=0.0", "cnn:1x6x6-c2-p2-fc3,bn"])
    func parameterGradientsDoNotDependOnInputGradientRequest(spec: String) throws {
        let m = try ModelSpec(parsing: spec).build(seed: 4)
        var rng = SplitMix64(seed: 9)
        let x = (0..<(3 * m.inputFeatures)).map { _ in rng.uniform(-1, 1) }
        let dy = (0..<(3 * m.outputFeatures)).map { _ in rng.uniform(-1, 1) }
        func grads(wantInput: Bool) -> [Float] {
            m.zeroGradients()
            var dx = [Float](repeating: 0, count: x.count)
            x.withUnsafeBufferPointer { xp in
                _ = m.forward(xp.baseAddress!, batch: 3, mode: .training)
                dx.withUnsafeMutableBufferPointer { m.backward(dy, inputGradient: wantInput ? $0.baseAddress! : nil) }
            }
            return Array(UnsafeBufferPointer(start: m.gradients.pointer, count: m.parameterCount))
        }
        #expect(grads(wantInput: true) == grads(wantInput: false))
    }

    @Test func arenaNamesFollowPyTorchSequentialIndices() throws {
        let m = try ModelSpec(parsing: "cnn:1x6x6-c2-p2-fc3,bn").build(seed: 1)
        #expect(m.namedTensors.map(\.name) == ["0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var", "5.weight", "5.bias"])
        #expect(m.namedTensors.filter { $0.arena == .parameters }.reduce(0) { $0 + $1.count } == m.parameterCount)
    }
}
