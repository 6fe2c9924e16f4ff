import DistilleryTestKit
import Testing
import Wire

/// Each `WireError.Kind` comes from a crafted input, names where the problem is, and carries
/// the sender and request id whenever the envelope header could be read.
@Suite struct WireErrorTests {
    /// An envelope header (version 1, sender "worker-b", request 42) plus raw tensor metas.
    static func header(version: UInt64 = 1, tensors: [[UInt8]] = []) -> ProtoWriter {
        var w = ProtoWriter()
        w.uint(1, version)
        w.string(2, "worker-b")
        w.uint(3, 42)
        for t in tensors { w.lengthDelimited(5, t) }
        return w
    }

    static func meta(name: String = "t", dtype: UInt64?, shape: [UInt64], byteLength: UInt64) -> [UInt8] {
        var w = ProtoWriter()
        w.string(1, name)
        if let dtype { w.uint(2, dtype) }
        var packed = ProtoWriter()
        for d in shape { packed.varint(d) }
        w.lengthDelimited(3, packed.bytes)
        w.uint(4, byteLength)
        return w.bytes
    }

    /// The error decode throws for `frames` (recording an issue if it does not throw).
    static func failure(_ frames: [[UInt8]], limits: WireLimits = .standard,
                        sourceLocation: SourceLocation = #_sourceLocation) -> WireError? {
        do {
            let message = try WireCodec.decode(frames.map { Frame(bytes: $0) }, limits: limits)
            Issue.record("decoded a \(message.envelope.body.name) instead of failing", sourceLocation: sourceLocation)
            return nil
        } catch {
            return error
        }
    }

    static func failure(_ message: Message, sourceLocation: SourceLocation = #_sourceLocation) -> WireError? {
        failure([WireCodec.encodeEnvelope(message.envelope)] + message.frames.map(\.bytes),
                sourceLocation: sourceLocation)
    }

    static func expectFromWorkerB(_ e: WireError, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(e.sender == "worker-b", sourceLocation: sourceLocation)
        #expect(e.requestID == 42, sourceLocation: sourceLocation)
        #expect(e.description.contains("from \"worker-b\" (request 42)"), sourceLocation: sourceLocation)
    }

    static func heartbeatBody(_ w: inout ProtoWriter) { w.uint(1, 5) }

    @Test func emptyHasNoFrames() throws {
        let e = try #require(Self.failure([]))
        #expect(e.kind == .empty)
        #expect(e.sender == nil && e.requestID == nil)
        #expect(e.code == .malformed)
        #expect(e.description.contains("no frames"))
    }

    @Test func oversizedEnvelopeIsRefusedBeforeUnpacking() throws {
        let limits = WireLimits(maxEnvelopeBytes: 4096)
        // Garbage that protobuf-c would refuse: the size check comes first.
        let e = try #require(Self.failure([[UInt8](repeating: 0xFF, count: 4097)], limits: limits))
        #expect(e.kind == .oversized)
        #expect(e.sender == nil && e.requestID == nil)
        #expect(e.description.contains("4097 bytes; at most 4096"))
        #expect(e.description.contains("maxEnvelopeBytes"))
        // Exactly at the limit is fine.
        let reason = String(repeating: "r", count: 4096 - 8)  // 8 bytes of tags and lengths
        let ok = WireCodec.encodeEnvelope(Envelope(body: .deregister(Deregister(reason: reason))))
        #expect(ok.count == 4096)
        #expect(throws: Never.self) { try WireCodec.decode([Frame(bytes: ok)], limits: limits) }
    }

    @Test func oversizedDeclaredTensor() throws {
        let huge: UInt64 = 512 << 20 + 1
        var w = Self.header(tensors: [Self.meta(dtype: 5, shape: [huge], byteLength: huge)])
        w.message(12, Self.heartbeatBody)
        let e = try #require(Self.failure([w.bytes, [1, 2, 3]]))
        #expect(e.kind == .oversized)
        Self.expectFromWorkerB(e)
        #expect(e.description.contains("tensors[0]"))
        #expect(e.description.contains("maxTensorBytes"))
    }

    @Test func oversizedRealTensorFrame() throws {
        let limits = WireLimits(maxTensorBytes: 4096)
        var w = Self.header(tensors: [Self.meta(dtype: 5, shape: [4097], byteLength: 4097)])
        w.message(12, Self.heartbeatBody)
        let e = try #require(Self.failure([w.bytes, [UInt8](repeating: 0, count: 4097)], limits: limits))
        #expect(e.kind == .oversized)
        Self.expectFromWorkerB(e)
    }

