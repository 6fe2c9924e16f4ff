import Testing
@testable import NN

/// ``ModelSpec/footprint``: the parameter count equals the built model's (BatchNorm, dropout,
/// convolutions with strides and pools), shapes that do not fit give nil, and an absurd spec is
/// counted without being built.
@Suite struct ModelSpecFootprintTests {
    @Test(arguments: ["mlp:784-64-10", "mlp:54-256-128-7,bn,dropout=0.2,in-dropout=0.1",
                      "cnn:1x28x28-c32-p2-c64-p2-fc128-fc10,bn,dropout=0.3", "cnn:3x32x32-c16k5s2p2-c32-p2-fc10",
                      "cnn:1x28x28-c8k3p0-p3s2-fc10"])
    func parametersMatchTheBuiltModel(_ text: String) throws {
        let spec = try ModelSpec(parsing: text)
        let built = try spec.build(seed: 1)
        let footprint = try #require(spec.footprint)
        #expect(footprint.parameters == Double(built.parameterCount), "\(text)")
        #expect(footprint.activationsPerSample > 0)
        // Training a batch costs more than running it, and more with AdamW than with SGD.
        let adam = footprint.trainingBytes(batch: 64, optimizerSlots: 2), sgd = footprint.trainingBytes(batch: 64, optimizerSlots: 0)
        #expect(adam - sgd == 4 * 2 * footprint.parameters)
        #expect(footprint.inferenceBytes(batch: 64) < sgd)
    }

    @Test func aHugeSpecIsCountedNotBuilt() throws {
        let spec = try ModelSpec(parsing: "mlp:784-1000000-1000000-10")
        let footprint = try #require(spec.footprint)
        #expect(footprint.parameters == 784.0 * 1e6 + 1e6 + 1e6 * 1e6 + 1e6 + 1e6 * 10 + 10)
        // Parameters, gradients and two AdamW moments: 16 bytes each, about 14.6 TiB.
        #expect(footprint.trainingBytes(batch: 128, optimizerSlots: 2) > 16e12)
    }

    @Test func shapesThatDoNotFitHaveNoFootprint() throws {
        #expect(try ModelSpec(parsing: "cnn:1x4x4-c8k5p0-fc10").footprint == nil)
        #expect(try ModelSpec(parsing: "cnn:1x4x4-p5-fc10").footprint == nil)
    }
}
