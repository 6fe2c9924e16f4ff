/// Why a message was refused, by decode (received input) or encode (a programming error at
/// the sender).
///
/// `sender` and `requestID` are filled whenever the envelope header could be read, so the
/// receiver can answer with ``errorReply`` (`replyTo` = `requestID`); they are nil for
/// ``Kind/empty`` and ``Kind/malformed`` input, and for a ``Kind/oversized`` frame 0 whose
/// header ``EnvelopeHeader/peek(_:)`` cannot read.
public struct WireError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The class of problem, in the order decode checks them.
    public enum Kind: String, Sendable, CaseIterable {
        /// No frames at all.
        case empty
        /// The envelope frame, or a tensor (declared or real), beyond ``WireLimits``.
        case oversized
        /// Frame 0 does not decode as a protobuf `Envelope`.
        case malformed
        /// `protocol_version` is not ``Envelope/currentVersion``.
        case version
        /// No known body case is set.
        case unknownMessage
        /// Absurd counts: tensors, rank, repeated fields or string lengths beyond ``WireLimits``.
        case tooMany
        /// The number of tensor frames differs from `tensors.count`.
        case frameMismatch
        /// `byte_length` ≠ product(shape) × width, the product overflows, or a frame's real
        /// length ≠ `byte_length`.
        case shapeMismatch
        /// Decodes but breaks a rule: enum out of range, invalid UTF-8, or a body's own rule.
        case invalid
    }

    public var kind: Kind
    /// What was wrong, where (a field path such as "logits_batch.sample_end") and what is allowed.
    public var detail: String
    /// The envelope's `sender`, when the header could be read.
    public var sender: String?
    /// The envelope's `request_id`, when the header could be read.
    public var requestID: UInt64?

    public init(kind: Kind, detail: String, sender: String? = nil, requestID: UInt64? = nil) {
        self.kind = kind
        self.detail = detail
        self.sender = sender
        self.requestID = requestID
    }

    init(_ kind: Kind, _ detail: String) {
        self.init(kind: kind, detail: detail)
    }

    /// The `ErrorCode` to answer with: version → `.version`, unknownMessage →
    /// `.unknownMessage`, invalid → `.invalid`, everything else → `.malformed`.
    public var code: ErrorCode {
        switch kind {
        case .version: .version
        case .unknownMessage: .unknownMessage
        case .invalid: .invalid
        case .empty, .oversized, .malformed, .tooMany, .frameMismatch, .shapeMismatch: .malformed
        }
    }

    /// The reply a receiver sends back (with `replyTo` = ``requestID``).
    public var errorReply: ErrorReply { ErrorReply(code: code, message: description) }

    public var description: String {
        var text = Self.title(kind)
        if let sender {
            text += " from \"\(WireError.abbreviated(sender))\""
        }
        if let requestID {
            text += " (request \(requestID))"
        }
        return text + ": " + detail
    }

    /// `text` cut to `limit` characters (with "…"), so a hostile 1 MiB sender or tensor name
    /// cannot blow up error texts and the `ErrorReply` built from them.
    static func abbreviated(_ text: String, _ limit: Int = 64) -> String {
        text.count <= limit ? text : String(text.prefix(limit)) + "…"
    }

    private static func title(_ kind: Kind) -> String {
        switch kind {
        case .empty: "empty message"
        case .oversized: "oversized message"
        case .malformed: "malformed envelope"
        case .version: "unsupported protocol version"
        case .unknownMessage: "unknown message"
        case .tooMany: "too many elements"
        case .frameMismatch: "tensor frame count mismatch"
        case .shapeMismatch: "tensor size mismatch"
        case .invalid: "invalid message"
        }
    }
}
