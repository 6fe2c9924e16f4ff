import DistilleryTestKit
import Foundation
import NN
import ONNX
import Testing

/// Tier 3: a user's own data and teacher on real processes over ZeroMQ on loopback — an
/// `.npz` of float32 feature rows (not images) written as `numpy.savez` does, and an ONNX
/// teacher file — through `distillery submit`, the coordinator's checks, the shard, the
/// workers and the data plane; and a bad ONNX file refused by `submit`, naming the field.
@Suite(.serialized)
struct OwnEnsembleProcessTests {
    /// Rows of 12 features in 3 classes: class c's rows are c·2 on feature c, plus noise.
    static func rows(_ count: Int, seed: UInt64) -> (x: [Float], y: [Int64]) {
        var state = seed
        func next() -> Float {  // a small LCG: this test only needs spread, not quality
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(state >> 40) / Float(1 << 24)
        }
        var x: [Float] = [], y: [Int64] = []
        for i in 0..<count {
            let c = i % 3
            y.append(Int64(c))
            for f in 0..<12 { x.append((f == c ? 2 * Float(c + 1) : 0) + next() - 0.5) }
        }
        return (x, y)
    }

    @Test func anNpzAndAnOnnxTeacherRunOnRealProcessesAndABadModelIsRefused() throws {
        let dir = try scratchDirectory()
        defer { if ProcessInfo.processInfo.environment["KEEP_TEST_DIRS"] == nil { try? FileManager.default.removeItem(at: dir) } }
        let train = Self.rows(400, seed: 1), test = Self.rows(90, seed: 2)
        let npz = dir.appendingPathComponent("rows.npz")
        try Data(NumPyWriter.npz([("x_train", .float32(train.x), [400, 12]), ("y_train", .int64(train.y), [400]),
                                  ("x_test", .float32(test.x), [90, 12]), ("y_test", .int64(test.y), [90])])).write(to: npz)
        // The teacher: a native MLP exported as ONNX (its weights do not matter here).
        let spec = try ModelSpec(parsing: "mlp:12-8-3")
        let teacher = dir.appendingPathComponent("teacher.onnx")
        try Data(try ONNXExport.model(try spec.build(dataShape: [12], seed: 3), spec: spec.description, normalization: nil,
                                      producerVersion: "test")).write(to: teacher)
        let junk = dir.appendingPathComponent("junk.onnx")
        try Data("no model here".utf8).write(to: junk)

        let address = "tcp://127.0.0.1:\(freePort())"
        let coordinator = try Node(["coordinator", "--listen", address, "--state-dir", dir.appendingPathComponent("state").path],
                                   log: dir.appendingPathComponent("coordinator.log"))
        let workers = try workerNodes(dir, address, [("t1", "teacher"), ("s1", "student")])
        #expect(eventually(timeout: 20) { nodeStates(address) == ["t1": "alive", "s1": "alive"] }, "\(coordinator.output)")

        func specFile(_ name: String, teacher: URL) throws -> URL {
            let file = dir.appendingPathComponent(name)
            try """
            name: rows
            dataset: { format: npz, path: \(npz.lastPathComponent), validation: 40, mean: fit, std: fit }
            teachers:
              - onnx: \(teacher.lastPathComponent)
            student: { model: "mlp:12-6-3" }
            training: { epochs: 2, batch: 40 }
            """.write(to: file, atomically: true, encoding: .utf8)
            return file
        }
        // Relative paths in the file resolve against its directory (the client makes them absolute).
        let refused = try distillery(["submit", try specFile("bad.yaml", teacher: junk).path, "--coordinator", address])
        #expect(refused.status != 0)
        #expect(refused.err.contains("teachers[0].onnx") && refused.err.contains(junk.path), "\(refused.err)")

        let done = try distillery(["submit", try specFile("good.yaml", teacher: teacher).path, "--coordinator", address, "--watch"],
                                  timeout: 180)
        #expect(done.status == 0, "\(done.out)\n\(done.err)\n\(coordinator.output)")
        let report = try distillery(["report", "run-1", "--coordinator", address, "--json"])
        #expect(report.status == 0, "\(report.err)")
        let json = try JSONSerialization.jsonObject(with: Data(report.out.utf8)) as? [String: Any]
        let figures = json?["figures"] as? [String: Any] ?? [:]
        // The teacher's graph has 12·8 + 8 + 8·3 + 3 = 131 parameters; its accuracy was measured on the 90 test rows.
        #expect(figures["teacher0.parameters"] as? Double == 131, "\(figures)")
        #expect((figures["teacher0.test_accuracy"] as? Double).map { (0...1).contains($0) } == true, "\(figures)")
        #expect((figures["student.test_accuracy"] as? Double).map { (0...1).contains($0) } == true, "\(figures)")
        let artifacts = artifactsDirectory(dir, run: "run-1")
        #expect(FileManager.default.fileExists(atPath: artifacts.appendingPathComponent("student.safetensors").path))
        withExtendedLifetime((coordinator, workers)) {}
    }
}
