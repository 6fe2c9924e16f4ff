import Tensor
import Wire

/// Seeded source of wire-protocol test input: valid messages of every body kind, and bad
/// multipart frames together with the exact ``WireError/Kind`` that `WireCodec.decode`
/// reports for them (the same seed always gives the same samples).
///
/// Bad input is crafted byte by byte with ``ProtoWriter`` where the Swift types cannot express
/// it (unknown enum values, invalid UTF-8, unknown fields, broken protobuf), so it does not
/// depend on the encoder under test.
///
/// `badFrames(limits:)` needs limits roomy enough for ordinary messages:
/// `maxEnvelopeBytes` ≥ 4096, `maxTensorFrames` ≥ 4, `maxRank` ≥ 2, `maxTensorBytes` ≥ 4096,
/// `maxRepeated` ≥ 8 and `maxStringBytes` ≥ 256.
public struct WireSamples: Sendable {
    private var rng: SplitMix64
    private var badCount = 0

    public init(seed: UInt64) {
        rng = SplitMix64(seed: seed, stream: 0x5749_5245)  // "WIRE"
    }

    /// Number of `Body` cases `validMessage()` chooses from.
    public static let bodyKinds = 29

    // MARK: valid messages

    /// A random message that `WireCodec.encode` accepts and `decode` returns unchanged: any
    /// body kind, random header, and the tensor frames the body needs (LogitsBatch with full
    /// or top-k logits, GradientChunk, ShardChunk, ArtifactChunk).
    public mutating func validMessage() -> Message {
        validMessage(kind: int(WireSamples.bodyKinds))
    }

    /// A valid message with body kind `kind` (0 ..< ``bodyKinds``, in `Body` declaration order).
    public mutating func validMessage(kind: Int) -> Message {
        let (body, tensors, frames) = validBody(kind: kind)
        let envelope = Envelope(sender: text(), requestID: u64(), replyTo: chance(2) ? 0 : u64(),
                                tensors: tensors, body: body)
        return Message(envelope, frames: frames.map { Frame(bytes: $0) })
    }

