import CZeroMQ
import DistilleryTestKit
import Foundation
import Testing
import Transport
import TransportZMQ
import Wire

/// A live ZeroMQ endpoint fed ≥ 100,000 random and mutated messages from a raw libzmq peer:
/// no crash, bounded memory, every refusal counted by kind and logged once per kind, and the
/// endpoint still answers a valid request afterwards.
@Suite(.timeLimit(.minutes(3))) struct BadInputTests {
    @Test func hundredThousandBadMessagesAreCountedAndTheEndpointStillAnswers() async throws {
        let capture = LogCapture()
        var options = ZMQOptions()
        options.limits.maxTensorBytes = 4 << 20  // small limits so "oversized" is cheap to produce
        let total = 100_000
        try await withZMQ(name: "target", options: options, logger: capture.logger()) { t in
            let listener = try await t.listen(at: anyLoopbackPort)
            let server = Task { await echoServer(listener) }
            let rssBefore = residentBytes()

            // The flood runs on its own thread: a raw libzmq peer blocks, and must not take one of
            // the cooperative pool's threads from the endpoint it is flooding.
            let address = listener.address
            let limits = options.limits
            let flood = try await onThread { () throws -> FloodResult in
                let peer = try RawPeer(connectingTo: address)
                defer { peer.close() }
                var samples = WireSamples(seed: 2026)
                var result = FloodResult()
                var rng = SplitMixForTest(seed: 7)
                for i in 0..<total {
                    if i % 5 < 3 {
                        let bad = samples.badFrames(limits: limits)
                        result.expected[bad.kind.rawValue, default: 0] += 1
                        try peer.send(bad.frames)
                    } else {
                        // A valid message with random damage: flipped bytes, cut, or extended.
                        var frames = try WireCodec.encode(samples.validMessage()).map(\.bytes)
                        mutate(&frames, rng: &rng)
                        try peer.send(frames)
                        result.mutated += 1
                    }
                    peer.drainReplies()
                    if i % 20_000 == 19_999 { result.peakRSS = max(result.peakRSS, residentBytes()) }
                }
                // A valid request afterwards is answered; by then every earlier message was
                // processed (one peer's messages are handled in order).
                try peer.send(try WireCodec.encode(heartbeat(777_777, from: "raw-peer")).map(\.bytes))
                result.finalReply = peer.awaitReply(to: 777_777, timeout: .seconds(30))
                result.errorReplies = peer.errorReplies
                return result
            }
            let expected = flood.expected, mutatedSent = flood.mutated
            #expect(flood.peakRSS - rssBefore < 200 << 20, "memory stays bounded while flooded")
            let reply = try #require(flood.finalReply, "endpoint answers after the flood")
            #expect(reply.envelope.replyTo == 777_777)
            server.cancel()
            let answered = await server.value

            let drops = listener.drops.snapshot
            // Every crafted bad message was refused with exactly the kind the generator meant.
            for (kind, n) in expected {
                #expect(drops[kind, default: 0] >= n, "\(kind): expected ≥ \(n), counted \(drops[kind, default: 0])")
            }
            // Nothing vanished: each message was either refused (counted) or valid (answered).
            // Outbound drops (an error reply that found the send queue full under load) are
            // counted too, under their own kinds, and are not part of this sum.
            let refused = WireError.Kind.allCases.reduce(0) { $0 + drops[$1.rawValue, default: 0] }
            #expect(refused + answered == total + 1, "refused \(refused) + answered \(answered); all drops \(drops)")
            #expect(answered >= 1)
            #expect(flood.errorReplies > 0, "refused requests with a readable header get an ErrorReply")
            // Each kind was logged once, not once per message.
            let logged = capture.messages.filter { $0.contains("dropped input") }
            #expect(logged.count == drops.count, "one log line per kind: \(logged.count) lines for \(drops.count) kinds")
            #expect(Set(drops.keys).isSuperset(of: ["malformed", "version", "unknownMessage", "tooMany",
                                                     "frameMismatch", "shapeMismatch", "oversized", "invalid"]),
                    "kinds seen: \(drops.keys.sorted())")
            #expect(residentBytes() - rssBefore < 200 << 20)
            print("bad-input flood: \(total) messages (\(mutatedSent) mutated valid ones); drops by kind \(drops.sorted { $0.key < $1.key }); valid answered \(answered); error replies \(flood.errorReplies); RSS +\((residentBytes() - rssBefore) >> 20) MiB")
        }
    }

    @Test func aFrameBeyondMaxMsgSizeCostsTheSenderItsConnectionNotTheEndpoint() async throws {
        var options = ZMQOptions()
        options.limits.maxTensorBytes = 1 << 20
        options.limits.maxEnvelopeBytes = 64 << 10
        try await withZMQ(name: "target", options: options) { t in
            let listener = try await t.listen(at: anyLoopbackPort)
            let server = Task { await echoServer(listener) }
            defer { server.cancel() }
            let address = listener.address, frameLimit = Int(options.maxFrameBytes)
            let answered = try await onThread { () throws -> Bool in
                let peer = try RawPeer(connectingTo: address)
                defer { peer.close() }
                let huge = [UInt8](repeating: 0xAB, count: frameLimit + 1)
                for _ in 0..<3 { try peer.send([huge]) }
                // libzmq cut the connection; the peer reconnects by itself and is served again.
                let deadline = ContinuousClock.now + .seconds(15)
                var id: UInt64 = 1
                while ContinuousClock.now < deadline {
                    try peer.send(try WireCodec.encode(heartbeat(id, from: "raw")).map(\.bytes))
                    if peer.awaitReply(to: id, timeout: .milliseconds(500)) != nil { return true }
                    id += 1
                }
                return false
            }
            #expect(answered)
        }
    }
}

