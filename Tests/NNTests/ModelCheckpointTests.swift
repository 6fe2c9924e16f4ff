import FileSupport
import Foundation
import NN
import Tensor
import Testing

@Suite struct ModelCheckpointTests {
    func tempPath(_ name: String) -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("distillery-ckpt-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir.appendingPathComponent(name).path
    }

    @Test func roundTripGivesIdenticalModelAndPredictions() throws {
        let spec = try ModelSpec(parsing: "cnn:1x8x8-c4-p2-fc6-fc3,bn,dropout=0.1")
        let m = try spec.build(seed: 3)
        // Make the BatchNorm state non-default so it must be saved too.
        var rng = SplitMix64(seed: 1)
        let x = Tensor(shape: [5, 1, 8, 8], values: (0..<320).map { _ in rng.uniform(-1, 1) })
        _ = m.predict(x, mode: .training)
        let path = tempPath("m.safetensors")
        let opt = AdamW(parameterCount: m.parameterCount)
        try ModelCheckpoint(model: m, spec: spec, metadata: ["epoch": "3"]).write(to: path, optimizer: opt)
        let back = try ModelCheckpoint.read(from: path)
        #expect(back.spec == spec)
        #expect(back.metadata["epoch"] == "3")
        #expect(back.metadata["optimizer"]?.hasPrefix("adamw") == true)
        #expect(back.model.parameterHash == m.parameterHash)
        #expect(back.model.predict(x) == m.predict(x))
    }

    @Test func missingTensorWrongShapeAndBadSpecAreExplained() throws {
        let spec = try ModelSpec(parsing: "mlp:16-4-2")
        let good = ModelCheckpoint(model: try spec.build(seed: 1), spec: spec).encoded()

        var missing = good
        missing.tensors.removeAll { $0.name == "3.bias" }
        #expect(throws: CheckpointError.missingTensor(source: "x", name: "3.bias")) { try ModelCheckpoint.decode(missing, source: "x") }

        var reshaped = good
        let i = reshaped.tensors.firstIndex { $0.name == "1.weight" }!
        reshaped.tensors[i] = SafeTensors.Tensor(name: "1.weight", shape: [16, 4], floats: [Float](repeating: 0, count: 64))
        #expect(throws: CheckpointError.shapeMismatch(source: "x", name: "1.weight", expected: [4, 16], found: [16, 4])) {
            try ModelCheckpoint.decode(reshaped, source: "x")
        }

        var badSpec = good
        badSpec.metadata["spec"] = "mlp:16"
        do { _ = try ModelCheckpoint.decode(badSpec, source: "x"); Issue.record("bad spec accepted") } catch {
            #expect(error.description.contains("spec"))
        }

        var noFormat = good
        noFormat.metadata.removeValue(forKey: "distillery.format")
        #expect(throws: CheckpointError.missingMetadata(source: "x", key: "distillery.format")) { try ModelCheckpoint.decode(noFormat, source: "x") }
    }

    @Test func truncatedFileIsAnErrorNamingIt() throws {
        let spec = try ModelSpec(parsing: "mlp:16-4-2")
        let path = tempPath("t.safetensors")
        try ModelCheckpoint(model: try spec.build(seed: 1), spec: spec).write(to: path)
        let bytes = try FileBytes.read(path, limit: 1 << 20)
        try AtomicFile.write(Array(bytes.prefix(bytes.count - 10)), to: path)
        do { _ = try ModelCheckpoint.read(from: path); Issue.record("truncated file accepted") } catch {
            #expect(error.description.contains(path))
        }
    }
}