    private mutating func validBody(kind: Int) -> (Body, [TensorMeta], [[UInt8]]) {
        switch kind {
        case 0:
            return (.register(Register(name: word(), roles: roles(nonEmpty: true), dataEndpoint: endpoint(),
                                       cores: u32(), memoryBytes: u64(), version: text(),
                                       cachedShards: list { $0.text() }, incarnation: word())), [], [])
        case 1:
            let interval = UInt32(1 + int(5000))
            return (.registerAck(RegisterAck(nodeID: word(), heartbeatIntervalMs: interval,
                                             livenessTimeoutMs: interval + 1 + UInt32(int(10_000)))), [], [])
        case 2:
            return (.heartbeat(Heartbeat(sentUnixMs: u64(), cpuPercent: rng.uniform(0, 800), rssBytes: u64(),
                                         currentTask: text())), [], [])
        case 3: return (.deregister(Deregister(reason: text())), [], [])
        case 4: return (.submitRun(SubmitRun(specYaml: "name: \(word())\nepochs: \(int(50))\n", fileName: text())), [], [])
        case 5:
            if chance(2) {
                return (.submitRunReply(SubmitRunReply(accepted: true, runID: word())), [], [])
            }
            let errors = list(min: 1) { FieldError(field: $0.text(), message: $0.word()) }
            return (.submitRunReply(SubmitRunReply(accepted: false, runID: text(), errors: errors)), [], [])
        case 6: return (.statusRequest(StatusRequest()), [], [])
        case 7:
            let nodes = list {
                NodeStatus(nodeID: $0.word(), name: $0.text(), roles: $0.roles(nonEmpty: false), address: $0.endpoint(),
                           state: $0.pick(NodeState.allCases), lastHeardMsAgo: $0.u64(), cpuPercent: $0.rng.uniform(0, 100),
                           rssBytes: $0.u64(), currentTask: $0.text(), version: $0.text())
            }
            return (.clusterStatus(ClusterStatus(nodes: nodes, coordinatorVersion: text())), [], [])
        case 8: return (.listRuns(ListRuns(limit: u32())), [], [])
        case 9: return (.runList(RunList(runs: list { $0.runSummary() })), [], [])
        case 10: return (.watchRun(WatchRun(runID: word())), [], [])
        case 11:
            let total = chance(3) ? 0 : u64()
            let done = total == 0 ? u64() : total / UInt64(1 + int(4))
            let latest = list { MetricValue(name: $0.word(), value: $0.rng.nextDouble() * 1e6 - 5e5) }
            return (.runUpdate(RunUpdate(run: runSummary(), phase: text(), phaseDone: done, phaseTotal: total,
                                         latest: latest)), [], [])
        case 12: return (.cancelRun(CancelRun(runID: word())), [], [])
        case 13: return (.cancelRunReply(CancelRunReply(cancelled: chance(2), message: text())), [], [])
        case 14:
            let task: TaskSpec
            if chance(2) {
                let hasCheckpoint = chance(2)
                let ranks = Array(Set(list { $0.u32() % 64 })).sorted()
                let index = u32() % 8
                task = .teacher(TeacherTask(teacherIndex: index, modelSpec: word(),
                                            checkpointHash: hasCheckpoint ? word() : "",
                                            recipeYaml: hasCheckpoint && chance(2) ? "" : "epochs: \(int(9))",
                                            replicas: ranks, replicaEndpoints: chance(2) ? [] : ranks.map { _ in endpoint() },
                                            teacherEndpoints: chance(2) ? [] : (0...Int(index) + int(3)).map { _ in endpoint() }))
            } else {
                let replicas = UInt32(1 + int(8))
                let peers = chance(2) ? [] : (0..<Int(replicas)).map { "tcp://peer-\($0):7879" }
                task = .student(StudentTask(rank: UInt32(int(Int(replicas))), replicas: replicas, ringGeneration: u64(),
                                            peerEndpoints: peers, teacherEndpoints: list { $0.endpoint() },
                                            modelSpec: word()))
            }
            return (.assignTask(AssignTask(runID: word(), taskID: word(), runSpecYaml: "seed: \(u32())",
                                           shardHash: text(), task: task)), [], [])
        case 15:
            let state = pick(TaskState.allCases)
            let total = chance(3) ? 0 : u64() >> 1
            return (.taskStatus(TaskStatus(runID: word(), taskID: word(), state: state,
                                           reason: state == .failed ? word() : text(),
                                           done: total == 0 ? u64() : total / 2, total: total)), [], [])
        case 16:
            let chunks = UInt32(1 + int(1000))
            return (.shardOffer(ShardOffer(shardHash: word(), totalBytes: UInt64(chunks) + u64() >> 8,
                                           chunkCount: chunks, description: text())), [], [])
        case 17:
            let first = chance(4) ? UInt32.max - UInt32(int(8)) : UInt32(int(100_000))
            let room = UInt64(UInt32.max) - UInt64(first) + 1
            let count = UInt32(1 + int(Int(min(8, room))))
            return (.shardRequest(ShardRequest(shardHash: word(), firstChunk: first, chunkCount: count)), [], [])
        case 18:
            let bytes = randomBytes(1 + int(64))
            return (.shardChunk(ShardChunk(shardHash: word(), chunkIndex: u32(), offset: u64() >> 2)),
                    [TensorMeta(name: "chunk", dtype: .u8, shape: [UInt64(bytes.count)])], [bytes])
        case 19:
            let have = chance(2)
            return (.shardAck(ShardAck(shardHash: word(), have: have, error: have ? "" : word())), [], [])
        case 20: return logitsBatch()
        case 21: return (.credit(Credit(runID: word(), replica: u32(), steps: 1 + u64() >> 1, teacher: u32())), [], [])
        case 22:
            let n = 1 + int(16)
            return (.gradientChunk(GradientChunk(runID: word(), generation: u64(), step: u64(), chunk: u32(),
                                                 phase: pick(RingPhase.allCases), hop: u32())),
                    [TensorMeta(name: "grad", dtype: .f32, shape: [UInt64(n)])], [floatBytes(n)])
        case 23:
            let values = list { MetricValue(name: $0.word(), value: $0.rng.nextDouble() * 100) }
            return (.metrics(Metrics(runID: word(), epoch: u32(), step: u64(), values: values)), [], [])
        case 24:
            let bytes = randomBytes(int(64))
            let offset = u64() >> 4
            let last = chance(3)
            let total = offset + UInt64(bytes.count) + (last ? 0 : UInt64(int(1000)))
            return (.artifactChunk(ArtifactChunk(runID: word(), name: word(), sha256: word(), totalBytes: total,
                                                 offset: offset, last: last)),
                    [TensorMeta(name: "bytes", dtype: .u8, shape: [UInt64(bytes.count)])], [bytes])
        case 25:
            let stored = chance(2)
            return (.artifactAck(ArtifactAck(runID: word(), name: word(), stored: stored,
                                             error: stored ? "" : word())), [], [])
        case 26: return (.listEvents(ListEvents(runID: text(), limit: u32())), [], [])
        case 27:
            let events = list { EventEntry(atUnixMs: $0.u64(), kind: $0.word(), message: $0.word(), runID: $0.text()) }
            return (.eventList(EventList(events: events)), [], [])
        default:
            return (.error(ErrorReply(code: pick(ErrorCode.allCases), message: word())), [], [])
        }
    }