/// Random damage to an encoded message: flip bytes, truncate, append junk, or drop/add frames.
func mutate(_ frames: inout [[UInt8]], rng: inout SplitMixForTest) {
    let f = rng.below(frames.count)
    switch rng.below(5) {
    case 0:
        for _ in 0..<(1 + rng.below(4)) where !frames[f].isEmpty {
            frames[f][rng.below(frames[f].count)] ^= UInt8(1 + rng.below(255))
        }
    case 1: frames[f] = Array(frames[f].prefix(rng.below(frames[f].count + 1)))
    case 2: frames[f] += (0..<(1 + rng.below(32))).map { _ in UInt8(rng.below(256)) }
    case 3: if frames.count > 1 { frames.removeLast() } else { frames.append([1, 2, 3]) }
    default: frames.append((0..<rng.below(64)).map { _ in UInt8(rng.below(256)) })
    }
}

struct SplitMixForTest {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func below(_ n: Int) -> Int { n <= 1 ? 0 : Int(next() % UInt64(n)) }
}

/// Resident memory of this process (Linux /proc/self/statm).
func residentBytes() -> Int {
    guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
    let pages = text.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
    return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
}

/// A plain libzmq DEALER, outside our transport, that sends arbitrary frames.
final class RawPeer {
    private let context: UnsafeMutableRawPointer
    private let socket: UnsafeMutableRawPointer
    private(set) var errorReplies = 0
    private var replies: [UInt64: Message] = [:]

    init(connectingTo address: String) throws {
        context = zmq_ctx_new()
        socket = zmq_socket(context, ZMQ_DEALER)
        var linger: Int32 = 0
        zmq_setsockopt(socket, ZMQ_LINGER, &linger, 4)
        var timeout: Int32 = 30_000
        zmq_setsockopt(socket, ZMQ_SNDTIMEO, &timeout, 4)
        // The flood's RSS check measures the whole process: keep the peer's own send buffer
        // small (the default 1000 messages of up to 4 MiB would dwarf the endpoint's memory).
        var hwm: Int32 = 16
        zmq_setsockopt(socket, ZMQ_SNDHWM, &hwm, 4)
        guard zmq_connect(socket, address) == 0 else { throw TransportError.endpointFailed(address, reason: "raw connect") }
    }

    func send(_ frames: [[UInt8]]) throws {
        let parts = frames.isEmpty ? [[UInt8]()] : frames
        for (i, f) in parts.enumerated() {
            let flags = i < parts.count - 1 ? ZMQ_SNDMORE : 0
            let rc = f.withUnsafeBytes { zmq_send(socket, $0.baseAddress, f.count, flags) }
            guard rc >= 0 else { throw TransportError.timedOut("raw send: \(String(cString: zmq_strerror(zmq_errno())))") }
        }
    }

    /// Reads every reply already waiting, without blocking.
    func drainReplies() { while receiveOne(flags: ZMQ_DONTWAIT) {} }

    /// Waits (bounded) for the reply to `requestID`.
    func awaitReply(to requestID: UInt64, timeout: Duration) -> Message? {
        let deadline = ContinuousClock.now + timeout
        while replies[requestID] == nil && ContinuousClock.now < deadline {
            var item = zmq_pollitem_t(socket: socket, fd: 0, events: Int16(ZMQ_POLLIN), revents: 0)
            _ = zmq_poll(&item, 1, 50)
            drainReplies()
        }
        return replies.removeValue(forKey: requestID)
    }

    private func receiveOne(flags: Int32) -> Bool {
        var frames: [Frame] = []
        var msg = zmq_msg_t()
        while true {
            zmq_msg_init(&msg)
            guard zmq_msg_recv(&msg, socket, flags) >= 0 else { zmq_msg_close(&msg); return false }
            frames.append(Frame(bytes: Array(UnsafeRawBufferPointer(start: zmq_msg_data(&msg), count: zmq_msg_size(&msg)))))
            let more = zmq_msg_more(&msg) != 0
            zmq_msg_close(&msg)
            if !more { break }
        }
        if let m = try? WireCodec.decode(frames) {
            if case .error = m.envelope.body { errorReplies += 1 } else { replies[m.envelope.replyTo] = m }
        }
        return true
    }

    func close() {
        zmq_close(socket)
        zmq_ctx_term(context)
    }
}

struct FloodResult: Sendable {
    var expected: [String: Int] = [:]
    var mutated = 0
    var peakRSS = 0
    var finalReply: Message?
    var errorReplies = 0
}

/// Runs blocking work on a dedicated thread and awaits its result.
func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread { continuation.resume(with: Result { try body() }) }
        thread.start()
    }
}
