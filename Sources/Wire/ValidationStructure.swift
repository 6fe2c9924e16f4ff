internal import DistilleryProtoC

/// The checks that need the protobuf-c struct rather than Swift values, shared by decode (on
/// the unpacked struct) and encode (on the struct built for `pack`), in decode's order:
/// counts (`tooMany`) → version → body case (`unknownMessage`) → tensors vs frames
/// (`frameMismatch`, `oversized`, `shapeMismatch`).
enum StructureCheck {
    typealias CEnvelope = Distillery__V1__Envelope

    /// `tooMany`: more tensors than `maxTensorFrames`, a rank above `maxRank`, any repeated
    /// field longer than `maxRepeated`, or any string longer than `maxStringBytes`.
    static func counts(_ e: UnsafePointer<CEnvelope>, _ limits: WireLimits) throws(WireError) {
        let n = e.pointee.n_tensors
        if n > limits.maxTensorFrames {
            throw WireError(.tooMany, "tensors has \(n) entries; at most \(limits.maxTensorFrames) allowed "
                + "(WireLimits.maxTensorFrames)")
        }
        if n > 0, let tensors = e.pointee.tensors {
            for i in 0..<n {
                guard let t = tensors[i] else { continue }
                let rank = t.pointee.n_shape
                if rank > limits.maxRank {
                    throw WireError(.tooMany, "tensors[\(i)].shape has rank \(rank); at most \(limits.maxRank) "
                        + "dimensions allowed (WireLimits.maxRank)")
                }
            }
        }
        try walk(UnsafeRawPointer(e), limits, prefix: { "" })
    }

    /// Visits every set field of a protobuf-c message through its descriptor, so fields added
    /// to the contract later are bounded too. `prefix` gives the field path ("" or "x.y.").
    private static func walk(_ message: UnsafeRawPointer, _ limits: WireLimits, prefix: () -> String) throws(WireError) {
        guard let descriptor = message.assumingMemoryBound(to: ProtobufCMessage.self).pointee.descriptor,
              let fields = descriptor.pointee.fields else { return }
        let oneofFlag = PROTOBUF_C_FIELD_FLAG_ONEOF.rawValue
        for i in 0..<Int(descriptor.pointee.n_fields) {
            let field = fields[i]
            let isString = field.type == PROTOBUF_C_TYPE_STRING
            let isMessage = field.type == PROTOBUF_C_TYPE_MESSAGE
            if field.flags & oneofFlag != 0,
               message.load(fromByteOffset: Int(field.quantifier_offset), as: UInt32.self) != field.id {
                continue
            }
            let member = message + Int(field.offset)
            let name = { String(cString: field.name) }
            if field.label == PROTOBUF_C_LABEL_REPEATED {
                let count = message.load(fromByteOffset: Int(field.quantifier_offset), as: Int.self)
                if count > limits.maxRepeated {
                    throw WireError(.tooMany, "\(prefix())\(name()) has \(count) elements; at most "
                        + "\(limits.maxRepeated) allowed (WireLimits.maxRepeated)")
                }
                guard count > 0, isString || isMessage, let items = member.load(as: UnsafeRawPointer?.self) else {
                    continue
                }
                let stride = MemoryLayout<UnsafeRawPointer?>.stride
                for j in 0..<count {
                    let item = items.load(fromByteOffset: j * stride, as: UnsafeRawPointer?.self)
                    if isString {
                        try checkString(item, limits) { "\(prefix())\(name())[\(j)]" }
                    } else if let item {
                        try walk(item, limits) { "\(prefix())\(name())[\(j)]." }
                    }
                }
            } else if isString {
                try checkString(member.load(as: UnsafeRawPointer?.self), limits) { "\(prefix())\(name())" }
            } else if isMessage, let sub = member.load(as: UnsafeRawPointer?.self) {
                try walk(sub, limits) { "\(prefix())\(name())." }
            }
        }
    }

    private static func checkString(_ p: UnsafeRawPointer?, _ limits: WireLimits, path: () -> String) throws(WireError) {
        guard let p else { return }
        let length = cStringLength(p.assumingMemoryBound(to: CChar.self))
        if length > limits.maxStringBytes {
            throw WireError(.tooMany, "\(path()) is \(length) bytes long; at most \(limits.maxStringBytes) allowed "
                + "(WireLimits.maxStringBytes)")
        }
    }

