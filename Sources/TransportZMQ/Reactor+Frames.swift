import CZeroMQ
import Transport
import Wire

/// Moving one multipart message between a socket and the queues, without waiting (poller thread).
extension Reactor {
    enum SendOutcome { case sent, wouldBlock, dropped }

    /// Sends one multipart message; failures other than "would block" on the first part are
    /// counted on `channel`'s drops.
    func send(_ out: Outgoing, on socket: UnsafeMutableRawPointer, channel: SocketChannel, blocking: Bool = false) -> SendOutcome {
        var parts = out.frames
        if channel.kind == .listener, let peer = out.peer { parts.insert(Frame(bytes: peer.bytes), at: 0) }
        let msg = UnsafeMutablePointer<zmq_msg_t>.allocate(capacity: 1)
        defer { msg.deallocate() }
        for (i, frame) in parts.enumerated() {
            guard ZMQFrames.initMessage(msg, with: frame, zeroCopyThreshold: options.zeroCopyThreshold) else {
                return .dropped
            }
            let flags = (i < parts.count - 1 ? ZMQ_SNDMORE : 0) | (blocking ? 0 : ZMQ_DONTWAIT)
            if zmq_msg_send(msg, socket, flags) < 0 {
                let err = zmq_errno()
                zmq_msg_close(msg)
                if i == 0 && err == EAGAIN { return .wouldBlock }
                if err == EHOSTUNREACH {
                    channel.drops.record("unroutable", detail: "peer \(out.peer.map { "\($0)" } ?? "?") is not connected")
                } else {
                    channel.drops.record("send-failed", detail: String(cString: zmq_strerror(err)))
                }
                return .dropped
            }
        }
        return .sent
    }

    /// Receives one multipart message without waiting; nil when none is ready. Parts beyond
    /// one more than the decoder could accept are discarded while reading (bounded memory);
    /// the message is still delivered, with the number discarded, so the decoder refuses it
    /// (`tooMany`), counts it and answers its sender when frame 0's header is readable.
    func receive(on socket: UnsafeMutableRawPointer, channel: SocketChannel) -> RawInbound? {
        // Routing id (listeners), frame 0, the tensor frames allowed, and one more.
        let maxParts = (channel.kind == .listener ? 1 : 0) + 1 + options.limits.maxTensorFrames + 1
        var parts: [Frame] = []
        var discarded = 0
        var peerKey: String?
        while true {
            let msg = UnsafeMutablePointer<zmq_msg_t>.allocate(capacity: 1)
            zmq_msg_init(msg)
            if zmq_msg_recv(msg, socket, ZMQ_DONTWAIT) < 0 {
                zmq_msg_close(msg)
                msg.deallocate()
                if parts.isEmpty && discarded == 0 { return nil }
                break  // cannot happen mid-message (multipart delivery is atomic)
            }
            let more = zmq_msg_more(msg) != 0
            if peerKey == nil, channel.kind == .listener, security != nil, let id = zmq_msg_gets(msg, "User-Id") {
                // The ZAP handler's user id: the client's authenticated public key.
                let key = String(cString: id)
                if !key.isEmpty { peerKey = key }
            }
            if parts.count < maxParts {
                parts.append(ZMQFrames.frame(taking: msg))
            } else {
                zmq_msg_close(msg)
                msg.deallocate()
                discarded += 1
            }
            if !more { break }
        }
        switch channel.kind {
        case .listener:
            guard parts.count >= 2 else {
                channel.drops.record("empty", detail: "a message with no frames")
                return nil
            }
            return RawInbound(peer: PeerID(bytes: parts[0].bytes), frames: Array(parts.dropFirst()), arrivedAt: clock.instant(), discardedFrames: discarded,
                              peerKey: peerKey)
        case .connection:
            return RawInbound(peer: PeerID(channel.address), frames: parts, arrivedAt: clock.instant(), discardedFrames: discarded)
        }
    }
}
