import Tensor
import Wire

extension WireSamples {
    // MARK: bad frames

    /// The kinds `badFrames(limits:)` produces, in turn: every `WireError.Kind` except `.empty`
    /// (a multipart message without frames cannot be sent over ZeroMQ at all).
    public static let badKinds: [WireError.Kind] = WireError.Kind.allCases.filter { $0 != .empty }

    /// Frames that `WireCodec.decode(_:limits:)` refuses with exactly `kind`. The kinds of
    /// ``badKinds`` are produced in turn, each with a random variant.
    public mutating func badFrames(limits: WireLimits = .standard) -> (kind: WireError.Kind, frames: [[UInt8]]) {
        precondition(limits.maxEnvelopeBytes >= 4096 && limits.maxTensorFrames >= 4 && limits.maxRank >= 2
            && limits.maxTensorBytes >= 4096 && limits.maxRepeated >= 8 && limits.maxStringBytes >= 256,
            "WireSamples.badFrames needs roomier limits than \(limits)")
        let kind = WireSamples.badKinds[badCount % WireSamples.badKinds.count]
        badCount += 1
        switch kind {
        case .empty: return (kind, [])  // not in badKinds
        case .oversized: return (kind, oversized(limits))
        case .malformed: return (kind, malformed())
        case .version: return (kind, wrongVersion())
        case .unknownMessage: return (kind, unknownBody())
        case .tooMany: return (kind, tooMany(limits))
        case .frameMismatch: return (kind, frameMismatch())
        case .shapeMismatch: return (kind, shapeMismatch())
        case .invalid: return (kind, invalid())
        }
    }

    mutating func oversized(_ limits: WireLimits) -> [[UInt8]] {
        switch int(3) {
        case 0:  // a well-formed envelope that is simply too big
            // (String(repeating:count:) takes ~12 ms per MiB; decoding a byte array is ~100× faster)
            let reason = String(decoding: [UInt8](repeating: 0x78, count: limits.maxEnvelopeBytes), as: UTF8.self)
            return [WireCodec.encodeEnvelope(Envelope(sender: word(), body: .deregister(Deregister(reason: reason))))]
        case 1:  // junk beyond the limit (never unpacked): one random byte repeated, a few random bytes
            var junk = [UInt8](repeating: UInt8(truncatingIfNeeded: rng.next()), count: limits.maxEnvelopeBytes + 1 + int(16))
            for _ in 0..<8 { junk[int(junk.count)] = UInt8(truncatingIfNeeded: rng.next()) }
            return [junk]
        default:  // a consistent tensor description beyond maxTensorBytes, with a small frame
            let length = UInt64(limits.maxTensorBytes) + 1 + UInt64(int(1 << 20))
            var w = header(tensors: [tensorMeta(name: "huge", dtype: 5, shape: [length], byteLength: length)])
            w.message(12) { $0.uint(1, 1) }
            return [w.bytes, randomBytes(int(16))]
        }
    }

    mutating func malformed() -> [[UInt8]] {
        switch int(5) {
        case 0:  // the body's length prefix promises more bytes than follow
            var w = header()
            let promised = 5 + int(40)
            w.tag(12, 2)
            w.varint(UInt64(promised))
            w.raw(randomBytes(int(promised)))
            return [w.bytes]
        case 1:  // wire type 6 or 7 does not exist
            let tag = UInt8(1 + int(15)) << 3 | UInt8(6 + int(2))
            return [[tag] + randomBytes(int(40))]
        case 2:  // a varint that never ends
            var w = header()
            w.tag(4, 0)
            w.raw((0..<(1 + int(9))).map { _ in 0x80 | UInt8(truncatingIfNeeded: rng.next()) })
            return [w.bytes]
        case 3:  // groups (wire types 3/4) are not supported
            var w = header()
            w.tag(6 + int(3), 3)
            w.raw(randomBytes(int(8)))
            return [w.bytes]
        default:  // field number 0 is invalid
            var w = header()
            w.raw([UInt8(int(3)) == 0 ? 0x00 : 0x02, 0x00])
            return [w.bytes]
        }
    }

    mutating func wrongVersion() -> [[UInt8]] {
        let message = validMessage()
        var envelope = message.envelope
        let versions: [UInt32] = [0, 2, 3, 7, 100, UInt32.max]
        envelope.protocolVersion = chance(4) ? 2 + u32() % (UInt32.max - 2) : pick(versions)
        return [WireCodec.encodeEnvelope(envelope)] + message.frames.map(\.bytes)
    }

    mutating func unknownBody() -> [[UInt8]] {
        let fields = [14, 19, 34, 44, 55, 63, 89, 91, 99, 1000, 123_456]  // body numbers the contract does not use
        var w: ProtoWriter
        if chance(4) {  // tensors described but no frames: the body problem is reported first
            w = header(tensors: [tensorMeta(name: "t", dtype: 1, shape: [4], byteLength: 16)])
        } else {
            w = header()
        }
        switch int(4) {
        case 0: break  // no body at all
        case 1: w.lengthDelimited(pick(fields), randomBytes(int(20)))
        case 2: w.uint(pick(fields), u64())
        default:
            w.tag(pick(fields), 5)
            w.raw(randomBytes(4))
        }
        return [w.bytes]
    }

