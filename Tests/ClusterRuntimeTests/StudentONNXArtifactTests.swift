import ClusterRuntime
import Datasets
import Foundation
import NN
import ONNX
import Testing
import Wire

/// Every run's student also reaches the coordinator as `student.onnx`: stored, verified, readable
/// by our ONNX reader, and the same function as `student.safetensors`.
@Suite struct StudentONNXArtifactTests {
    @Test func theStudentIsStoredAsONNXAndGivesTheCheckpointsLogits() async throws {
        let (cluster, data, run) = try await RunsOverTransportTests().completedRun(teachers: 1)

        let artifacts = try cluster.store.artifacts(runID: run)
        #expect(!artifacts.contains { $0.name == "student.onnx-error.txt" }, "the export failed: \(artifacts.map(\.name))")
        let onnxRecord = try #require(artifacts.first { $0.name == "student.onnx" }, "artifacts: \(artifacts.map(\.name))")
        let checkpointRecord = try #require(artifacts.first { $0.name == "student.safetensors" })
        let onnxPath = "\(cluster.stateDir)/\(onnxRecord.path)"
        let bytes = [UInt8](try #require(FileManager.default.contents(atPath: onnxPath)))
        #expect(Int64(bytes.count) == onnxRecord.bytes && SHA256.hex(bytes) == onnxRecord.sha256)
        let metrics = try cluster.store.metrics(runID: run)
        #expect(metrics.last { $0.name == "student.onnx_bytes" }?.value == Double(bytes.count))
        #expect((metrics.last { $0.name == "student.onnx_latency_us" }?.value ?? 0) > 0)
        // The data's pre-processing travels with the graph as metadata.
        let text = String(decoding: bytes, as: UTF8.self)
        for key in ["distillery.scale", "distillery.normalization.mean", "distillery.normalization.std", "mlp:784-8-10"] {
            #expect(text.contains(key), "student.onnx lacks \(key)")
        }

        let model = try ONNXModel.load(path: onnxPath)
        #expect(model.opsetVersion == 17 && model.producerName == "distillery")
        let checkpoint = try ModelCheckpoint.read(from: "\(cluster.stateDir)/\(checkpointRecord.path)")
        let native = checkpoint.model
        let program = try ONNXProgram(model: model, sampleShape: [1, 28, 28])
        #expect(program.parameterCount == native.parameterCount)

        // A few test samples, pre-processed as the run did.
        let mean = try #require(checkpoint.metadata["normalization.mean"]), std = try #require(checkpoint.metadata["normalization.std"])
        let normalization = try #require(Normalization(metadataMean: mean, std: std))
        let test = normalization.apply(to: try FashionMNIST.load(split: .test, directory: data))
        let batch = 8
        let x = Array(test.pixels[0..<(batch * test.features)])
        let classes = native.outputFeatures
        let expected = x.withUnsafeBufferPointer { Array(UnsafeBufferPointer(start: native.infer($0.baseAddress!, batch: batch), count: batch * classes)) }
        let got = x.withUnsafeBufferPointer { Array(UnsafeBufferPointer(start: program.infer($0.baseAddress!, batch: batch), count: batch * classes)) }
        #expect(got.count == expected.count && classes == 10)
        let diff = zip(got, expected).map { abs($0 - $1) }.max() ?? .infinity
        #expect(diff <= 1e-5, "max |ONNX − native| = \(diff)")
        #expect(expected.contains { $0 != 0 }, "the logits are not all zero")
    }
}

extension RunsOverTransportTests {
    /// A tiny offline run on one teacher worker and one student worker, run to its end:
    /// the cluster, the data directory and the run's id (the run is expected to complete).
    func completedRun(teachers: Int) async throws -> (EmbeddedCluster, String, String) {
        let (cluster, data) = try await makeCluster()
        try await cluster.addWorker("t1", roles: [.teacher])
        try await cluster.addWorker("s1", roles: [.student])
        await cluster.pump()
        let reply = try await submit(cluster, Self.spec(dataset: data, teachers: teachers, replicas: 1))
        #expect(reply.accepted, "\(reply.errors)")
        let run = reply.runID
        await cluster.pump(until: { await cluster.phase(of: run)?.isTerminal == true })
        let events = try await logs(cluster, run).map(\.message)
        #expect(await cluster.phase(of: run) == .completed, "\(events)")
        return (cluster, data, run)
    }
}
