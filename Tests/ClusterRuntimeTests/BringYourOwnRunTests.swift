import ClusterCore
import ClusterRuntime
import DataPlane
import Datasets
import DistilleryTestKit
import Foundation
import NN
import ONNX
import Tensor
import Testing
import Wire

/// Whole runs on data and teachers brought from outside: a NumPy `.npz` of float rows (not
/// images), and an ONNX teacher — through the coordinator's submission checks, the shard, the
/// workers and the data plane, in memory.
@Suite struct BringYourOwnRunTests {
    /// A seeded, learnable data set of `features` float32 features and `classes` classes: class
    /// c's rows are its own centre plus Gaussian noise.
    static func rows(count: Int, features: Int = 54, classes: Int = 7, seed: UInt64) -> (x: [Float], y: [Int64]) {
        var centres = SplitMix64(seed: 99)
        let centre = (0..<classes).map { _ in (0..<features).map { _ in centres.nextFloat() * 4 - 2 } }
        var rng = SplitMix64(seed: seed)
        var x: [Float] = [], y: [Int64] = []
        for _ in 0..<count {
            let c = rng.nextInt(below: classes)
            y.append(Int64(c))
            for f in 0..<features {
                // Box–Muller: one standard normal draw from two uniform ones.
                let u = max(rng.nextFloat(), 1e-7), v = rng.nextFloat()
                let z = (-2 * log(u)).squareRoot() * cos(2 * .pi * v)
                x.append(centre[c][f] + 1.5 * z)
            }
        }
        return (x, y)
    }

