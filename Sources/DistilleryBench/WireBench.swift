import ArgumentParser
import Clocks
import CLIOutput
import Foundation
import Tensor
import Transport
import TransportZMQ
import Wire

/// What `bench-wire stream-recv` prints (one line, as `zmq-raw-bench stream-recv`): tensor-frame
/// megabytes per second from the first message to the last.
struct StreamBenchResult: Codable, Equatable {
    var mbPerS: Double
    var messages: Int
    var seconds: Double

    enum CodingKeys: String, CodingKey {
        case mbPerS = "mb_per_s"
        case messages, seconds
    }
}

/// What `bench-wire rtt-client` prints (one line, as `zmq-raw-bench rtt-client`): round trips in µs.
struct RoundTripBenchResult: Codable, Equatable {
    var medianUs: Double
    var p99Us: Double
    var count: Int

    enum CodingKeys: String, CodingKey {
        case medianUs = "median_us"
        case p99Us = "p99_us"
        case count
    }
}

/// Transport throughput and latency over real sockets, the same traffic as `zmq-raw-bench`
/// (Scripts/bench runs both and prints the ratio). Prints one JSON line.
struct WireBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-wire",
        abstract: "Measure the transport (used by Scripts/bench beside plain libzmq).")

    enum Mode: String, ExpressibleByArgument, CaseIterable {
        case streamReceive = "stream-recv", streamSend = "stream-send", rttServer = "rtt-server", rttClient = "rtt-client"
    }

    @Argument(help: "stream-recv | stream-send | rtt-server | rtt-client") var mode: Mode
    @Argument(help: "Endpoint, e.g. tcp://127.0.0.1:5601.") var endpoint: String
    @Argument(help: "Messages (stream) or round trips (rtt).") var count: Int = 1000
    @Argument(help: "Tensor frame bytes per message (stream-send); a multiple of 64.") var bytes: Int = 65_536
    @Flag(help: "CurveZMQ on the connection (both sides: fixed bench keys), as a secured cluster.") var curve = false

    func run() async throws {
        var security: CurveSecurity?
        if curve {
            let server = try BenchKeys.pair("server"), client = try BenchKeys.pair("client")
            let listens = mode == .streamReceive || mode == .rttServer
            security = listens ? CurveSecurity(keys: server, authorizedClients: [client.publicKey])
                : CurveSecurity(keys: client, defaultServerKey: server.publicKey)
        }
        let transport = try ZMQTransport(name: "bench-\(mode.rawValue)", security: security)
        do {
            switch mode {
            case .streamReceive: try await streamReceive(transport)
            case .streamSend: try await streamSend(transport)
            case .rttServer: try await rttServer(transport)
            case .rttClient: try await rttClient(transport)
            }
        } catch {
            await transport.shutdown()
            throw error
        }
        await transport.shutdown()
    }

    /// Receives `count` logits batches; reports tensor-frame MB/s from the first to the last.
    func streamReceive(_ t: ZMQTransport) async throws {
        let listener = try await t.listen(at: endpoint)
        let clock = SystemRuntimeClock()
        var start = clock.instant()
        var payload = 0
        for i in 0..<count {
            guard let m = try await listener.receive(timeout: .seconds(60)) else {
                throw ValidationError("stream-recv: no message for 60 s after \(i) of \(count)")
            }
            if i == 0 { start = clock.instant() } else { payload += m.message.frames.reduce(0) { $0 + $1.count } }
        }
        let seconds = seconds(clock.elapsed(since: start))
        printJSON(StreamBenchResult(mbPerS: rounded(Double(payload) / 1e6 / seconds, 1), messages: count, seconds: rounded(seconds, 3)),
                  lines: true)
    }

    /// Sends `count` logits batches whose tensor frame has `bytes` bytes ([rows, 16] f32),
    /// all sharing one tensor (zero-copy, as a teacher re-sending a buffer would).
    func streamSend(_ t: ZMQTransport) async throws {
        let classes = 16
        let rows = max(1, bytes / (4 * classes))
        let tensor = Tensor(shape: [rows, classes], repeating: 0.25)
        let frame = Frame(tensor: tensor)
        let meta = TensorMeta(name: "logits", dtype: .f32, shape: [UInt64(rows), UInt64(classes)])
        let c = try await t.connect(to: endpoint)
        for i in 0..<count {
            let body = Body.logitsBatch(LogitsBatch(runID: "bench", epoch: 0, step: UInt64(i), replica: 0, teacher: 0,
                                                    sampleBegin: 0, sampleEnd: UInt64(rows), dtype: .f32, topK: 0))
            try await c.send(Message(Envelope(sender: "bench", requestID: UInt64(i + 1), tensors: [meta], body: body), frames: [frame]))
        }
        await c.close()
    }

    /// Answers heartbeats until one with request id 0 arrives (the client's stop signal).
    func rttServer(_ t: ZMQTransport) async throws {
        let listener = try await t.listen(at: endpoint)
        while true {
            guard let m = try await listener.receive(timeout: .seconds(120)) else { throw ValidationError("rtt-server: idle for 120 s") }
            let reply = Envelope(sender: "server", replyTo: m.message.envelope.requestID, body: .heartbeat(Heartbeat(sentUnixMs: 1)))
            try await listener.send(Message(reply), to: m.peer)
            if m.message.envelope.requestID == UInt64.max { return }
        }
    }

    /// Times `count` heartbeat round trips (after 100 warm-up ones); prints median and p99 in µs.
    func rttClient(_ t: ZMQTransport) async throws {
        let c = try await t.connect(to: endpoint)
        var rtts: [Double] = []
        rtts.reserveCapacity(count)
        let clock = SystemRuntimeClock()
        for i in -100..<count {
            let start = clock.instant()
            try await c.send(Message(Envelope(sender: "client", requestID: UInt64(i + 1_000), body: .heartbeat(Heartbeat(sentUnixMs: 1)))))
            guard (try await c.receive(timeout: .seconds(10))) != nil else { throw ValidationError("rtt-client: no reply within 10 s") }
            if i >= 0 { rtts.append(seconds(clock.elapsed(since: start)) * 1e6) }
        }
        try await c.send(Message(Envelope(sender: "client", requestID: UInt64.max, body: .heartbeat(Heartbeat(sentUnixMs: 1)))))
        _ = try await c.receive(timeout: .seconds(5))
        rtts.sort()
        printJSON(RoundTripBenchResult(medianUs: rounded(rtts[rtts.count / 2], 1), p99Us: rounded(rtts[rtts.count * 99 / 100], 1),
                                       count: count), lines: true)
    }

    func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }
}

/// Fixed CURVE key pairs of the benchmarks, by name: each process derives the same ones.
enum BenchKeys {
    static func pair(_ name: String) throws -> CurveKeyPair {
        var rng = SplitMix64(seed: name.utf8.reduce(UInt64(1469598103934665603)) { ($0 ^ UInt64($1)) &* 1099511628211 })
        return try CurveKeyPair(secretBytes: (0..<32).map { _ in UInt8(truncatingIfNeeded: rng.next()) })
    }
}
