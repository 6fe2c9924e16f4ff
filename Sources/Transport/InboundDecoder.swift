import Clocks
import Wire

/// Frames as they arrived, before decoding: from `peer` (a listener's routing id for the
/// sender; for a connection, the address it is connected to), stamped when the transport took
/// them off the wire (ZeroMQ: on the poller thread, as they leave libzmq), so a receiver that
/// was itself stalled still knows when each message could first have been heard. The stamp is
/// a reading of the transport's clock (default: the real one).
public struct RawInbound: Sendable {
    public let peer: PeerID
    public let frames: [Frame]
    public let arrivedAt: ClockInstant
    /// Frames of this message the transport received after `frames` but did not keep: past
    /// the frame limit it stops keeping them (bounded memory) and lets the decoder refuse the
    /// message (`tooMany`), so the sender is answered like any other refused request.
    public let discardedFrames: Int
    /// The sender's authenticated CURVE public key (Z85; ZeroMQ's ZAP "User-Id"), nil on a
    /// connection without CURVE. Listeners only.
    public let peerKey: String?

    public init(peer: PeerID, frames: [Frame], arrivedAt: ClockInstant, discardedFrames: Int = 0, peerKey: String? = nil) {
        self.peer = peer
        self.frames = frames
        self.arrivedAt = arrivedAt
        self.discardedFrames = discardedFrames
        self.peerKey = peerKey
    }
}

/// Turns received frames into a validated `Message`, or counts the refusal and builds the
/// `ErrorReply` the sender gets (PROTOCOL.md "Framing": every refusal is counted; it is also
/// answered with `Error` whenever the envelope's header was readable — including a frame 0
/// over its limit and a message with too many frames; never crash).
public struct InboundDecoder: Sendable {
    public let limits: WireLimits
    public let drops: DropCounter
    /// `Envelope.sender` of the error replies this endpoint sends.
    public let localName: String
    /// The clock `next`'s timeout runs on.
    public let clock: any RuntimeClock

    public init(limits: WireLimits, drops: DropCounter, localName: String, clock: any RuntimeClock = SystemRuntimeClock()) {
        self.limits = limits
        self.drops = drops
        self.localName = localName
        self.clock = clock
    }

    public enum Outcome: Sendable {
        case message(Message)
        /// Refused; `reply` is the `ErrorReply` to send back, nil when nobody can be answered.
        case refused(WireError, reply: Message?)
    }

    public func decode(_ frames: [Frame], from peer: PeerID, discardedFrames: Int = 0) -> Outcome {
        do {
            return .message(try WireCodec.decode(frames, limits: limits, discardedFrames: discardedFrames))
        } catch {
            drops.record(error.kind.rawValue, detail: "from \(peer): \(error)")
            return .refused(error, reply: errorReply(for: error))
        }
    }

    /// The reply for a refused message: only when its header was readable (a request id to
    /// answer), so garbage without a header costs no outbound traffic.
    public func errorReply(for error: WireError) -> Message? {
        guard let requestID = error.requestID else { return nil }
        let body = Body.error(ErrorReply(code: error.code, message: error.description))
        return Message(Envelope(sender: localName, requestID: 0, replyTo: requestID, body: body))
    }

    /// The receive loop of every endpoint: takes raw messages from `inbox` until one decodes,
    /// waiting at most `timeout` in total on the decoder's clock, and returns it (nil on timeout). A refused message
    /// whose header was readable is answered through `reply`, which must not wait (a peer that
    /// floods bad input must not stall the receiver): it returns false when the reply could not
    /// be queued, and that is counted as "reply-dropped".
    public func next(
        from inbox: BoundedQueue<RawInbound>, timeout: Duration,
        reply: (_ to: PeerID, _ frames: [Frame]) -> Bool
    ) async throws -> Inbound? {
        let deadline = clock.deadline(after: timeout)
        while true {
            guard let raw = try await deadline.wait({ try await inbox.take(timeout: $0) }) else { return nil }
            switch decode(raw.frames, from: raw.peer, discardedFrames: raw.discardedFrames) {
            case .message(let m): return Inbound(peer: raw.peer, message: m, arrivedAt: raw.arrivedAt, peerKey: raw.peerKey)
            case .refused(_, let answer):
                guard let answer, let frames = try? WireCodec.encode(answer, limits: limits) else { continue }
                if !reply(raw.peer, frames) {
                    drops.record("reply-dropped", detail: "send queue full; error reply to \(raw.peer) not sent")
                }
            }
        }
    }
}