    static func writeRows(to path: String, train: Int, test: Int) throws {
        let a = rows(count: train, seed: 1), b = rows(count: test, seed: 2)
        let bytes = NumPyWriter.npz([("x_train", .float32(a.x), [train, 54]), ("y_train", .int64(a.y), [train]),
                                     ("x_test", .float32(b.x), [test, 54]), ("y_test", .int64(b.y), [test])])
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    /// An embedded cluster (no workers yet) and the path of a rows data set in its state
    /// directory (``writeRows(to:train:test:)``).
    static func rowsCluster(train: Int, test: Int) async throws -> (EmbeddedCluster, String) {
        let cluster = try await EmbeddedCluster()
        let npz = cluster.stateDir + "/rows.npz"
        try FileManager.default.createDirectory(atPath: cluster.stateDir, withIntermediateDirectories: true)
        try writeRows(to: npz, train: train, test: test)
        return (cluster, npz)
    }

    func submit(_ cluster: EmbeddedCluster, _ yaml: String) async throws -> SubmitRunReply {
        let reply = try await cluster.request(.submitRun(SubmitRun(specYaml: yaml, fileName: "byo.yaml")))
        guard case .submitRunReply(let r) = reply else { throw TestFailure("got \(reply.name)") }
        return r
    }

    /// Runs `yaml` to its end; the run's metrics by name (last value).
    func run(_ cluster: EmbeddedCluster, _ yaml: String) async throws -> [String: Double] {
        let reply = try await submit(cluster, yaml)
        #expect(reply.accepted, "\(reply.errors.map { "\($0.field): \($0.message)" })")
        guard reply.accepted else { return [:] }
        await cluster.pump(until: { await cluster.phase(of: reply.runID)?.isTerminal == true })
        let events = try cluster.store.events(runID: reply.runID, limit: 200).map(\.message)
        #expect(await cluster.phase(of: reply.runID) == .completed, "\(events)")
        var out: [String: Double] = [:]
        for m in try cluster.store.metrics(runID: reply.runID) { out[m.name] = m.value }
        return out
    }

    @Test func anNpzOfFloatRowsWith7ClassesDistilsEndToEnd() async throws {
        let (cluster, npz) = try await Self.rowsCluster(train: 700, test: 200)
        try await cluster.addWorker("t1", roles: [.teacher])
        try await cluster.addWorker("s1", roles: [.student])
        try await cluster.addWorker("s2", roles: [.student])
        await cluster.pump()
        let metrics = try await run(cluster, """
            name: rows
            dataset: { format: npz, path: \(npz), validation: 100, mean: fit, std: fit }
            teachers:
              - model: mlp:54-32-7
                count: 2
                train: { epochs: 15, batch: 50, lr: 0.005, seed: 1 }
            student: { model: mlp:54-16-7 }
            training: { epochs: 10, batch: 50, lr: 0.005 }
            replicas: 2
            """)
        // Chance is 1/7; the classes are well apart.
        #expect((metrics["teacher0.test_accuracy"] ?? 0) > 0.6, "\(metrics)")
        #expect((metrics["ensemble.test_accuracy"] ?? 0) > 0.6, "\(metrics)")
        #expect((metrics["student.test_accuracy"] ?? 0) > 0.5, "\(metrics)")
        // The shard the workers trained on holds float32 rows of 54 features and 7 classes.
        let shard = try #require(await cluster.coordinator.heldShardHeaders().first)
        #expect(shard.valueType == .float32 && shard.sampleShape == [54] && shard.classCount == 7)
        #expect(shard.trainCount == 700 && shard.testCount == 200 && shard.preprocessing.statistics == .fit)
    }

    @Test func anOnnxTeacherServesTheSameLogitsAsTheNativeModelItWasExportedFrom() async throws {
        let cluster = try await EmbeddedCluster()
        let data = cluster.stateDir + "/data"
        try SyntheticFashion.write(to: data, train: 500, test: 200)
        // One teacher, as a checkpoint and as the ONNX file exported from it.
        let spec = try ModelSpec(parsing: "cnn:1x28x28-c4-p2-fc16-fc10,bn")
        let model = try spec.build(dataShape: [1, 28, 28], seed: 5)
        let checkpoint = cluster.stateDir + "/teacher.safetensors", onnx = cluster.stateDir + "/teacher.onnx"
        try ModelCheckpoint(model: model, spec: spec, metadata: [:]).write(to: checkpoint)
        try Data(try ONNXExport.model(model, spec: spec.description, normalization: nil, producerVersion: "test"))
            .write(to: URL(fileURLWithPath: onnx))
        try await cluster.addWorker("t1", roles: [.teacher])
        try await cluster.addWorker("s1", roles: [.student])
        await cluster.pump()
        func yaml(_ teacher: String) -> String {
            """
            name: byo-onnx
            dataset: { name: fashion-mnist, path: \(data), validation: 100 }
            teachers:
              - \(teacher)
            student: { model: mlp:784-8-10 }
            training: { epochs: 1, batch: 50 }
            """
        }
        let native = try await run(cluster, yaml("{ model: \"\(spec)\", checkpoint: \(checkpoint) }"))
        let fromONNX = try await run(cluster, yaml("{ onnx: \(onnx) }"))
        for name in ["teacher0.test_accuracy", "ensemble.test_accuracy", "student.test_accuracy"] {
            #expect(native[name] != nil && native[name] == fromONNX[name], "\(name): \(native[name] ?? -1) vs \(fromONNX[name] ?? -1)")
        }
        // The ONNX graph's initializers also hold the batch-norm running statistics.
        let runningStatistics = model.layers.reduce(0) { $0 + $1.stateCount }
        #expect(fromONNX["teacher0.parameters"] == Double(model.parameterCount + runningStatistics))
    }

    @Test func submissionRefusesBadArraysAndTeachersThatDoNotFitTheData() async throws {
        let (cluster, npz) = try await Self.rowsCluster(train: 300, test: 100)
        // An ONNX teacher of 10 classes on 784 inputs, a data set of 7 classes on 54 features.
        let spec = try ModelSpec(parsing: "mlp:784-10")
        let onnx = cluster.stateDir + "/wrong.onnx", junk = cluster.stateDir + "/junk.onnx"
        try Data(try ONNXExport.model(try spec.build(dataShape: [784], seed: 1), spec: nil, normalization: nil, producerVersion: "t"))
            .write(to: URL(fileURLWithPath: onnx))
        try Data("not a model".utf8).write(to: URL(fileURLWithPath: junk))
        try await cluster.addWorker("t1", roles: [.teacher])
        try await cluster.addWorker("s1", roles: [.student])
        await cluster.pump()
        func yaml(arrays: String = "", teacher: String, student: String = "mlp:54-16-7") -> String {
            """
            name: refused
            dataset: { format: npz, path: \(npz), validation: 50\(arrays) }
            teachers:
              - \(teacher)
            student: { model: \(student) }

            """
        }
        let missing = try await submit(cluster, yaml(arrays: ", arrays: { x-train: features }", teacher: "{ onnx: \(onnx) }"))
        #expect(!missing.accepted)
        #expect(missing.errors.map(\.field) == ["dataset.path"])
        #expect(missing.errors.first?.message.contains("features") == true && missing.errors.first?.message.contains("x_train") == true,
                "\(missing.errors)")
        let misfit = try await submit(cluster, yaml(teacher: "{ onnx: \(onnx) }", student: "mlp:784-16-10"))
        #expect(!misfit.accepted)
        let byField = Dictionary(misfit.errors.map { ($0.field, $0.message) }, uniquingKeysWith: { $0 + "; " + $1 })
        #expect(byField["student.model"]?.contains("takes 784 inputs but rows samples are 54") == true, "\(byField)")
        #expect(byField["teachers[0].onnx"]?.contains("784") == true, "\(byField)")
        let garbage = try await submit(cluster, yaml(teacher: "{ onnx: \(junk) }"))
        #expect(garbage.errors.map(\.field) == ["teachers[0].onnx"])
        #expect(garbage.errors.first?.message.contains(junk) == true, "\(garbage.errors)")
        let online = try await submit(cluster, yaml(teacher: "{ onnx: \(onnx) }") + "distillation: { mode: online }\n")
        #expect(online.errors.contains { $0.field == "teachers[0].onnx" && $0.message.contains("online") }, "\(online.errors)")
    }

