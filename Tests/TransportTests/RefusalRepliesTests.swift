import Foundation
import Testing
import Transport
import TransportZMQ
import Wire

/// docs/PROTOCOL.md "Framing": a refused message whose envelope header is readable is answered
/// with `Error` (and counted) — also when it has too many frames, or a frame 0 just over its
/// limit — over the in-memory transport and over ZeroMQ alike. Junk without a header is only
/// counted.
@Suite(.timeLimit(.minutes(2))) struct RefusalRepliesTests {
    /// Small limits keep the oversized frame cheap.
    static let limits = WireLimits(maxEnvelopeBytes: 4096, maxTensorFrames: 4)

    /// A heartbeat's frame 0 from "peer-x" with `requestID`, padded past `maxEnvelopeBytes`
    /// when `oversized` (its `current_task` string comes after the header).
    static func envelope(_ requestID: UInt64, oversized: Bool = false) -> [UInt8] {
        let task = oversized ? String(repeating: "t", count: limits.maxEnvelopeBytes) : ""
        return WireCodec.encodeEnvelope(Envelope(sender: "peer-x", requestID: requestID,
                                                 body: .heartbeat(Heartbeat(sentUnixMs: 1, currentTask: task))))
    }

    /// Sends the bad messages on `connection` and checks the replies and the listener's counts.
    static func expectReplies(_ connection: any Connection, _ listener: any Listener) async throws {
        let raw = try #require(connection as? any UnvalidatedSending)
        // 1. Too many frames: frame 0 and 6 tensor frames (at most 4 allowed).
        try await raw.sendUnvalidated([Frame(bytes: envelope(11))] + (0..<6).map { _ in Frame(bytes: [1, 2, 3]) })
        // 2. A frame 0 just over its limit, with a readable header.
        let big = envelope(12, oversized: true)
        #expect(big.count > limits.maxEnvelopeBytes && big.count < limits.maxEnvelopeBytes + 64)
        try await raw.sendUnvalidated([Frame(bytes: big)])
        // 3. Junk over the limit: no header, so no reply; only counted.
        try await raw.sendUnvalidated([Frame(bytes: [UInt8](repeating: 0xFF, count: limits.maxEnvelopeBytes + 1))])
        // 4. A valid request afterwards is still served.
        try await connection.send(heartbeat(13, from: "peer-x"))

        var replies: [UInt64: Message] = [:]
        let deadline = ContinuousClock.now + .seconds(20)
        while replies.count < 3, ContinuousClock.now < deadline {
            if let m = try await connection.receive(timeout: .milliseconds(200)) { replies[m.envelope.replyTo] = m }
        }
        guard case .error(let tooMany) = replies[11]?.envelope.body else {
            Issue.record("no Error reply to the message with 7 frames: \(replies.keys.sorted())")
            return
        }
        #expect(tooMany.code == .malformed)
        #expect(tooMany.message.contains("the message has 7 frames; at most 5 allowed"), "\(tooMany.message)")
        #expect(tooMany.message.contains("peer-x") && tooMany.message.contains("request 11"))
        guard case .error(let oversized) = replies[12]?.envelope.body else {
            Issue.record("no Error reply to the oversized frame 0: \(replies.keys.sorted())")
            return
        }
        #expect(oversized.code == .malformed)
        #expect(oversized.message.contains("frame 0 (the Envelope) is \(big.count) bytes; at most 4096"), "\(oversized.message)")
        guard case .heartbeat = replies[13]?.envelope.body else {
            Issue.record("the valid request afterwards was not served: \(replies.keys.sorted())")
            return
        }
        #expect(replies.count == 3, "junk without a header gets no reply")
        #expect(listener.drops.count("tooMany") == 1)
        #expect(listener.drops.count("oversized") == 2)
    }

    @Test func inMemoryAnswersTooManyFramesAndAnOversizedFrameZero() async throws {
        let network = InMemoryNetwork()
        let listener = try await network.transport(name: "server", limits: Self.limits).listen(at: "mem://server")
        let server = Task { await echoServer(listener) }
        defer { server.cancel() }
        let c = try await network.transport(name: "client", limits: Self.limits).connect(to: "mem://server", identity: "peer-x")
        try await Self.expectReplies(c, listener)
    }

    @Test func zeroMQAnswersTooManyFramesAndAnOversizedFrameZero() async throws {
        var options = ZMQOptions()
        options.limits = Self.limits
        try await withZMQ(name: "server", options: options) { server in
            let listener = try await server.listen(at: anyLoopbackPort)
            let echo = Task { await echoServer(listener) }
            defer { echo.cancel() }
            try await withZMQ(name: "client", options: options) { client in
                let c = try await client.connect(to: listener.address, identity: "peer-x")
                try await Self.expectReplies(c, listener)
            }
        }
    }

    /// Over ZeroMQ the poller stops keeping frames one past the limit; the rest are counted
    /// toward the message's size all the same.
    @Test func zeroMQCountsFramesItDidNotKeep() async throws {
        var options = ZMQOptions()
        options.limits = Self.limits
        try await withZMQ(name: "server", options: options) { server in
            let listener = try await server.listen(at: anyLoopbackPort)
            let echo = Task { await echoServer(listener) }
            defer { echo.cancel() }
            try await withZMQ(name: "client", options: options) { client in
                let c = try await client.connect(to: listener.address, identity: "peer-x")
                let raw = try #require(c as? any UnvalidatedSending)
                try await raw.sendUnvalidated([Frame(bytes: Self.envelope(21))] + (0..<40).map { _ in Frame(bytes: [7]) })
                let reply = try #require(try await c.receive(timeout: .seconds(20)))
                guard case .error(let e) = reply.envelope.body else {
                    Issue.record("expected an Error, got \(reply.envelope.body.name)")
                    return
                }
                #expect(reply.envelope.replyTo == 21)
                #expect(e.message.contains("the message has 41 frames; at most 5 allowed"), "\(e.message)")
                #expect(listener.drops.count("tooMany") == 1)
            }
        }
    }
}