    /// `version`: only ``Envelope/currentVersion`` is spoken.
    static func version(_ e: UnsafePointer<CEnvelope>) throws(WireError) {
        let v = e.pointee.protocol_version
        if v != Envelope.currentVersion {
            throw WireError(.version, "protocol_version is \(v)\(v == 0 ? " (unset)" : ""); this peer speaks only "
                + "version \(Envelope.currentVersion)")
        }
    }

    /// `unknownMessage`: no body, or one this peer does not know (protobuf-c keeps an unknown
    /// oneof member as an unknown field and leaves the case unset).
    static func body(_ e: UnsafePointer<CEnvelope>) throws(WireError) {
        let c = e.pointee.body_case
        if c == DISTILLERY__V1__ENVELOPE__BODY__NOT_SET {
            let unknown = e.pointee.base.n_unknown_fields
            throw WireError(.unknownMessage, unknown > 0
                ? "the envelope's body is not a message this peer knows (\(unknown) unknown field(s); the sender may "
                    + "speak a newer contract)"
                : "the envelope has no body; exactly one message (Register … Error) must be set")
        }
        if !Body.isKnown(c) {
            throw WireError(.unknownMessage, "envelope body case \(c.rawValue) is not a known message")
        }
    }

    /// `frameMismatch`, `oversized`, `shapeMismatch`: tensor `i` describes `frames[i]`.
    ///
    /// Per tensor: byte_length and the frame's length ≤ `maxTensorBytes` (`oversized`);
    /// product(shape) × width without overflow, equal to byte_length; frame length equal to
    /// byte_length (`shapeMismatch`). A dtype outside ``DType`` cannot be sized; it is
    /// reported later as `.invalid`, after every size check of every tensor has passed.
    static func tensors(_ e: UnsafePointer<CEnvelope>, frames: [Frame], _ limits: WireLimits) throws(WireError) {
        let n = e.pointee.n_tensors
        guard frames.count == n else {
            throw WireError(.frameMismatch, "tensors describes \(n) tensor frame(s) but \(frames.count) follow "
                + "frame 0")
        }
        guard n > 0 else { return }
        guard let tensors = e.pointee.tensors else {
            throw WireError(.malformed, "tensors has \(n) entries but no storage")
        }
        let maxBytes = UInt64(max(0, limits.maxTensorBytes))
        for i in 0..<n {
            guard let t = tensors[i]?.pointee else {
                throw WireError(.malformed, "tensors[\(i)] is missing")
            }
            let label = { "tensors[\(i)] (\"\(WireError.abbreviated(CRead.lossy(t.name)))\")" }
            let frameCount = UInt64(frames[i].count)
            if t.byte_length > maxBytes {
                throw WireError(.oversized, "\(label()) declares byte_length \(t.byte_length); at most \(maxBytes) "
                    + "bytes per tensor allowed (WireLimits.maxTensorBytes)")
            }
            if frameCount > maxBytes {
                throw WireError(.oversized, "tensor frame \(i + 1) is \(frameCount) bytes; at most \(maxBytes) bytes "
                    + "per tensor allowed (WireLimits.maxTensorBytes)")
            }
            if t.n_shape > 0 && t.shape == nil {
                throw WireError(.malformed, "\(label()).shape has \(t.n_shape) dimensions but no storage")
            }
            let shape = UnsafeBufferPointer(start: t.shape, count: t.n_shape)
            let dtype = DType(rawValue: t.dtype.rawValue)
            let width = dtype?.byteWidth ?? 1
            guard let product = TensorMeta.byteCount(shape: shape, width: width) else {
                throw WireError(.shapeMismatch, "\(label()).shape \(Array(shape)) × \(width) byte(s) per element "
                    + "overflows 64 bits")
            }
            if let dtype, product != t.byte_length {
                throw WireError(.shapeMismatch, "\(label()).byte_length is \(t.byte_length) but shape "
                    + "\(Array(shape)) of \(dtype) needs \(product) bytes (product(shape) × \(width))")
            }
            if frameCount != t.byte_length {
                throw WireError(.shapeMismatch, "tensor frame \(i + 1) is \(frameCount) bytes but \(label())"
                    + ".byte_length is \(t.byte_length)")
            }
        }
    }
}
