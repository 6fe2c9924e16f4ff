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

/// Data parallelism and random layers: a replica running rows `offset..<offset+b` of a global
/// batch with a row window draws exactly the masks one process draws for those rows.
@Suite struct DropoutRowWindowTests {
    @Test func skippingDrawsEqualsDrawingThem() {
        var a = SplitMix64(seed: 42), b = SplitMix64(seed: 42)
        for _ in 0..<1000 { _ = a.next() }
        b.skip(1000)
        #expect(a == b)
        #expect(a.next() == b.next())
    }

    @Test(arguments: [2, 3])
    func replicasDrawTheRowsOfTheGlobalBatch(replicas: Int) {
        let features = 7, rows = 9
        let x = [Float](repeating: 1, count: rows * features)
        let whole = Dropout(shape: [features], probability: 0.4, seed: 11)
        var expected = [Float](repeating: 0, count: rows * features)
        var expectedNext = [Float](repeating: 0, count: rows * features)
        x.withUnsafeBufferPointer { xp in
            whole.forward(xp.baseAddress!, &expected, batch: rows, mode: .training)
            whole.forward(xp.baseAddress!, &expectedNext, batch: rows, mode: .training)
        }
        var got = [[Float]](repeating: [Float](repeating: -1, count: rows * features), count: 2)
        for r in 0..<replicas {
            let begin = r * rows / replicas, end = (r + 1) * rows / replicas
            let part = Dropout(shape: [features], probability: 0.4, seed: 11)
            part.rowWindow = (begin, rows)
            for step in 0..<2 {
                var y = [Float](repeating: 0, count: (end - begin) * features)
                x.withUnsafeBufferPointer { part.forward($0.baseAddress! + begin * features, &y, batch: end - begin, mode: .training) }
                got[step].replaceSubrange(begin * features..<end * features, with: y)
            }
        }
        let gotNext = got[1]
        #expect(got[0] == expected, "step 1: every replica's rows carry the single process's masks")
        #expect(gotNext == expectedNext, "step 2: the streams stayed in step")
        #expect(expected.contains(0) && expected.contains { $0 > 1 }, "some units dropped, the others scaled")
        #expect(expected != expectedNext)
    }
}