    /// A model no worker of its role could hold is refused at submission with the estimate and
    /// the limit (the embedded workers report 1 GiB), instead of crashing every worker it is
    /// placed on; a model that fits is accepted.
    @Test func modelsNoWorkerCanHoldAreRefusedAtSubmission() async throws {
        let (cluster, npz) = try await Self.rowsCluster(train: 300, test: 100)
        try await cluster.addWorker("t1", roles: [.teacher])
        try await cluster.addWorker("s1", roles: [.student])
        await cluster.pump()
        func yaml(teacher: String, student: String) -> String {
            """
            name: sizes
            dataset: { format: npz, path: \(npz), validation: 50 }
            teachers:
              - { model: \(teacher), train: { epochs: 1 } }
            student: { model: \(student) }
            training: { epochs: 1, batch: 32 }

            """
        }
        let huge = try await submit(cluster, yaml(teacher: "mlp:54-100000-100000-7", student: "mlp:54-1000000-1000000-7"))
        #expect(!huge.accepted)
        let byField = Dictionary(huge.errors.map { ($0.field, $0.message) }, uniquingKeysWith: { $0 + "; " + $1 })
        let student = try #require(byField["student.model"], "\(huge.errors)")
        #expect(student.contains("needs about 14.6 TiB") && student.contains("1000063000007 parameters")
                && student.contains("student worker (s1) has 1.0 GiB"), "\(student)")
        let teacher = try #require(byField["teachers[0].model"], "\(huge.errors)")
        #expect(teacher.contains("teacher worker (t1) has 1.0 GiB") && teacher.contains("training, batch 128"), "\(teacher)")
        let fits = try await submit(cluster, yaml(teacher: "mlp:54-64-7", student: "mlp:54-16-7"))
        #expect(fits.accepted, "\(fits.errors)")
    }
}
