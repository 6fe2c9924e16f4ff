import Foundation
import Synchronization
import Testing
import Transport
import TransportZMQ
import Wire

/// Real ZeroMQ sockets on loopback: requests and replies routed by peer, tensor frames intact
/// and zero-copy, every wait bounded, clear errors, shutdown that never hangs.
@Suite(.timeLimit(.minutes(1))) struct ZMQTransportTests {
    @Test func requestAndReplyWithTensorFramesOverTCP() async throws {
        try await withZMQ { t in
            let listener = try await t.listen(at: anyLoopbackPort)
            #expect(listener.address.hasPrefix("tcp://127.0.0.1:") && !listener.address.hasSuffix("*"))
            let a = try await t.connect(to: listener.address, identity: "worker-a")
            let b = try await t.connect(to: listener.address, identity: "worker-b")
            let sent = logitsMessage(rows: 512, classes: 10)
            try await a.send(sent)
            try await b.send(heartbeat(9, from: "worker-b"))

            var byPeer: [String: Message] = [:]
            for _ in 0..<2 {
                let inbound = try #require(try await listener.receive(timeout: .seconds(5)))
                byPeer[inbound.peer.description] = inbound.message
            }
            let logits = try #require(byPeer["worker-a"])
            #expect(logits.envelope == sent.envelope)
            #expect(logits.frames == sent.frames)
            #expect(byPeer["worker-b"]?.envelope.requestID == 9)

            // Replies reach the right peer only.
            try await listener.send(heartbeat(1, from: "server"), to: PeerID("worker-b"))
            let reply = try #require(try await b.receive(timeout: .seconds(5)))
            #expect(reply.envelope.sender == "server")
            #expect(try await a.receive(timeout: .milliseconds(100)) == nil)
        }
    }

    @Test func largeFramesRoundTripByteForByte() async throws {
        try await withZMQ { t in
            let listener = try await t.listen(at: anyLoopbackPort)
            let c = try await t.connect(to: listener.address)
            let sent = logitsMessage(rows: 16_384, classes: 16)  // 1 MiB
            try await c.send(sent)
            let got = try #require(try await listener.receive(timeout: .seconds(5)))
            #expect(got.message.frames.first?.count == 1 << 20)
            #expect(got.message.frames == sent.frames)
        }
    }

    @Test func sentTensorFramesAreBorrowedNotCopied() async throws {
        // A zero-copy send retains the frame's owner until libzmq's release callback: the owner
        // outlives our last reference and is freed after delivery.
        final class Watched: FrameOwner, @unchecked Sendable {
            static let freed = Mutex(0)
            let bytes = UnsafeMutableRawPointer.allocate(byteCount: 65_536, alignment: 64)
            init() { bytes.initializeMemory(as: UInt8.self, repeating: 5, count: 65_536) }
            deinit { bytes.deallocate(); Watched.freed.withLock { $0 += 1 } }
        }
        try await withZMQ { t in
            let listener = try await t.listen(at: anyLoopbackPort)
            let c = try await t.connect(to: listener.address)
            do {
                let owner = Watched()
                let frame = Frame(owner: owner, base: UnsafeRawPointer(owner.bytes), count: 65_536)
                let meta = TensorMeta(name: "chunk", dtype: .u8, shape: [65_536])
                let body = Body.shardChunk(ShardChunk(shardHash: String(repeating: "a", count: 64), chunkIndex: 0, offset: 0))
                try await c.send(Message(Envelope(sender: "w", requestID: 1, tensors: [meta], body: body), frames: [frame]))
            }
            let got = try #require(try await listener.receive(timeout: .seconds(5)))
            #expect(got.message.frames.first?.bytes.allSatisfy { $0 == 5 } == true)
            let deadline = ContinuousClock.now + .seconds(5)
            while Watched.freed.withLock({ $0 }) == 0 && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
            #expect(Watched.freed.withLock { $0 } == 1, "the frame owner is released once libzmq is done with it")
        }
    }

    @Test func receiveWaitsNoLongerThanItsTimeout() async throws {
        try await withZMQ { t in
            let listener = try await t.listen(at: anyLoopbackPort)
            let start = ContinuousClock.now
            #expect(try await listener.receive(timeout: .milliseconds(150)) == nil)
            let waited = start.duration(to: .now)
            #expect(waited >= .milliseconds(140) && waited < .seconds(20), "waited \(waited)")
        }
    }

    @Test func sendToNobodyFailsAfterTheSendTimeout() async throws {
        var options = ZMQOptions()
        options.queueCapacity = 4
        options.sendTimeout = .milliseconds(200)
        try await withZMQ(options: options) { t in
            // Nothing listens on this port: ZMQ_IMMEDIATE keeps messages in our queue, which fills.
            let c = try await t.connect(to: "tcp://127.0.0.1:1")
            let start = ContinuousClock.now
            var error: (any Error)?
            do { for i in 0..<100 { try await c.send(heartbeat(UInt64(i + 1))) } } catch let e { error = e }
            let e = try #require(error as? TransportError)
            guard case .timedOut = e else { Issue.record("expected a timeout, got \(e)"); return }
            #expect(start.duration(to: .now) < .seconds(20), "bounded even on a loaded machine")
            #expect(e.description.contains("timed out"))
        }
    }

    @Test func shutdownWithUndeliverableMessagesReturnsWithinLinger() async throws {
        var options = ZMQOptions()
        options.lingerMs = 300
        let t = try ZMQTransport(name: "lingering", options: options)
        let listener = try await t.listen(at: anyLoopbackPort)
        let c = try await t.connect(to: listener.address)
        // The listener stops reading: messages pile up in libzmq.
        for i in 0..<50 { try await c.send(logitsMessage(rows: 1024, classes: 16, step: UInt64(i + 1))) }
        let other = try await t.connect(to: "tcp://127.0.0.1:1")
        try await other.send(heartbeat(1))
        let start = ContinuousClock.now
        await t.shutdown()
        #expect(start.duration(to: .now) < .seconds(20), "bounded even on a loaded machine")
        // What had arrived can still be read; then the closed endpoint says so.
        await #expect(throws: TransportError.closed) {
            for _ in 0..<1000 { _ = try await listener.receive(timeout: .milliseconds(10)) }
        }
        await #expect(throws: TransportError.closed) { _ = try await t.listen(at: anyLoopbackPort) }
    }

    @Test func badAddressesGiveClearErrors() async throws {
        try await withZMQ { t in
            do {
                _ = try await t.listen(at: "nonsense://x")
                Issue.record("expected an error")
            } catch let e as TransportError {
                #expect(e.description.contains("nonsense://x"))
            }
            let listener = try await t.listen(at: anyLoopbackPort)
            do {
                _ = try await t.listen(at: listener.address)
                Issue.record("binding the same port twice must fail")
            } catch let e as TransportError {
                #expect(e.description.contains(listener.address))
                #expect(e.description.lowercased().contains("in use"))
            }
        }
    }

    @Test func invalidOutgoingMessagesAreRefusedAtTheSender() async throws {
        try await withZMQ { t in
            let listener = try await t.listen(at: anyLoopbackPort)
            let c = try await t.connect(to: listener.address)
            var m = logitsMessage(rows: 4, classes: 10)
            m.frames = []  // the envelope promises a tensor frame that is not there
            await #expect(throws: TransportError.self) { try await c.send(m) }
        }
    }

    /// Regression: the poller once lost a wake-up (it cleared its "wake pending" flag before
    /// draining the eventfd, so a wake written in between was swallowed and later ones skipped
    /// the write) and then slept forever with a full receive queue. Queues of one element make
    /// every message wake the poller in both directions; a lost wake-up shows as a timeout.
    @Test func noWakeUpIsLostWhenQueuesFillAndEmptyConstantly() async throws {
        var options = ZMQOptions()
        options.queueCapacity = 1
        try await withZMQ(options: options) { t in
            let listener = try await t.listen(at: anyLoopbackPort)
            let peers = 2, each = 25_000
            try await withThrowingTaskGroup(of: Int.self) { group in
                for p in 0..<peers {
                    group.addTask {
                        let c = try await t.connect(to: listener.address, identity: "peer-\(p)")
                        var replies = 0
                        for i in 1...each {
                            try await c.send(heartbeat(UInt64(i), from: "peer-\(p)"))
                            // Read replies as they come, so both directions stay busy.
                            while let _ = try await c.receive(timeout: .zero) { replies += 1 }
                        }
                        while replies < each {
                            guard try await c.receive(timeout: .seconds(10)) != nil else { break }
                            replies += 1
                        }
                        return replies
                    }
                }
                for n in 0..<(peers * each) {
                    let m = try #require(try await listener.receive(timeout: .seconds(10)), "stalled after \(n) messages")
                    try await listener.send(heartbeat(m.message.envelope.requestID, from: "server"), to: m.peer)
                }
                var replies = 0
                for try await r in group { replies += r }
                #expect(replies == peers * each)
            }
        }
    }

    @Test func manyPeersAndMessagesArriveInOrderPerPeer() async throws {
        try await withZMQ { t in
            let listener = try await t.listen(at: anyLoopbackPort)
            let peers = 4, each = 500
            try await withThrowingTaskGroup(of: Void.self) { group in
                for p in 0..<peers {
                    group.addTask {
                        let c = try await t.connect(to: listener.address, identity: "peer-\(p)")
                        for i in 1...each { try await c.send(heartbeat(UInt64(i), from: "peer-\(p)")) }
                    }
                }
                var last: [String: UInt64] = [:]
                for _ in 0..<(peers * each) {
                    let m = try #require(try await listener.receive(timeout: .seconds(10)))
                    let id = m.message.envelope.requestID
                    #expect(id == (last[m.peer.description] ?? 0) + 1, "per-peer order")
                    last[m.peer.description] = id
                }
                try await group.waitForAll()
                #expect(last.count == peers && last.values.allSatisfy { $0 == UInt64(each) })
            }
        }
    }
}