    /// LogitsBatch with full logits `[n, classes]` or top-k values, indices and tail mass.
    private mutating func logitsBatch() -> (Body, [TensorMeta], [[UInt8]]) {
        let n = 1 + int(8)
        let begin = u64() >> 20
        let dtype: DType = chance(2) ? .f32 : .f16
        let topK = chance(2) ? 0 : 1 + int(5)
        var batch = LogitsBatch(runID: word(), epoch: u32(), step: u64(), replica: u32() % 16, teacher: u32() % 8,
                                sampleBegin: begin, sampleEnd: begin + UInt64(n), dtype: dtype, topK: UInt32(topK))
        if topK == 0 && dtype == .f32 && chance(3) {  // teacher → teacher (online mutual term)
            batch.replica = 0
            batch.toTeacher = true
            batch.toTeacherIndex = (batch.teacher + 1 + u32() % 7) % 8
        }
        func values(_ count: Int) -> [UInt8] {
            dtype == .f32 ? floatBytes(count) : randomBytes(count * 2)
        }
        let rows = UInt64(n)
        if topK == 0 {
            let classes = 1 + int(10)
            return (.logitsBatch(batch), [TensorMeta(name: "logits", dtype: dtype, shape: [rows, UInt64(classes)])],
                    [values(n * classes)])
        }
        let k = UInt64(topK)
        var indices: [UInt8] = []
        for _ in 0..<(n * topK) {
            let index = UInt32(int(1000))
            indices += [0, 8, 16, 24].map { UInt8(truncatingIfNeeded: index >> $0) }
        }
        return (.logitsBatch(batch),
                [TensorMeta(name: "values", dtype: dtype, shape: [rows, k]),
                 TensorMeta(name: "indices", dtype: .i32, shape: [rows, k]),
                 TensorMeta(name: "tail", dtype: dtype, shape: [rows])],
                [values(n * topK), indices, values(n)])
    }

    private mutating func runSummary() -> RunSummary {
        let state = pick(RunState.allCases)
        return RunSummary(runID: word(), name: text(), state: state, reason: state.isTerminal ? word() : text(),
                          submittedUnixMs: u64(), updatedUnixMs: u64())
    }

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

    private mutating func oversized(_ limits: WireLimits) -> [[UInt8]] {
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

    private mutating func malformed() -> [[UInt8]] {
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

    private mutating func wrongVersion() -> [[UInt8]] {
        let message = validMessage()
        var envelope = message.envelope
        let versions: [UInt32] = [0, 2, 3, 7, 100, UInt32.max]
        envelope.protocolVersion = chance(4) ? 2 + u32() % (UInt32.max - 2) : pick(versions)
        return [WireCodec.encodeEnvelope(envelope)] + message.frames.map(\.bytes)
    }

    private mutating func unknownBody() -> [[UInt8]] {
        let fields = [14, 19, 34, 44, 53, 63, 89, 91, 99, 1000, 123_456]  // body numbers the contract does not use
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

    private mutating func tooMany(_ limits: WireLimits) -> [[UInt8]] {
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

    private mutating func frameMismatch() -> [[UInt8]] {
        let message = validMessage()
        var frames = message.frames.map(\.bytes)
        if !frames.isEmpty && chance(2) {
            frames.remove(at: int(frames.count))
        } else {
            for _ in 0...int(3) { frames.insert(randomBytes(int(32)), at: int(frames.count + 1)) }
        }
        return [WireCodec.encodeEnvelope(message.envelope)] + frames
    }

    private mutating func shapeMismatch() -> [[UInt8]] {
        let kinds = [18, 20, 22, 24]  // ShardChunk, LogitsBatch, GradientChunk, ArtifactChunk
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

    private mutating func invalid() -> [[UInt8]] {
        let sender = text()
        func swift(_ body: Body, _ tensors: [TensorMeta] = [], _ frames: [[UInt8]] = []) -> [[UInt8]] {
            [WireCodec.encodeEnvelope(Envelope(sender: sender, requestID: 7, tensors: tensors, body: body))] + frames
        }
        switch int(14) {
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
                                                task: .student(StudentTask(rank: 4, replicas: 4, modelSpec: "m")))))
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
        default:
            return swift(.artifactChunk(ArtifactChunk(runID: "r", name: "a", sha256: "h", totalBytes: 2, offset: 1)),
                         [TensorMeta(name: "b", dtype: .u8, shape: [2])], [[1, 2]])
        }
    }

    // MARK: raw protobuf pieces

    /// `count` empty length-delimited fields numbered `field` (< 16): empty strings or
    /// empty sub-messages of a repeated field, built without a per-element append.
    private static func emptyFields(_ field: UInt8, _ count: Int) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: 2 * count)
        bytes.withUnsafeMutableBufferPointer { p in
            for i in stride(from: 0, to: p.count, by: 2) { p[i] = field << 3 | 2 }
        }
        return bytes
    }

