import DistilleryTestKit
import Testing
import Transport
import Wire

/// The fake network of the in-memory cluster tests behaves like the ZeroMQ transport: replies
/// routed by peer, the same decoding rules and error replies, bounded waits, clear errors.
@Suite(.timeLimit(.minutes(1))) struct InMemoryTransportTests {
    @Test func requestsAndRepliesAreRoutedByPeer() async throws {
        let network = InMemoryNetwork()
        let server = network.transport(name: "server"), client = network.transport(name: "client")
        let listener = try await server.listen(at: "mem://*")
        #expect(listener.address.hasPrefix("mem://server-"))
        let a = try await client.connect(to: listener.address, identity: "a")
        let b = try await client.connect(to: listener.address, identity: "b")
        let sent = logitsMessage(rows: 8, classes: 10)
        try await a.send(sent)
        try await b.send(heartbeat(2, from: "b"))
        var byPeer: [String: Message] = [:]
        for _ in 0..<2 {
            let inbound = try #require(try await listener.receive(timeout: .seconds(5)))
            byPeer[inbound.peer.description] = inbound.message
        }
        #expect(byPeer["a"]?.envelope == sent.envelope)
        #expect(byPeer["a"]?.frames == sent.frames)
        try await listener.send(heartbeat(7, from: "server"), to: PeerID("b"))
        #expect(try await b.receive(timeout: .seconds(5))?.envelope.requestID == 7)
        #expect(try await a.receive(timeout: .milliseconds(20)) == nil)
        await server.shutdown()
        await client.shutdown()
    }

    @Test func invalidFramesAreRefusedCountedAndAnswered() async throws {
        let network = InMemoryNetwork()
        let listener = try await network.transport(name: "server").listen(at: "mem://server")
        let c = try await network.transport(name: "client").connect(to: "mem://server", identity: "c")
        let raw = try #require(c as? any UnvalidatedSending)
        // A valid header whose envelope promises a tensor frame that is missing.
        var frames = try WireCodec.encode(logitsMessage(rows: 4, classes: 10, step: 41))
        frames.removeLast()
        try await raw.sendUnvalidated(frames)
        try await raw.sendUnvalidated([Frame(bytes: [0xFF, 0x00, 0x13])])  // garbage: no header
        try await c.send(heartbeat(42))
        let good = try #require(try await listener.receive(timeout: .seconds(5)))
        #expect(good.message.envelope.requestID == 42, "refused messages are skipped, not returned")
        #expect(listener.drops.count("frameMismatch") == 1)
        #expect(listener.drops.count("malformed") == 1)
        // Only the message with a readable header got an ErrorReply.
        let reply = try #require(try await c.receive(timeout: .seconds(5)))
        #expect(reply.envelope.replyTo == 41)
        guard case .error(let e) = reply.envelope.body else { Issue.record("expected an ErrorReply, got \(reply.envelope.body.name)"); return }
        #expect(e.message.contains("frame"))
        #expect(try await c.receive(timeout: .milliseconds(20)) == nil)
    }

    @Test func errorRepliesNeverWaitForAFullPeer() async throws {
        // The client never reads: its queue of 2 fills with error replies; the listener goes on
        // serving and counts the replies it could not queue.
        let network = InMemoryNetwork()
        let listener = try await network.transport(name: "server", queueCapacity: 2).listen(at: "mem://server")
        let c = try await network.transport(name: "client", queueCapacity: 2).connect(to: "mem://server", identity: "c")
        let raw = try #require(c as? any UnvalidatedSending)
        var frames = try WireCodec.encode(logitsMessage(rows: 4, classes: 10))
        frames.removeLast()
        for round in 0..<5 {
            try await raw.sendUnvalidated(frames)
            try await c.send(heartbeat(UInt64(100 + round)))
            let m = try #require(try await listener.receive(timeout: .seconds(5)))
            #expect(m.message.envelope.requestID == UInt64(100 + round))
        }
        #expect(listener.drops.count("reply-dropped") == 3)
    }

    @Test func waitsAreBoundedAndErrorsAreClear() async throws {
        let network = InMemoryNetwork()
        let t = network.transport(name: "lonely", sendTimeout: .milliseconds(100))
        await #expect(throws: TransportError.self) { _ = try await t.listen(at: "tcp://127.0.0.1:1") }
        let c = try await t.connect(to: "mem://nobody")
        do {
            try await c.send(heartbeat(1))
            Issue.record("sending to an address nobody listens at must time out")
        } catch let e as TransportError {
            #expect(e.description.contains("mem://nobody"))
        }
        let listener = try await t.listen(at: "mem://here")
        await #expect(throws: TransportError.self) { _ = try await t.listen(at: "mem://here") }
        #expect(try await listener.receive(timeout: .milliseconds(30)) == nil)
        await t.shutdown()
        await #expect(throws: TransportError.closed) { _ = try await listener.receive(timeout: .seconds(5)) }
    }
}
