import NN
import Testing

@Suite struct ModelSpecTests {
    @Test func mlpBuildsFlattenLinearReLUDropout() throws {
        let spec = try ModelSpec(parsing: "mlp:784-1200-1200-10,dropout=0.2")
        let m = try spec.build(dataShape: [1, 28, 28], seed: 1)
        #expect(m.layers.map(\.kind) == ["Flatten", "Linear", "ReLU", "Dropout", "Linear", "ReLU", "Dropout", "Linear"])
        #expect(m.parameterCount == 784 * 1200 + 1200 + 1200 * 1200 + 1200 + 1200 * 10 + 10)
        #expect(m.outputShape == [10])
    }

    @Test func cnnDefaultsAndOptions() throws {
        let spec = try ModelSpec(parsing: "cnn:1x28x28-c32-p2-c64k5s1p2-p2-fc128-fc10,bn,dropout=0.3")
        let m = try spec.build(seed: 1)
        #expect(m.layers.map(\.kind) == ["Conv2D", "BatchNorm2D", "ReLU", "MaxPool2D", "Conv2D", "BatchNorm2D", "ReLU", "MaxPool2D",
                                         "Flatten", "Linear", "BatchNorm1D", "ReLU", "Dropout", "Linear"])
        #expect(m.layers[4].outputShape == [64, 14, 14])
        #expect(m.layers[8].outputShape == [64 * 7 * 7])
    }

    @Test(arguments: ["mlp:784-64-10", "mlp:784-100-10,bn,dropout=0.5,in-dropout=0.2",
                      "cnn:3x32x32-c16k5-p3s2-c8s2p0-fc10", "cnn:1x28x28-c32-p2-fc10,bn"])
    func canonicalSpellingRoundTrips(text: String) throws {
        let spec = try ModelSpec(parsing: text)
        #expect(try ModelSpec(parsing: spec.description) == spec)
    }

    @Test(arguments: [
        ("mlp784-10", "missing family"),
        ("rnn:784-10", "unknown family 'rnn'"),
        ("mlp:784", "at least an input and an output"),
        ("mlp:784-0-10", "layer size '0'"),
        ("mlp:784-x-10", "layer size 'x'"),
        ("mlp:784-10,dropout=1.5", "probability in [0, 1)"),
        ("mlp:784-10,foo", "unknown option 'foo'"),
        ("mlp:784-10,", "stray comma"),
        ("cnn:28x28-c32-fc10", "must be CxHxW"),
        ("cnn:1x28x28-q3-fc10", "unknown block 'q3'"),
        ("cnn:1x28x28-c32k-fc10", "is not of the form"),
        ("cnn:1x28x28-c32x2-fc10", "'x' is not allowed"),
        ("cnn:1x28x28-c32-p2", "last block must be fcN"),
        ("cnn:1x28x28-c32,in-dropout=0.1-fc10", "in-dropout"),
    ])
    func badSpecsSayWhatIsWrongAndWhatIsAllowed(text: String, fragment: String) {
        do {
            _ = try ModelSpec(parsing: text)
            Issue.record("'\(text)' should be rejected")
        } catch {
            #expect(error.description.contains(fragment), "\(error.description)")
            #expect(error.description.contains("allowed:"))
            #expect(error.description.contains(text))
        }
    }

    @Test func shapesThatDoNotFitAreRejectedAtBuild() throws {
        #expect(throws: ModelSpecError.self) { try ModelSpec(parsing: "cnn:1x4x4-c8k7p0-fc10").build(seed: 1) }
        #expect(throws: ModelSpecError.self) { try ModelSpec(parsing: "mlp:100-10").build(dataShape: [1, 28, 28], seed: 1) }
        #expect(throws: ModelSpecError.self) { try ModelSpec(parsing: "cnn:1x28x28-c8-fc10").build(dataShape: [3, 28, 28], seed: 1) }
    }

    @Test func sameSeedSameParametersDifferentSeedDifferent() throws {
        let spec = try ModelSpec(parsing: "cnn:1x8x8-c4-p2-fc10,bn")
        #expect(try spec.build(seed: 5).parameterHash == (try spec.build(seed: 5).parameterHash))
        #expect(try spec.build(seed: 5).parameterHash != (try spec.build(seed: 6).parameterHash))
    }
}