    /// An envelope header: version, sender, request id and tensor descriptions (encoded
    /// `TensorMeta` payloads), ready for a body field to be appended.
    private mutating func header(version: UInt64 = 1, sender: String? = nil, tensors: [[UInt8]] = []) -> ProtoWriter {
        var w = ProtoWriter()
        w.uint(1, version)
        w.string(2, sender ?? text())
        w.uint(3, u64())
        for t in tensors { w.lengthDelimited(5, t) }
        return w
    }

    /// An encoded `TensorMeta` with a raw dtype value (nil leaves it unset).
    private func tensorMeta(name: String, dtype: UInt64?, shape: [UInt64], byteLength: UInt64) -> [UInt8] {
        var w = ProtoWriter()
        w.string(1, name)
        if let dtype { w.uint(2, dtype) }
        var packed = ProtoWriter()
        for d in shape { packed.varint(d) }
        w.lengthDelimited(3, packed.bytes)
        w.uint(4, byteLength)
        return w.bytes
    }

    // MARK: randomness

    private mutating func int(_ bound: Int) -> Int { rng.nextInt(below: bound) }
    private mutating func chance(_ oneIn: Int) -> Bool { int(oneIn) == 0 }
    private mutating func u32() -> UInt32 { chance(2) ? UInt32(int(100)) : UInt32(truncatingIfNeeded: rng.next()) }
    private mutating func u64() -> UInt64 {
        switch int(3) {
        case 0: UInt64(int(1000))
        case 1: rng.next() >> 24
        default: rng.next()
        }
    }

    private mutating func pick<T>(_ values: [T]) -> T { values[int(values.count)] }

    private mutating func list<T>(min: Int = 0, _ make: (inout WireSamples) -> T) -> [T] {
        (0..<(min + int(4 - min))).map { _ in make(&self) }
    }

    private mutating func roles(nonEmpty: Bool) -> [Role] {
        switch int(nonEmpty ? 3 : 4) {
        case 0: [.teacher]
        case 1: [.student]
        case 2: [.student, .teacher]
        default: []
        }
    }

    private static let samples = ["worker-b", "coordinator", "cli-4242", "τ-teacher", "学生-3", "🚀 run",
                                  "e\u{301}cole", "tcp://10.0.0.2:7879", "x", "line\nbreak", "quote\"d"]

    /// A non-empty string, often with non-ASCII characters.
    private mutating func word() -> String {
        if chance(2) { return pick(WireSamples.samples) }
        let letters = Array("abcdefghijklmnopqrstuvwxyz0123456789-_.")
        return String((0...int(12)).map { _ in pick(letters) })
    }

    /// Any string, possibly empty.
    private mutating func text() -> String { chance(4) ? "" : word() }

    private mutating func endpoint() -> String { "tcp://10.0.\(int(256)).\(int(256)):\(7000 + int(2000))" }

    private mutating func randomBytes(_ count: Int) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(count)
        while bytes.count < count {
            var word = rng.next()
            for _ in 0..<Swift.min(8, count - bytes.count) {
                bytes.append(UInt8(truncatingIfNeeded: word))
                word >>= 8
            }
        }
        return bytes
    }

    /// `count` finite little-endian Float32 values.
    private mutating func floatBytes(_ count: Int) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(count * 4)
        for _ in 0..<count {
            let bits = rng.uniform(-20, 20).bitPattern
            bytes += [0, 8, 16, 24].map { UInt8(truncatingIfNeeded: bits >> $0) }
        }
        return bytes
    }
}

/// Writes protobuf wire format by hand, for crafting input the Swift types cannot express.
public struct ProtoWriter: Sendable {
    public private(set) var bytes: [UInt8] = []

    public init() {}

    public mutating func varint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    /// A field key: `field << 3 | wireType` (0 varint, 1 fixed64, 2 length-delimited, 5 fixed32).
    public mutating func tag(_ field: Int, _ wireType: Int) {
        varint(UInt64(field) << 3 | UInt64(wireType))
    }

    /// A varint field (written even when 0).
    public mutating func uint(_ field: Int, _ value: UInt64) {
        tag(field, 0)
        varint(value)
    }

    public mutating func lengthDelimited(_ field: Int, _ payload: [UInt8]) {
        tag(field, 2)
        varint(UInt64(payload.count))
        bytes += payload
    }

    public mutating func string(_ field: Int, _ value: String) {
        lengthDelimited(field, Array(value.utf8))
    }

    /// A sub-message field built by `build`.
    public mutating func message(_ field: Int, _ build: (inout ProtoWriter) -> Void) {
        var inner = ProtoWriter()
        build(&inner)
        lengthDelimited(field, inner.bytes)
    }

    /// Bytes appended as they are.
    public mutating func raw(_ more: [UInt8]) {
        bytes += more
    }
}