    mutating func tooMany(_ limits: WireLimits) -> [[UInt8]] {
        let room = limits.maxEnvelopeBytes - 256
        switch int(4) {
        case 0:  // a few too many repeated elements, if they fit under maxEnvelopeBytes
            let count = limits.maxRepeated + 1 + int(8)
            if count * 2 <= room {
                var w = header()
                switch int(3) {
                case 0: w.message(10) { $0.string(1, "w"); $0.lengthDelimited(2, [UInt8](repeating: 1, count: count)) }
                case 1: w.message(10) { $0.string(1, "w"); $0.raw(WireSamples.emptyFields(7, count)) }
                default: w.message(60) { $0.string(1, "r"); $0.raw(WireSamples.emptyFields(4, count)) }
                }
                return [w.bytes]
            }
        case 1:  // a string longer than maxStringBytes, if it fits under maxEnvelopeBytes
            let length = limits.maxStringBytes + 1 + int(8)
            if length <= room {
                var w = header()
                w.message(13) { $0.lengthDelimited(1, [UInt8](repeating: 0x61, count: length)) }
                return [w.bytes]
            }
        case 2:  // rank beyond maxRank (up to ~100 dimensions)
            let rank = limits.maxRank + 1 + int(92)
            var w = header(tensors: [tensorMeta(name: "deep", dtype: 5, shape: Array(repeating: 1, count: rank),
                                                byteLength: 1)])
            w.message(12) { $0.uint(1, 1) }
            return [w.bytes, [0]]
        default:
            break
        }
        // more tensor descriptions than maxTensorFrames (up to ~10 000 while they fit)
        let extra = min(10_000, max(1, room / 2 - limits.maxTensorFrames))
        let count = limits.maxTensorFrames + 1 + int(extra)
        var w = header(tensors: Array(repeating: [], count: count))
        w.message(12) { $0.uint(1, 1) }
        return [w.bytes]
    }

    mutating func frameMismatch() -> [[UInt8]] {
        let message = validMessage()
        var frames = message.frames.map(\.bytes)
        if !frames.isEmpty && chance(2) {
            frames.remove(at: int(frames.count))
        } else {
            for _ in 0...int(3) { frames.insert(randomBytes(int(32)), at: int(frames.count + 1)) }
        }
        return [WireCodec.encodeEnvelope(message.envelope)] + frames
    }

    mutating func shapeMismatch() -> [[UInt8]] {
        let kinds = [18, 20, 22, 24, 28, 29]  // ShardChunk, LogitsBatch, GradientChunk, ArtifactChunk, TestSplitLogits, PeerTeacherLogits
        let message = validMessage(kind: pick(kinds))
        var envelope = message.envelope
        var frames = message.frames.map(\.bytes)
        let i = int(frames.count)
        switch int(3) {
        case 0:  // byte_length lies; the frame matches the lie
            let truth = envelope.tensors[i].byteLength
            let delta = UInt64(1 + int(7))
            let lie = truth > delta && chance(2) ? truth - delta : truth + delta
            envelope.tensors[i].byteLength = lie
            frames[i] = randomBytes(Int(lie))
        case 1:  // the frame's length lies
            let truth = frames[i].count
            let delta = 1 + int(7)
            frames[i] = randomBytes(truth > delta && chance(2) ? truth - delta : truth + delta)
        default:  // product(shape) overflows 64 bits
            let length = int(64)
            envelope = Envelope(sender: text(), requestID: u64(),
                                tensors: [TensorMeta(name: "wrap", dtype: pick(DType.allCases),
                                                     shape: [1 << 32 + UInt64(int(1000)), 1 << 32 + UInt64(int(1000))],
                                                     byteLength: UInt64(length))],
                                body: .heartbeat(Heartbeat()))
            frames = [randomBytes(length)]
        }
        return [WireCodec.encodeEnvelope(envelope)] + frames
    }

