internal import DistilleryProtoC

/// Encodes ``Message``s to multipart frames and decodes them back, enforcing the framing and
/// validation rules of docs/PROTOCOL.md.
///
/// Frame 0 is the protobuf-packed `Envelope` (protobuf-c); frames 1…n are the tensor frames,
/// passed through untouched in both directions (zero-copy).
///
/// Decode checks, in this order, and reports the first failure as a ``WireError``:
/// 1. no frames → `empty`;
/// 2. frame 0 longer than `maxEnvelopeBytes` → `oversized` (before protobuf-c sees it, so
///    unpacking allocates memory proportional to a bounded input; the header is still read
///    with ``EnvelopeHeader/peek(_:)`` so the sender can be answered);
/// 3. protobuf-c cannot unpack frame 0 → `malformed`;
/// 4. more than 1 + `maxTensorFrames` frames, or tensors, rank, repeated fields or strings
///    beyond the limits → `tooMany`;
/// 5. `protocol_version` ≠ 1 → `version`;
/// 6. no known body → `unknownMessage`;
/// 7. tensor frame count ≠ `tensors.count` → `frameMismatch`; per tensor, declared or real
///    size beyond `maxTensorBytes` → `oversized`, size arithmetic wrong → `shapeMismatch`;
/// 8. enum values, UTF-8, and the body's rules (see each message type) → `invalid`.
///
/// Encode applies the same checks to the outgoing message (a violation is a bug at the sender).
public enum WireCodec {
    /// Frame 0 (the packed envelope) followed by `message.frames` unchanged.
    ///
    /// Throws when the message breaks any rule decode enforces with `limits`, when a string
    /// contains a NUL character (protobuf-c would cut it), or when the packed envelope exceeds
    /// `limits.maxEnvelopeBytes`.
    public static func encode(_ message: Message, limits: WireLimits = .standard) throws(WireError) -> [Frame] {
        let envelope = message.envelope
        do throws(WireError) {
            let arena = CArena(refusesNUL: true)
            let c = try envelope.c(arena)
            try StructureCheck.counts(c, limits)
            try StructureCheck.version(c)
            try StructureCheck.body(c)
            try StructureCheck.tensors(c, frames: message.frames, limits)
            try Rules.check(envelope)
            let size = distillery__v1__envelope__get_packed_size(c)
            if size > limits.maxEnvelopeBytes {
                throw WireError(.oversized, "the packed envelope is \(size) bytes; at most \(limits.maxEnvelopeBytes) "
                    + "allowed (WireLimits.maxEnvelopeBytes)")
            }
            let packed = PackedEnvelope(c, size: size)
            return [Frame(owner: packed, base: UnsafeRawPointer(packed.bytes), count: size)] + message.frames
        } catch {
            throw error.from(envelope.sender, envelope.requestID)
        }
    }

    /// The packed envelope alone, without any validation (strings are cut at a NUL). For tests
    /// and fuzzers that craft bad input.
    public static func encodeEnvelope(_ envelope: Envelope) -> [UInt8] {
        let arena = CArena(refusesNUL: false)
        guard let c = try? envelope.c(arena) else { return [] }  // unreachable: this arena never throws
        let size = distillery__v1__envelope__get_packed_size(c)
        var bytes = [UInt8](repeating: 0, count: size)
        let written = bytes.withUnsafeMutableBufferPointer { buffer in
            buffer.baseAddress.map { distillery__v1__envelope__pack(c, $0) } ?? 0
        }
        return written == size ? bytes : Array(bytes.prefix(written))
    }

    /// The message in `frames` (frame 0 the envelope, the rest its tensor frames), checked in
    /// the order documented on ``WireCodec``. Tensor frames are shared, not copied.
    ///
    /// - Parameter discardedFrames: frames of the same message that the transport received
    ///   after the ones in `frames` but did not keep (it stops keeping them past the limit, so
    ///   memory stays bounded); they count toward the frame limit.
    public static func decode(_ frames: [Frame], limits: WireLimits = .standard,
                              discardedFrames: Int = 0) throws(WireError) -> Message {
        guard let head = frames.first else {
            throw WireError(.empty, "a message needs at least frame 0 (the Envelope); it has no frames")
        }
        if head.count > limits.maxEnvelopeBytes {
            let error = WireError(.oversized, "frame 0 (the Envelope) is \(head.count) bytes; at most "
                + "\(limits.maxEnvelopeBytes) allowed (WireLimits.maxEnvelopeBytes)")
            guard let header = EnvelopeHeader.peek(head) else { throw error }
            throw error.from(header.sender, header.requestID)
        }
        guard let c = unpack(head) else {
            throw WireError(.malformed, "frame 0 (\(head.count) bytes) does not decode as a distillery.v1.Envelope "
                + "protobuf")
        }
        defer { distillery__v1__envelope__free_unpacked(c, nil) }
        let sender = CRead.lossy(c.pointee.sender)
        do throws(WireError) {
            let frameCount = frames.count + max(0, discardedFrames)
            if frameCount - 1 > limits.maxTensorFrames {
                throw WireError(.tooMany, "the message has \(frameCount) frames; at most \(limits.maxTensorFrames + 1) "
                    + "allowed (frame 0 and WireLimits.maxTensorFrames tensor frames)")
            }
            try StructureCheck.counts(c, limits)
            try StructureCheck.version(c)
            try StructureCheck.body(c)
            let tensorFrames = Array(frames.dropFirst())
            try StructureCheck.tensors(c, frames: tensorFrames, limits)
            let envelope = try Envelope(c: c.pointee)
            try Rules.check(envelope)
            return Message(envelope, frames: tensorFrames)
        } catch {
            throw error.from(sender, c.pointee.request_id)
        }
    }

    private static func unpack(_ frame: Frame) -> UnsafeMutablePointer<Distillery__V1__Envelope>? {
        frame.withUnsafeBytes { raw in
            if let base = raw.baseAddress {
                return distillery__v1__envelope__unpack(nil, raw.count, base.assumingMemoryBound(to: UInt8.self))
            }
            var none: UInt8 = 0
            return distillery__v1__envelope__unpack(nil, 0, &none)
        }
    }
}

extension WireError {
    /// This error with the envelope header's sender and request id.
    func from(_ sender: String, _ requestID: UInt64) -> WireError {
        var e = self
        e.sender = sender
        e.requestID = requestID
        return e
    }
}

/// The bytes of a packed envelope (frame 0 of an encoded message); written once by
/// protobuf-c `pack` before the frame is shared, immutable afterwards.
final class PackedEnvelope: FrameOwner, @unchecked Sendable {
    let bytes: UnsafeMutableRawPointer

    init(_ c: UnsafePointer<Distillery__V1__Envelope>, size: Int) {
        bytes = UnsafeMutableRawPointer.allocate(byteCount: max(1, size), alignment: 16)
        let written = distillery__v1__envelope__pack(c, bytes.bindMemory(to: UInt8.self, capacity: max(1, size)))
        precondition(written == size, "protobuf-c packed \(written) bytes, expected \(size)")
    }

    deinit { bytes.deallocate() }
}
