import Wire

/// Turns received frames into a validated `Message`, or counts the refusal and builds the
/// `ErrorReply` the sender gets (PROTOCOL.md "Framing": answer with Error when the sender can
/// be identified, otherwise count a drop; never crash).
public struct InboundDecoder: Sendable {
    public let limits: WireLimits
    public let drops: DropCounter
    /// `Envelope.sender` of the error replies this endpoint sends.
    public let localName: String

    public init(limits: WireLimits, drops: DropCounter, localName: String) {
        self.limits = limits
        self.drops = drops
        self.localName = localName
    }

    public enum Outcome: Sendable {
        case message(Message)
        /// Refused; `reply` is the `ErrorReply` to send back, nil when nobody can be answered.
        case refused(WireError, reply: Message?)
    }

    public func decode(_ frames: [Frame], from peer: PeerID) -> Outcome {
        do {
            return .message(try WireCodec.decode(frames, limits: limits))
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
}
