import ClusterRuntime
import Foundation
import Testing
import Transport
import TransportZMQ
import Wire

/// What strangers send cannot grow a coordinator (issue 17, point 8): a registered worker (a
/// listed key may do as much) that floods a real coordinator process with large messages for
/// runs that do not exist, or with messages a coordinator never takes, leaves its memory where
/// it was, and each kind of drop is logged once.
@Suite(.serialized) struct FloodProcessTests {
    /// `VmRSS` and `VmHWM` (peak) of process `pid`, in bytes.
    static func memory(of pid: Int32) -> (rss: Int, peak: Int) {
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        func field(_ name: String) -> Int {
            guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix(name + ":") }) else { return -1 }
            return (Int(line.split(separator: " ").dropFirst().first { Int($0) != nil } ?? "") ?? -1) * 1024
        }
        return (field("VmRSS"), field("VmHWM"))
    }

    /// An answer to a flooding message (not to a heartbeat).
    static func isAnswer(_ m: Message) -> Bool {
        if case .heartbeat = m.envelope.body { return false }
        return m.envelope.replyTo < 50_000
    }

    @Test(.timeLimit(.minutes(3))) func aFloodOfLargeMessagesForNoRunLeavesTheCoordinatorsMemoryAlone() async throws {
        let dir = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let address = "tcp://127.0.0.1:\(freePort())"
        // Liveness windows of minutes: on a busy machine this test's sends can stall for seconds
        // (the test process's threads are shared with other tests), and the flooding worker must
        // stay a member throughout — the flood, not its liveness, is under test.
        let coordinator = try Node(["coordinator", "--listen", address, "--state-dir", dir.appendingPathComponent("state").path,
                                    "--suspect-ms", "120000", "--dead-ms", "240000"],
                                   log: dir.appendingPathComponent("coordinator.log"))
        #expect(eventually(timeout: 20) { (try? distillery(["status", "--coordinator", address, "--timeout", "2"]))?.status == 0 })
        let before = Self.memory(of: coordinator.pid)
        let transport = try ZMQTransport(name: "flood")
        let connection = try await transport.connect(to: address, identity: "flood")
        let mib = [UInt8](repeating: 0x5a, count: 1 << 20)
        var sent = 0, replies = 0
        let chunks = 384
        let register = Body.register(Register(name: "flood", roles: [.teacher], dataEndpoint: "tcp://127.0.0.1:1", cores: 1,
                                              version: DistilleryVersion.current))
        try await connection.send(Message(Envelope(sender: "flood", requestID: 99_999, body: register)))
        let ack = try await connection.receive(timeout: .seconds(10))
        guard case .registerAck = ack?.envelope.body else {
            Issue.record("not registered: \(String(describing: ack?.envelope.body))")
            return
        }
        // 384 MiB of artifact chunks for a run that does not exist, 1 MiB each …
        for i in 0..<chunks {
            let body = Body.artifactChunk(ArtifactChunk(runID: "run-404-aaaaaaaa", name: "student.safetensors", sha256: "00",
                                                        totalBytes: 1 << 30, offset: UInt64(i) << 20, last: false))
            let meta = TensorMeta(name: "chunk", dtype: .u8, shape: [UInt64(mib.count)])
            try await connection.send(Message(Envelope(sender: "flood", requestID: UInt64(i + 1), tensors: [meta], body: body),
                                              frames: [Frame(bytes: mib)]))
            sent += mib.count
            if i % 32 == 0 {  // a worker's heartbeats, so that it stays a member however slowly this goes
                try await connection.send(Message(Envelope(sender: "flood", requestID: UInt64(50_000 + i), body: .heartbeat(Heartbeat()))))
            }
            while let m = try await connection.receive(timeout: .zero) { replies += Self.isAnswer(m) ? 1 : 0 }
        }
        // … 16 logits messages of 256 KiB, which a coordinator never takes …
        func logits(_ bytes: Int, id: Int) -> Message {
            let body = Body.logitsBatch(LogitsBatch(runID: "run-405-aaaaaaaa", epoch: 0, step: UInt64(id), replica: 0, teacher: 0,
                                                    sampleBegin: 0, sampleEnd: UInt64(bytes / 64), dtype: .f32))
            let meta = TensorMeta(name: "logits", dtype: .f32, shape: [UInt64(bytes / 64), 16])
            return Message(Envelope(sender: "flood", requestID: UInt64(10_000 + id), tensors: [meta], body: body),
                           frames: [Frame(bytes: [UInt8](repeating: 0x33, count: bytes))])
        }
        for i in 0..<16 {
            try await connection.send(logits(256 << 10, id: i))
            sent += 256 << 10
        }
        let deadline = Date().addingTimeInterval(30)
        while replies < chunks + 16 && Date() < deadline {
            if let m = try await connection.receive(timeout: .milliseconds(200)) { replies += Self.isAnswer(m) ? 1 : 0 }
        }
        // … and 256 MiB of them in 16 MiB frames: larger than anything a coordinator takes
        // (WireLimits.coordinator), so libzmq drops the connection before buffering them.
        for i in 0..<16 {
            _ = try? await connection.send(logits(16 << 20, id: 100 + i))
            sent += 16 << 20
        }
        var late = 0
        while let m = try await connection.receive(timeout: .milliseconds(500)) { late += Self.isAnswer(m) ? 1 : 0 }
        await connection.close()
        try? await Task.sleep(for: .seconds(1))
        let after = Self.memory(of: coordinator.pid)
        let status = try distillery(["status", "--coordinator", address, "--timeout", "5"])
        let log = coordinator.output
        print("flood of \(sent >> 20) MiB: coordinator RSS \(before.rss >> 20) → peak \(after.peak >> 20) → \(after.rss >> 20) MiB; "
              + "\(replies) replies")
        #expect(status.status == 0, "the coordinator still answers: \(status.err)")
        #expect(replies == chunks + 16, "every message within the limits is answered (refused): \(replies)")
        #expect(late == 0, "an oversized message is not answered: the connection was dropped")
        #expect(after.peak - before.rss < 200 << 20, "peak \(after.peak >> 20) MiB from \(before.rss >> 20) MiB")
        #expect(after.rss - before.rss < 64 << 20, "RSS \(after.rss >> 20) MiB from \(before.rss >> 20) MiB")
        // Each kind logged once (DropCounter), not once per message.
        #expect(log.components(separatedBy: "(artifact-unknown-run)").count == 2, "\(log)")
        #expect(log.split(separator: "\n").filter { $0.contains("run-404-aaaaaaaa") }.count == 1, "\(log)")
        #expect(log.contains("(not-accepted): LogitsBatch from flood"), "\(log)")
        withExtendedLifetime(coordinator) {}
    }
}
