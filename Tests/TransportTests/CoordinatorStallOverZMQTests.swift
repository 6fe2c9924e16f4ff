import ClusterCore
import ClusterRuntime
import DataPlane
import ClusterStore
import Foundation
import Logging
import Testing
import Transport
import TransportZMQ
import Wire

/// Over real ZeroMQ on loopback: what a client sends cannot stall the coordinator's heartbeat
/// answers. A 1 MB spec (refused by size) and a spec just under the limit full of unknown keys
/// (parsed and refused) arrive while a worker heartbeats every 100 ms; the answers' latency
/// stays in milliseconds and the worker is never suspected.
@Suite(.serialized) struct CoordinatorStallOverZMQTests {
    @Test func hugeSpecsDelayNoHeartbeatAnswer() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("zmq-stall-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var logger = Logger(label: "test.zmq-stall")
        logger.logLevel = .critical
        let store = try ClusterStore(directory: dir)
        let liveness = LivenessSettings(heartbeatInterval: .milliseconds(100), suspectAfter: .milliseconds(600),
                                        deadAfter: .seconds(2))
        let coordinator = try Coordinator(settings: CoordinatorSettings(liveness: liveness), store: store, logger: logger)
        let server = try ZMQTransport(name: "coordinator", logger: logger)
        let listener = try await server.listen(at: "tcp://127.0.0.1:*")
        let service = CoordinatorService(coordinator: coordinator, listener: listener, logger: logger)
        let serving = Task { try await service.run() }
        let workerTransport = try ZMQTransport(name: "w1", logger: logger)
        let settings = WorkerSettings(name: "w1", roles: [.teacher, .student], coordinator: listener.address,
                                      cacheDirectory: "\(dir)/cache")
        let worker = try await WorkerService.make(settings: settings, transport: workerTransport, logger: logger)
        let working = Task { try await worker.run() }
        let clientTransport = try ZMQTransport(name: "cli", logger: logger)
        defer {
            serving.cancel()
            working.cancel()
        }
        let deadline = ContinuousClock.now + .seconds(10)
        while coordinator.liveness.member("w1")?.liveness != .alive, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        try await Task.sleep(for: .milliseconds(500))
        _ = coordinator.liveness.takeAnswerLatencies()

        let client = try await ControlClient(transport: clientTransport, coordinator: listener.address, timeout: .seconds(20))
        // 1 MB: refused by its size, at once.
        let megabyte = "name: big\n" + String(repeating: "# padding padding padding padding padding padding\n", count: 20_000)
        let started = ContinuousClock.now
        guard case .submitRunReply(let big) = try await client.request(.submitRun(SubmitRun(specYaml: megabyte, fileName: "big.yaml")))
        else { Issue.record("no submit reply"); return }
        let bigTook = ContinuousClock.now - started
        #expect(!big.accepted && big.errors.first?.field == "spec", "\(big)")
        // Just under the limit, every key unknown: parsed (off the actor) and refused.
        var keys = "name: many\n"
        var i = 0
        while keys.utf8.count < RunSpecLimitBytes.value - 64 {
            keys += "unknown-key-\(i): \(i)\n"
            i += 1
        }
        let parsedStart = ContinuousClock.now
        guard case .submitRunReply(let many) = try await client.request(.submitRun(SubmitRun(specYaml: keys, fileName: "many.yaml")))
        else { Issue.record("no submit reply"); return }
        let manyTook = ContinuousClock.now - parsedStart
        #expect(!many.accepted && many.errors.count <= 50)
        try await Task.sleep(for: .milliseconds(300))
        await client.close()

        let answers = coordinator.liveness.takeAnswerLatencies()
        print("1 MB spec refused in \(bigTook), \(i) unknown keys refused in \(manyTook); heartbeat answers meanwhile: \(answers)")
        #expect(answers.count >= 3)
        #expect(answers.max < .milliseconds(100), "\(answers)")
        #expect(coordinator.liveness.member("w1")?.liveness == .alive)
        let events = try store.events(runID: nil, limit: 50).map(\.message)
        #expect(!events.contains { $0.contains("suspect") || $0.contains("dead") || $0.contains("registered again") }, "\(events)")
        await clientTransport.shutdown()
        await workerTransport.shutdown()
        await server.shutdown()
    }
}

/// The spec size limit as the coordinator applies it.
enum RunSpecLimitBytes {
    static let value = 256 * 1024
}