    mutating func invalid() -> [[UInt8]] {
        let sender = text()
        func swift(_ body: Body, _ tensors: [TensorMeta] = [], _ frames: [[UInt8]] = []) -> [[UInt8]] {
            [WireCodec.encodeEnvelope(Envelope(sender: sender, requestID: 7, tensors: tensors, body: body))] + frames
        }
        switch int(16) {
        case 0:  // sample_end ≤ sample_begin
            let begin = 1 + u64() >> 2
            let end = begin - UInt64(int(Int(min(begin, 100))) + 1)
            return swift(.logitsBatch(LogitsBatch(runID: "r", sampleBegin: begin, sampleEnd: end)),
                         [TensorMeta(name: "logits", dtype: .f32, shape: [2, 3])], [floatBytes(6)])
        case 1:  // LogitsBatch.dtype unset (0) or unknown
            var w = header(sender: sender)
            let dtype: UInt64? = chance(2) ? nil : 6 + UInt64(int(100))
            w.message(50) { b in
                b.string(1, "r")
                b.uint(7, 4)
                if let dtype { b.uint(8, dtype) }
            }
            return [w.bytes]
        case 2:  // a tensor's dtype unset or unknown (its sizes cannot be checked, but match)
            let dtype: UInt64? = chance(2) ? nil : 6 + UInt64(int(1000))
            var w = header(sender: sender, tensors: [tensorMeta(name: "t", dtype: dtype, shape: [4], byteLength: 4)])
            w.message(12) { $0.uint(1, 1) }
            return [w.bytes, randomBytes(4)]
        case 3: return swift(.credit(Credit(runID: "r", replica: 1, steps: 0)))
        case 4: return swift(.register(Register(name: chance(2) ? "" : "w", roles: [])))
        case 5:  // Role 7 does not exist
            var w = header(sender: sender)
            w.message(10) { $0.string(1, "w"); $0.lengthDelimited(2, [1, 7]) }
            return [w.bytes]
        case 6:  // invalid UTF-8 in a string field
            var w = header(sender: sender)
            w.message(12) { $0.lengthDelimited(4, [0x61, 0xFF, 0xFE, 0xC3]) }
            return [w.bytes]
        case 7:  // a body without tensors described with one
            return swift(.heartbeat(Heartbeat()), [TensorMeta(name: "stray", dtype: .u8, shape: [3])], [[1, 2, 3]])
        case 8:
            return swift(.assignTask(AssignTask(runID: "r", taskID: "t", runSpecYaml: "x: 1",
                                                task: .student(StudentTask(rank: 4, replicas: 4)))))
        case 9:  // GradientChunk.phase unset
            var w = header(sender: sender, tensors: [tensorMeta(name: "g", dtype: 1, shape: [4], byteLength: 16)])
            w.message(52) { $0.string(1, "r"); $0.uint(3, 9) }
            return [w.bytes, floatBytes(4)]
        case 10: return swift(.heartbeat(Heartbeat(cpuPercent: chance(2) ? .nan : -1)))
        case 11:  // RunUpdate without its run
            var w = header(sender: sender)
            w.message(27) { $0.string(2, "distil") }
            return [w.bytes]
        case 12: return swift(.assignTask(AssignTask(runID: "r", taskID: "t", runSpecYaml: "x: 1", task: nil)))
        case 13:  // a teacher's logits addressed to itself
            let t = u32() % 8
            return swift(.peerTeacherLogits(PeerTeacherLogits(runID: "r", fromTeacher: t, toTeacher: t, sampleEnd: 2)),
                         [TensorMeta(name: "logits", dtype: .f32, shape: [2, 3])], [floatBytes(6)])
        case 14:  // test-split logits as f16 (they are always full f32)
            return swift(.testSplitLogits(TestSplitLogits(runID: "r", sampleCount: 2)),
                         [TensorMeta(name: "logits", dtype: .f16, shape: [2, 3])], [randomBytes(12)])
        default:
            return swift(.artifactChunk(ArtifactChunk(runID: "r", name: "a", sha256: "h", totalBytes: 2, offset: 1)),
                         [TensorMeta(name: "b", dtype: .u8, shape: [2])], [[1, 2]])
        }
    }

    // MARK: raw protobuf pieces

    /// `count` empty length-delimited fields numbered `field` (< 16): empty strings or
    /// empty sub-messages of a repeated field, built without a per-element append.
    static func emptyFields(_ field: UInt8, _ count: Int) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: 2 * count)
        bytes.withUnsafeMutableBufferPointer { p in
            for i in stride(from: 0, to: p.count, by: 2) { p[i] = field << 3 | 2 }
        }
        return bytes
    }

    /// An envelope header: version, sender, request id and tensor descriptions (encoded
    /// `TensorMeta` payloads), ready for a body field to be appended.
    mutating func header(version: UInt64 = 1, sender: String? = nil, tensors: [[UInt8]] = []) -> ProtoWriter {
        var w = ProtoWriter()
        w.uint(1, version)
        w.string(2, sender ?? text())
        w.uint(3, u64())
        for t in tensors { w.lengthDelimited(5, t) }
        return w
    }

    /// An encoded `TensorMeta` with a raw dtype value (nil leaves it unset).
    func tensorMeta(name: String, dtype: UInt64?, shape: [UInt64], byteLength: UInt64) -> [UInt8] {
        var w = ProtoWriter()
        w.string(1, name)
        if let dtype { w.uint(2, dtype) }
        var packed = ProtoWriter()
        for d in shape { packed.varint(d) }
        w.lengthDelimited(3, packed.bytes)
        w.uint(4, byteLength)
        return w.bytes
    }
}
