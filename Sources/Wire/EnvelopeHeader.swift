/// The header of a packed `Envelope` — `protocol_version` (field 1), `sender` (2) and
/// `request_id` (3) — read straight from the protobuf wire format, without unpacking the rest.
///
/// Why: a frame 0 above `WireLimits.maxEnvelopeBytes` is refused before protobuf-c sees it
/// (unpacking allocates in proportion to the input), yet its sender deserves the
/// `Error{ERROR_MALFORMED}` reply docs/PROTOCOL.md promises whenever the header is readable.
/// The scan is O(1): protobuf encoders (protobuf-c, Python, Go) write fields in number order,
/// so the header is the first few bytes; the scan stops at the first field after the header.
///
/// "Readable" is strict, so junk is not mistaken for a header: every key up to the first field
/// beyond 3 must be well formed, header fields appear at most once and in order, and
/// `protocol_version` must be present (a peer that sets no version cannot be answered in one).
public struct EnvelopeHeader: Sendable, Equatable {
    public var protocolVersion: UInt64
    public var sender: String
    public var requestID: UInt64

    /// Header fields and wire-format keys looked at, at most (a header is 3 fields).
    static let maxKeys = 8

    /// The header of the packed envelope in `frame`, or nil when it cannot be read as above.
    public static func peek(_ frame: Frame) -> EnvelopeHeader? {
        frame.withUnsafeBytes { peek(UnsafeRawBufferPointer($0)) }
    }

    static func peek(_ bytes: UnsafeRawBufferPointer) -> EnvelopeHeader? {
        var reader = Reader(bytes: bytes)
        var header = EnvelopeHeader(protocolVersion: 0, sender: "", requestID: 0)
        var seenVersion = false
        var lastField: UInt64 = 0
        for _ in 0..<maxKeys {
            if reader.atEnd { break }
            guard let key = reader.varint() else { return nil }
            let field = key >> 3, wireType = key & 7
            guard field > 0 else { return nil }
            if field > 3 {
                // The first field after the header: its key must be well formed, then stop.
                guard [0, 1, 2, 5].contains(wireType) else { return nil }
                break
            }
            guard field > lastField else { return nil }  // repeated or out of order: not a header we trust
            lastField = field
            switch (field, wireType) {
            case (1, 0):
                guard let v = reader.varint() else { return nil }
                header.protocolVersion = v
                seenVersion = true
            case (2, 2):
                guard let text = reader.lengthDelimited() else { return nil }
                header.sender = String(decoding: text, as: UTF8.self)
            case (3, 0):
                guard let v = reader.varint() else { return nil }
                header.requestID = v
            default:
                return nil  // a header field with the wrong wire type
            }
        }
        return seenVersion ? header : nil
    }

    /// A cursor over protobuf wire-format bytes; every read is bounds-checked.
    private struct Reader {
        let bytes: UnsafeRawBufferPointer
        var offset = 0

        var atEnd: Bool { offset >= bytes.count }

        /// A base-128 varint of at most 10 bytes, nil when cut off or too long.
        mutating func varint() -> UInt64? {
            var value: UInt64 = 0
            for shift in stride(from: 0, to: 70, by: 7) {
                guard offset < bytes.count else { return nil }
                let byte = bytes[offset]
                offset += 1
                value |= UInt64(byte & 0x7F) << UInt64(shift)
                if byte & 0x80 == 0 { return value }
            }
            return nil
        }

        /// The bytes of a length-delimited field, nil when its length runs past the end.
        mutating func lengthDelimited() -> UnsafeRawBufferPointer? {
            guard let length = varint(), length <= UInt64(bytes.count - offset) else { return nil }
            let start = offset
            offset += Int(length)
            return UnsafeRawBufferPointer(rebasing: bytes[start..<offset])
        }
    }
}
