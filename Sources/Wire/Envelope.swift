/// Frame 0 of every message (proto `distillery.v1.Envelope`): who sent it, request/reply
/// correlation, the description of tensor frames 1…n, and one body.
///
/// Rules: `protocolVersion` == ``currentVersion`` (else ``WireError/Kind/version``); at most
/// ``WireLimits/maxTensorFrames`` tensors of rank ≤ ``WireLimits/maxRank``; tensor `i`
/// matches frame `i + 1` (see ``TensorMeta``); strings are valid UTF-8 without NUL characters
/// (protobuf-c cannot carry those); plus the body's own rules (see each message type).
public struct Envelope: Sendable, Equatable {
    /// The protocol version this implementation speaks.
    public static let currentVersion: UInt32 = 1

    /// A `ProtocolVersion` value; only ``currentVersion`` is accepted.
    public var protocolVersion: UInt32
    /// Node id of the sender ("coordinator", a worker name, "cli-<pid>").
    public var sender: String
    /// Unique per sender; 0 for unsolicited messages.
    public var requestID: UInt64
    /// The `requestID` this message answers; 0 if none.
    public var replyTo: UInt64
    /// One per tensor frame after frame 0, in order.
    public var tensors: [TensorMeta]
    public var body: Body

    public init(sender: String = "", requestID: UInt64 = 0, replyTo: UInt64 = 0, tensors: [TensorMeta] = [],
                body: Body, protocolVersion: UInt32 = Envelope.currentVersion) {
        self.protocolVersion = protocolVersion
        self.sender = sender
        self.requestID = requestID
        self.replyTo = replyTo
        self.tensors = tensors
        self.body = body
    }
}

/// One complete message: the envelope and its tensor frames (frames 1…n of the multipart
/// message; `frames[i]` is described by `envelope.tensors[i]`). Frame 0 is produced by
/// ``WireCodec/encode(_:limits:)`` and is not part of `frames`.
public struct Message: Sendable, Equatable {
    public var envelope: Envelope
    /// Tensor frames only, shared (never copied) by encode and decode.
    public var frames: [Frame]

    public init(_ envelope: Envelope, frames: [Frame] = []) {
        self.envelope = envelope
        self.frames = frames
    }
}
