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
    var rng: SplitMix64
    var badCount = 0

    public init(seed: UInt64) {
        rng = SplitMix64(seed: seed, stream: 0x5749_5245)  // "WIRE"
    }

    /// Number of `Body` cases `validMessage()` chooses from.
    public static let bodyKinds = 31

    // MARK: valid messages

    /// A random message that `WireCodec.encode` accepts and `decode` returns unchanged: any
    /// body kind, random header, and the tensor frames the body needs (LogitsBatch with full
    /// or top-k logits, TestSplitLogits, PeerTeacherLogits, GradientChunk, ShardChunk, ArtifactChunk).
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

    mutating func validBody(kind: Int) -> (Body, [TensorMeta], [[UInt8]]) {
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
                                         currentTask: text(), runs: (0..<int(4)).map { "run-\($0 + 1)" })), [], [])
        case 3: return (.deregister(Deregister(reason: text())), [], [])
        case 4:
            if chance(4) { return (.submitRun(SubmitRun(idempotencyKey: word(), resumeRunID: word())), [], []) }
            return (.submitRun(SubmitRun(specYaml: "name: \(word())\nepochs: \(int(50))\n", fileName: text())), [], [])
        case 5:
            if chance(2) {
                return (.submitRunReply(SubmitRunReply(accepted: true, runID: word(), resumeStep: chance(2) ? u64() : 0)), [], [])
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
            let refused = list {
                RefusedKey(publicKey: $0.chance(4) ? "" : String(repeating: "a", count: 40), name: $0.text(), reason: $0.word(),
                           count: $0.u64(), lastMsAgo: $0.u64())
            }
            return (.clusterStatus(ClusterStatus(nodes: nodes, coordinatorVersion: text(), security: pick(ListenerSecurity.allCases),
                                                 refusedKeys: refused)), [], [])
        case 8: return (.listRuns(ListRuns(limit: u32())), [], [])
        case 9: return (.runList(RunList(runs: list { $0.runSummary() })), [], [])
        case 10: return (.watchRun(WatchRun(runID: word())), [], [])
        case 11:
            let total = chance(3) ? 0 : u64()
            let done = total == 0 ? u64() : total / UInt64(1 + int(4))
            let latest = list { MetricValue(name: $0.word(), value: $0.rng.nextDouble() * 1e6 - 5e5) }
            let history = list { EpochPoint(name: $0.word(), epoch: UInt32(1 + $0.int(200)), value: $0.rng.nextDouble() * 10 - 5) }
            let teacherWorkers = list { $0.chance(4) ? "" : $0.word() }, studentWorkers = list { $0.word() }
            return (.runUpdate(RunUpdate(run: runSummary(), phase: text(), phaseDone: done, phaseTotal: total,
                                         latest: latest, history: history, teacherWorkers: teacherWorkers,
                                         studentWorkers: studentWorkers)), [], [])
        case 12: return (.cancelRun(CancelRun(runID: word())), [], [])
        case 13: return (.cancelRunReply(CancelRunReply(cancelled: chance(2), message: text())), [], [])
        case 14:
            let task: TaskSpec
            if chance(2) {
                let hasCheckpoint = chance(2)
                let ranks = Array(Set(list { $0.u32() % 64 })).sorted()
                let index = u32() % 8
                task = .teacher(TeacherTask(teacherIndex: index, checkpointHash: hasCheckpoint ? word() : "",
                                            replicas: ranks, replicaEndpoints: chance(2) ? [] : ranks.map { _ in endpoint() },
                                            teacherEndpoints: chance(2) ? [] : (0...Int(index) + int(3)).map { _ in endpoint() },
                                            fromStep: chance(2) ? 0 : u64(), stateHash: chance(2) ? "" : word()))
            } else {
                let replicas = UInt32(1 + int(8))
                let peers = chance(2) ? [] : (0..<Int(replicas)).map { "tcp://peer-\($0):7879" }
                task = .student(StudentTask(rank: UInt32(int(Int(replicas))), replicas: replicas, ringGeneration: u64(),
                                            peerEndpoints: peers, teacherEndpoints: list { $0.endpoint() },
                                            resumeHash: chance(2) ? "" : word(), fromStep: chance(2) ? 0 : u64()))
            }
            let keys = list { PeerKey(endpoint: $0.endpoint(), publicKey: String(repeating: "k", count: 40),
                                      teacher: $0.chance(2), student: $0.chance(2)) }
            return (.assignTask(AssignTask(runID: word(), taskID: word(), runSpecYaml: "seed: \(u32())",
                                           shardHash: text(), task: task, peerKeys: keys)), [], [])
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
        case 28:
            let n = 1 + int(8), classes = 1 + int(10)
            return (.testSplitLogits(TestSplitLogits(runID: word(), teacher: u32() % 8, sampleCount: UInt64(n))),
                    [TensorMeta(name: "logits", dtype: .f32, shape: [UInt64(n), UInt64(classes)])], [floatBytes(n * classes)])
        case 29:
            let n = 1 + int(8), classes = 1 + int(10), begin = u64() >> 20, from = u32() % 8
            return (.peerTeacherLogits(PeerTeacherLogits(runID: word(), epoch: u32(), step: u64(), fromTeacher: from,
                                                         toTeacher: (from + 1 + u32() % 7) % 8, sampleBegin: begin,
                                                         sampleEnd: begin + UInt64(n), resent: from % 2 == 1)),
                    [TensorMeta(name: "logits", dtype: .f32, shape: [UInt64(n), UInt64(classes)])], [floatBytes(n * classes)])
        default:
            return (.error(ErrorReply(code: pick(ErrorCode.allCases), message: word())), [], [])
        }
    }

    /// LogitsBatch with full logits `[n, classes]` or top-k values, indices and tail mass.
    mutating func logitsBatch() -> (Body, [TensorMeta], [[UInt8]]) {
        let n = 1 + int(8)
        let begin = u64() >> 20
        let dtype: DType = chance(2) ? .f32 : .f16
        let topK = chance(2) ? 0 : 1 + int(5)
        let batch = LogitsBatch(runID: word(), epoch: u32(), step: u64(), replica: u32() % 16, teacher: u32() % 8,
                                sampleBegin: begin, sampleEnd: begin + UInt64(n), dtype: dtype, topK: UInt32(topK))
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

    mutating func runSummary() -> RunSummary {
        let state = pick(RunState.allCases)
        return RunSummary(runID: word(), name: text(), state: state, reason: state.isTerminal ? word() : text(),
                          submittedUnixMs: u64(), updatedUnixMs: u64())
    }

    // MARK: randomness

    mutating func int(_ bound: Int) -> Int { rng.nextInt(below: bound) }
    mutating func chance(_ oneIn: Int) -> Bool { int(oneIn) == 0 }
    mutating func u32() -> UInt32 { chance(2) ? UInt32(int(100)) : UInt32(truncatingIfNeeded: rng.next()) }
    mutating func u64() -> UInt64 {
        switch int(3) {
        case 0: UInt64(int(1000))
        case 1: rng.next() >> 24
        default: rng.next()
        }
    }

    mutating func pick<T>(_ values: [T]) -> T { values[int(values.count)] }

    mutating func list<T>(min: Int = 0, _ make: (inout WireSamples) -> T) -> [T] {
        (0..<(min + int(4 - min))).map { _ in make(&self) }
    }

    mutating func roles(nonEmpty: Bool) -> [Role] {
        switch int(nonEmpty ? 3 : 4) {
        case 0: [.teacher]
        case 1: [.student]
        case 2: [.student, .teacher]
        default: []
        }
    }

    static let samples = ["worker-b", "coordinator", "cli-4242", "τ-teacher", "学生-3", "🚀 run",
                                  "e\u{301}cole", "tcp://10.0.0.2:7879", "x", "line\nbreak", "quote\"d"]

    /// A non-empty string, often with non-ASCII characters.
    mutating func word() -> String {
        if chance(2) { return pick(WireSamples.samples) }
        let letters = Array("abcdefghijklmnopqrstuvwxyz0123456789-_.")
        return String((0...int(12)).map { _ in pick(letters) })
    }

    /// Any string, possibly empty.
    mutating func text() -> String { chance(4) ? "" : word() }

    mutating func endpoint() -> String { "tcp://10.0.\(int(256)).\(int(256)):\(7000 + int(2000))" }

    mutating func randomBytes(_ count: Int) -> [UInt8] {
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
    mutating func floatBytes(_ count: Int) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(count * 4)
        for _ in 0..<count {
            let bits = rng.uniform(-20, 20).bitPattern
            bytes += [0, 8, 16, 24].map { UInt8(truncatingIfNeeded: bits >> $0) }
        }
        return bytes
    }
}