    @Test func malformedProtobuf() throws {
        let good = WireCodec.encodeEnvelope(Envelope(sender: "worker-b", requestID: 42,
                                                     body: .heartbeat(Heartbeat(sentUnixMs: 5, currentTask: "x"))))
        let cases: [[UInt8]] = [
            Array(good.dropLast()),         // the body's length prefix promises one more byte
            [0x0F, 1, 2, 3],                // wire type 7
            [0x08, 0x80, 0x80],             // unterminated varint
            [0x0B, 0x0C],                   // groups are not supported
            [0x02, 0x00],                   // field number 0
        ]
        for bytes in cases {
            let e = try #require(Self.failure([bytes]))
            #expect(e.kind == .malformed, "\(bytes)")
            #expect(e.sender == nil && e.requestID == nil)
            #expect(e.code == .malformed)
            #expect(e.description.contains("does not decode as a distillery.v1.Envelope"))
        }
    }

    @Test(arguments: [0, 2, 99] as [UInt32])
    func wrongVersion(_ version: UInt32) throws {
        let e = try #require(Self.failure(Message(Envelope(sender: "worker-b", requestID: 42,
                                                           body: .heartbeat(Heartbeat()), protocolVersion: version))))
        #expect(e.kind == .version)
        #expect(e.code == .version)
        Self.expectFromWorkerB(e)
        #expect(e.description.contains("protocol_version is \(version)"))
        #expect(e.description.contains("speaks only version 1"))
        #expect(e.errorReply == ErrorReply(code: .version, message: e.description))
    }

    @Test func unknownBody() throws {
        var w = Self.header()
        w.lengthDelimited(99, [0x08, 0x01])
        let e = try #require(Self.failure([w.bytes]))
        #expect(e.kind == .unknownMessage)
        #expect(e.code == .unknownMessage)
        Self.expectFromWorkerB(e)
        #expect(e.description.contains("newer"))

        let none = try #require(Self.failure([Self.header().bytes]))
        #expect(none.kind == .unknownMessage)
        #expect(none.description.contains("no body"))
    }

    @Test func tooManyTensorsRankElementsOrBytes() throws {
        var w = Self.header(tensors: Array(repeating: [], count: 17))
        w.message(12, Self.heartbeatBody)
        let tensors = try #require(Self.failure([w.bytes]))
        #expect(tensors.kind == .tooMany)
        Self.expectFromWorkerB(tensors)
        #expect(tensors.description.contains("tensors has 17 entries; at most 16"))

        var r = Self.header(tensors: [Self.meta(dtype: 5, shape: Array(repeating: 1, count: 100), byteLength: 1)])
        r.message(12, Self.heartbeatBody)
        let rank = try #require(Self.failure([r.bytes, [0]]))
        #expect(rank.kind == .tooMany)
        #expect(rank.description.contains("tensors[0].shape has rank 100; at most 8"))

        let small = WireLimits(maxRepeated: 10, maxStringBytes: 300)
        var roles = Self.header()
        roles.message(10) { $0.string(1, "w"); $0.lengthDelimited(2, [UInt8](repeating: 1, count: 11)) }
        let repeated = try #require(Self.failure([roles.bytes], limits: small))
        #expect(repeated.kind == .tooMany)
        #expect(repeated.description.contains("register.roles has 11 elements; at most 10"))

        let status = Message(Envelope(sender: "worker-b", requestID: 42, body: .clusterStatus(ClusterStatus(nodes: [
            NodeStatus(nodeID: "a"), NodeStatus(nodeID: "b", roles: Array(repeating: .teacher, count: 11)),
        ]))))
        let nested = try #require(Self.failure([WireCodec.encodeEnvelope(status.envelope)], limits: small))
        #expect(nested.kind == .tooMany)
        #expect(nested.description.contains("cluster_status.nodes[1].roles has 11 elements"))

        let long = Message(Envelope(sender: "worker-b", requestID: 42,
                                    body: .deregister(Deregister(reason: String(repeating: "x", count: 301)))))
        let string = try #require(Self.failure([WireCodec.encodeEnvelope(long.envelope)], limits: small))
        #expect(string.kind == .tooMany)
        #expect(string.description.contains("deregister.reason is 301 bytes long; at most 300"))
    }

    @Test func frameMismatch() throws {
        var message = try #require(Handwritten.all.first { $0.envelope.body.name == "GradientChunk" })
        message.envelope.sender = "worker-b"
        message.envelope.requestID = 42
        let missing = try #require(Self.failure([WireCodec.encodeEnvelope(message.envelope)]))
        #expect(missing.kind == .frameMismatch)
        Self.expectFromWorkerB(missing)
        #expect(missing.description.contains("describes 1 tensor frame(s) but 0 follow"))

        let stray = Message(Envelope(sender: "worker-b", requestID: 42, body: .credit(Credit(runID: "r", steps: 1))),
                            frames: [Frame(bytes: [1])])
        let extra = try #require(Self.failure(stray))
        #expect(extra.kind == .frameMismatch)
    }

    @Test func shapeMismatchByteLengthFrameLengthAndOverflow() throws {
        func chunk(_ meta: TensorMeta, frame: Int) -> Message {
            Message(Envelope(sender: "worker-b", requestID: 42, tensors: [meta],
                             body: .gradientChunk(GradientChunk(runID: "r"))),
                    frames: [Handwritten.bytes(frame)])
        }
        let lie = try #require(Self.failure(chunk(TensorMeta(name: "g", dtype: .f32, shape: [25], byteLength: 99),
                                                  frame: 99)))
        #expect(lie.kind == .shapeMismatch)
        Self.expectFromWorkerB(lie)
        #expect(lie.description.contains("tensors[0] (\"g\").byte_length is 99 but shape [25] of f32 needs 100 bytes"))

        let short = try #require(Self.failure(chunk(TensorMeta(name: "g", dtype: .f32, shape: [25]), frame: 96)))
        #expect(short.kind == .shapeMismatch)
        #expect(short.description.contains("tensor frame 1 is 96 bytes but tensors[0] (\"g\").byte_length is 100"))

        let wrap = try #require(Self.failure(chunk(TensorMeta(name: "g", dtype: .f32, shape: [1 << 31, 1 << 31],
                                                              byteLength: 8), frame: 8)))
        #expect(wrap.kind == .shapeMismatch)
        #expect(wrap.description.contains("overflows 64 bits"))
    }

    @Test func invalidNamesTheFieldAndTheRule() throws {
        let batch = Message(Envelope(sender: "worker-b", requestID: 42,
                                     tensors: [TensorMeta(name: "logits", dtype: .f32, shape: [2, 3])],
                                     body: .logitsBatch(LogitsBatch(runID: "r", sampleBegin: 12, sampleEnd: 10))),
                            frames: [Handwritten.bytes(24)])
        let range = try #require(Self.failure(batch))
        #expect(range.kind == .invalid)
        #expect(range.code == .invalid)
        Self.expectFromWorkerB(range)
        #expect(range.detail == "logits_batch.sample_end (10) must be greater than sample_begin (12)")

        var unset = Self.header()
        unset.message(50) { $0.string(1, "r"); $0.uint(7, 4) }
        let dtype = try #require(Self.failure([unset.bytes]))
        #expect(dtype.kind == .invalid)
        Self.expectFromWorkerB(dtype)
        #expect(dtype.detail.hasPrefix("logits_batch.dtype is 0 (unspecified), not a valid DType; allowed: 1 (f32)"))

        var role = Self.header()
        role.message(10) { $0.string(1, "w"); $0.lengthDelimited(2, [1, 7]) }
        let badRole = try #require(Self.failure([role.bytes]))
        #expect(badRole.kind == .invalid)
        #expect(badRole.detail.hasPrefix("register.roles[1] is 7, not a valid Role"))

        var utf8 = Self.header()
        utf8.message(12) { $0.lengthDelimited(4, [0x61, 0xFF, 0xFE]) }
        let text = try #require(Self.failure([utf8.bytes]))
        #expect(text.kind == .invalid)
        #expect(text.detail.hasPrefix("heartbeat.current_task is not valid UTF-8"))

        var tensorType = Self.header(tensors: [Self.meta(dtype: 9, shape: [4], byteLength: 4)])
        tensorType.message(12, Self.heartbeatBody)
        let meta = try #require(Self.failure([tensorType.bytes, [1, 2, 3, 4]]))
        #expect(meta.kind == .invalid)
        #expect(meta.detail.hasPrefix("tensors[0].dtype is 9, not a valid DType"))
    }

    @Test func invalidUTF8SenderIsReportedWithARepairedSender() throws {
        var w = ProtoWriter()
        w.uint(1, 1)
        w.lengthDelimited(2, [0x77, 0xFF])
        w.uint(3, 9)
        w.message(12) { _ in }
        let e = try #require(Self.failure([w.bytes]))
        #expect(e.kind == .invalid)
        #expect(e.sender == "w\u{FFFD}")
        #expect(e.requestID == 9)
        #expect(e.detail.hasPrefix("sender is not valid UTF-8"))
    }

    @Test func codesMapKinds() {
        let codes = WireError.Kind.allCases.map { WireError(kind: $0, detail: "").code }
        #expect(codes == [.malformed, .malformed, .malformed, .version, .unknownMessage, .malformed, .malformed,
                          .malformed, .invalid])
    }
}
