import Testing
import Wire

/// The per-body rules: each broken message is refused by encode (a bug at the sender) and,
/// sent anyway, by decode, with the same `.invalid` error; edge cases inside the rules pass.
@Suite struct RulesTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let detail: String
        let message: Message
        var testDescription: String { detail }

        init(_ detail: String, _ body: Body, tensors: [TensorMeta] = [], frames: [Frame] = []) {
            self.detail = detail
            message = Message(Envelope(sender: "rules", requestID: 5, tensors: tensors, body: body), frames: frames)
        }
    }

    static let f32x6 = [TensorMeta(name: "logits", dtype: .f32, shape: [2, 3])]
    static let frame24 = [Handwritten.bytes(24)]
    static let student = AssignTask(runID: "r", taskID: "t", runSpecYaml: "x")

    static let broken: [Case] = [
        Case("register.name must not be empty", .register(Register(roles: [.teacher]))),
        Case("register.roles must list at least one role", .register(Register(name: "w"))),
        Case("register.roles[1] (teacher) repeats an earlier entry", .register(Register(name: "w", roles: [.teacher, .teacher]))),
        Case("register_ack.node_id must not be empty", .registerAck(RegisterAck(heartbeatIntervalMs: 1, livenessTimeoutMs: 2))),
        Case("register_ack.heartbeat_interval_ms must be at least 1", .registerAck(RegisterAck(nodeID: "n", livenessTimeoutMs: 9))),
        Case("register_ack.liveness_timeout_ms (1000) must be greater than heartbeat_interval_ms (1000)",
             .registerAck(RegisterAck(nodeID: "n", heartbeatIntervalMs: 1000, livenessTimeoutMs: 1000))),
        Case("heartbeat.cpu_percent (nan) must be a finite number ≥ 0", .heartbeat(Heartbeat(cpuPercent: .nan))),
        Case("heartbeat.cpu_percent (-1.0) must be a finite number ≥ 0", .heartbeat(Heartbeat(cpuPercent: -1))),
        Case("heartbeat.runs[1] (run-3) repeats an earlier entry", .heartbeat(Heartbeat(runs: ["run-3", "run-3"]))),
        Case("heartbeat.runs[0] must not be empty", .heartbeat(Heartbeat(runs: [""]))),
        Case("a Heartbeat carries no tensor frames, but tensors has 1 entry", .heartbeat(Heartbeat()),
             tensors: [TensorMeta(name: "x", dtype: .u8, shape: [2])], frames: [Handwritten.bytes(2)]),
        Case("submit_run.spec_yaml must not be empty", .submitRun(SubmitRun(fileName: "a.yaml"))),
        Case("submit_run.spec_yaml and file_name must be empty with resume_run_id (a resumed run keeps its spec)",
             .submitRun(SubmitRun(specYaml: "name: a", resumeRunID: "run-1"))),
        Case("submit_run.resume_run_id must be at most 128 bytes, got 129", .submitRun(SubmitRun(
            resumeRunID: String(repeating: "r", count: 129)))),
        Case("submit_run.idempotency_key must be at most 128 bytes (a UUID is 36), got 129", .submitRun(SubmitRun(
            specYaml: "name: a", idempotencyKey: String(repeating: "k", count: 129)))),
        Case("submit_run.idempotency_key must be at most 128 bytes (a UUID is 36), got 130", .submitRun(SubmitRun(
            specYaml: "name: a", idempotencyKey: String(repeating: "é", count: 65)))),
        Case("submit_run_reply.duplicate must be false when the run was not accepted", .submitRunReply(SubmitRunReply(
            errors: [FieldError(field: "a", message: "b")], duplicate: true))),
        Case("submit_run_reply.errors must say why", .submitRunReply(SubmitRunReply(accepted: false))),
        Case("submit_run_reply.run_id (accepted) must not be empty", .submitRunReply(SubmitRunReply(accepted: true))),
        Case("submit_run_reply.errors must be empty when accepted", .submitRunReply(SubmitRunReply(
            accepted: true, runID: "r", errors: [FieldError(field: "a", message: "b")]))),
        Case("submit_run_reply.errors[0].message must not be empty", .submitRunReply(SubmitRunReply(
            errors: [FieldError(field: "a")]))),
        Case("cluster_status.nodes[1].node_id must not be empty", .clusterStatus(ClusterStatus(nodes: [
            NodeStatus(nodeID: "a"), NodeStatus()]))),
        Case("cluster_status.nodes[0].cpu_percent (inf) must be a finite number ≥ 0", .clusterStatus(ClusterStatus(
            nodes: [NodeStatus(nodeID: "a", cpuPercent: .infinity)]))),
        Case("run_list.runs[0].reason must say why the run is cancelled", .runList(RunList(runs: [
            RunSummary(runID: "r", state: .cancelled)]))),
        Case("run_list.runs[0].run_id must not be empty", .runList(RunList(runs: [RunSummary()]))),
        Case("watch_run.run_id must not be empty", .watchRun(WatchRun())),
        Case("run_update.run.run_id must not be empty", .runUpdate(RunUpdate())),
        Case("run_update.phase_done (5) must not exceed phase_total (4)", .runUpdate(RunUpdate(
            run: RunSummary(runID: "r"), phaseDone: 5, phaseTotal: 4))),
        Case("run_update.latest[0].name must not be empty", .runUpdate(RunUpdate(run: RunSummary(runID: "r"),
                                                                                 latest: [MetricValue(value: 1)]))),
        Case("run_update.teacher_workers has 33 entries; at most 32 (one per teacher) are allowed", .runUpdate(RunUpdate(
            run: RunSummary(runID: "r"), teacherWorkers: Array(repeating: "w", count: 33)))),
        Case("run_update.student_workers has 65 entries; at most 64 (one per replica) are allowed", .runUpdate(RunUpdate(
            run: RunSummary(runID: "r"), studentWorkers: Array(repeating: "w", count: 65)))),
        Case("cancel_run.run_id must not be empty", .cancelRun(CancelRun())),
        Case("event_list.events[0].kind must not be empty", .eventList(EventList(events: [EventEntry(message: "m")]))),
        Case("assign_task.run_id must not be empty", .assignTask(AssignTask(taskID: "t", runSpecYaml: "x"))),
        Case("assign_task.task_id must not be empty", .assignTask(AssignTask(runID: "r", runSpecYaml: "x"))),
        Case("assign_task.run_spec_yaml must not be empty", .assignTask(AssignTask(runID: "r", taskID: "t"))),
        Case("assign_task.task must be set (teacher or student)", .assignTask(student)),
        Case("assign_task.teacher.replicas[2] (0) repeats an earlier entry", .assignTask(AssignTask(
            runID: "r", taskID: "t", runSpecYaml: "x",
            task: .teacher(TeacherTask(checkpointHash: "h", replicas: [0, 1, 0]))))),
        Case("assign_task.teacher.replica_endpoints has 1 entries; it must be empty or one per replica (2)",
             .assignTask(AssignTask(runID: "r", taskID: "t", runSpecYaml: "x",
                                    task: .teacher(TeacherTask(checkpointHash: "h", replicas: [0, 1],
                                                               replicaEndpoints: ["tcp://a:1"]))))),
        Case("assign_task.student.replicas must be at least 1", .assignTask(AssignTask(
            runID: "r", taskID: "t", runSpecYaml: "x", task: .student(StudentTask())))),
        Case("assign_task.student.rank (3) must be less than replicas (3)", .assignTask(AssignTask(
            runID: "r", taskID: "t", runSpecYaml: "x", task: .student(StudentTask(rank: 3, replicas: 3))))),
        Case("assign_task.student.peer_endpoints has 2 entries; it must be empty or list all 3 ranks", .assignTask(AssignTask(
            runID: "r", taskID: "t", runSpecYaml: "x",
            task: .student(StudentTask(rank: 0, replicas: 3, peerEndpoints: ["a", "b"]))))),
        Case("task_status.reason must say why the task failed", .taskStatus(TaskStatus(runID: "r", taskID: "t",
                                                                                       state: .failed))),
        Case("task_status.done (11) must not exceed total (10)", .taskStatus(TaskStatus(runID: "r", taskID: "t",
                                                                                        done: 11, total: 10))),
        Case("shard_offer.chunk_count must be at least 1", .shardOffer(ShardOffer(shardHash: "h", totalBytes: 9))),
        Case("shard_offer.total_bytes (3) must be at least chunk_count (4)", .shardOffer(ShardOffer(
            shardHash: "h", totalBytes: 3, chunkCount: 4))),
        Case("shard_request.chunk_count must be at least 1", .shardRequest(ShardRequest(shardHash: "h"))),
        Case("shard_request.first_chunk (4294967295) + chunk_count (2) goes past", .shardRequest(ShardRequest(
            shardHash: "h", firstChunk: .max, chunkCount: 2))),
        Case("shard_chunk.shard_hash must not be empty", .shardChunk(ShardChunk()),
             tensors: [TensorMeta(name: "c", dtype: .u8, shape: [2])], frames: [Handwritten.bytes(2)]),
        Case("a ShardChunk carries exactly 1 tensor", .shardChunk(ShardChunk(shardHash: "h"))),
        Case("tensors[0] (chunk bytes) must be u8, got f32", .shardChunk(ShardChunk(shardHash: "h")),
             tensors: [TensorMeta(name: "c", dtype: .f32, shape: [2])], frames: [Handwritten.bytes(8)]),
        Case("tensors[0] (chunk bytes) must have shape [≥1], got [0]", .shardChunk(ShardChunk(shardHash: "h")),
             tensors: [TensorMeta(name: "c", dtype: .u8, shape: [0])], frames: [Handwritten.bytes(0)]),
        Case("shard_chunk.offset (18446744073709551615) + 2 bytes overflows", .shardChunk(ShardChunk(
            shardHash: "h", offset: .max)), tensors: [TensorMeta(name: "c", dtype: .u8, shape: [2])],
             frames: [Handwritten.bytes(2)]),
        Case("shard_ack.error must say why", .shardAck(ShardAck(shardHash: "h"))),
        Case("shard_ack.error must be empty when have is true", .shardAck(ShardAck(shardHash: "h", have: true,
                                                                                   error: "x"))),
        Case("logits_batch.run_id must not be empty", .logitsBatch(LogitsBatch(sampleEnd: 2)),
             tensors: f32x6, frames: frame24),
        Case("logits_batch.sample_end (4) must be greater than sample_begin (4)", .logitsBatch(LogitsBatch(
            runID: "r", sampleBegin: 4, sampleEnd: 4)), tensors: f32x6, frames: frame24),
        Case("logits_batch.dtype (i32) must be f32 or f16", .logitsBatch(LogitsBatch(
            runID: "r", sampleEnd: 2, dtype: .i32)), tensors: [TensorMeta(name: "l", dtype: .i32, shape: [2, 3])],
             frames: frame24),
        Case("a LogitsBatch with top_k 0 carries exactly 1 tensor (logits [2, classes]), but tensors has 0",
             .logitsBatch(LogitsBatch(runID: "r", sampleEnd: 2))),
        Case("tensors[0] (logits) must have shape [3, ≥1], got [2, 3]", .logitsBatch(LogitsBatch(
            runID: "r", sampleEnd: 3)), tensors: f32x6, frames: frame24),
        Case("tensors[0] (logits) must be f16, got f32", .logitsBatch(LogitsBatch(runID: "r", sampleEnd: 2,
                                                                                  dtype: .f16)),
             tensors: f32x6, frames: frame24),
        Case("a LogitsBatch with top_k 2 carries exactly 3 tensors", .logitsBatch(LogitsBatch(
            runID: "r", sampleEnd: 2, topK: 2)), tensors: f32x6, frames: frame24),
        Case("tensors[1] (top-k indices) must be i32, got i64", .logitsBatch(LogitsBatch(runID: "r", sampleEnd: 2, topK: 3)),
             tensors: [TensorMeta(name: "v", dtype: .f32, shape: [2, 3]), TensorMeta(name: "i", dtype: .i64, shape: [2, 3]),
                       TensorMeta(name: "t", dtype: .f32, shape: [2])],
             frames: [Handwritten.bytes(24), Handwritten.bytes(48), Handwritten.bytes(8)]),
        Case("tensors[2] (tail mass) must have shape [2], got [2, 1]", .logitsBatch(LogitsBatch(runID: "r", sampleEnd: 2, topK: 3)),
             tensors: [TensorMeta(name: "v", dtype: .f32, shape: [2, 3]), TensorMeta(name: "i", dtype: .i32, shape: [2, 3]),
                       TensorMeta(name: "t", dtype: .f32, shape: [2, 1])],
             frames: [Handwritten.bytes(24), Handwritten.bytes(24), Handwritten.bytes(8)]),
        Case("test_split_logits.run_id must not be empty", .testSplitLogits(TestSplitLogits(sampleCount: 2)),
             tensors: f32x6, frames: frame24),
        Case("test_split_logits.sample_count must be at least 1", .testSplitLogits(TestSplitLogits(runID: "r")),
             tensors: [TensorMeta(name: "l", dtype: .f32, shape: [0, 3])], frames: [Handwritten.bytes(0)]),
        Case("a TestSplitLogits carries exactly 1 tensor (logits [2, classes] f32), but tensors has 0",
             .testSplitLogits(TestSplitLogits(runID: "r", sampleCount: 2))),
        Case("tensors[0] (test-split logits) must be f32, got f16", .testSplitLogits(TestSplitLogits(runID: "r", sampleCount: 2)),
             tensors: [TensorMeta(name: "l", dtype: .f16, shape: [2, 3])], frames: [Handwritten.bytes(12)]),
        Case("tensors[0] (test-split logits) must have shape [3, ≥1], got [2, 3]", .testSplitLogits(TestSplitLogits(
            runID: "r", sampleCount: 3)), tensors: f32x6, frames: frame24),
        Case("peer_teacher_logits.run_id must not be empty", .peerTeacherLogits(PeerTeacherLogits(
            toTeacher: 1, sampleEnd: 2)), tensors: f32x6, frames: frame24),
        Case("peer_teacher_logits.sample_end (4) must be greater than sample_begin (4)", .peerTeacherLogits(
            PeerTeacherLogits(runID: "r", toTeacher: 1, sampleBegin: 4, sampleEnd: 4)), tensors: f32x6, frames: frame24),
        Case("peer_teacher_logits.to_teacher (2) must not be from_teacher", .peerTeacherLogits(PeerTeacherLogits(
            runID: "r", fromTeacher: 2, toTeacher: 2, sampleEnd: 2)), tensors: f32x6, frames: frame24),
        Case("a PeerTeacherLogits carries exactly 1 tensor (logits [2, classes] f32), but tensors has 0",
             .peerTeacherLogits(PeerTeacherLogits(runID: "r", toTeacher: 1, sampleEnd: 2))),
        Case("tensors[0] (peer logits) must be f32, got f16", .peerTeacherLogits(PeerTeacherLogits(
            runID: "r", toTeacher: 1, sampleEnd: 2)),
             tensors: [TensorMeta(name: "l", dtype: .f16, shape: [2, 3])], frames: [Handwritten.bytes(12)]),
        Case("tensors[0] (peer logits) must have shape [3, ≥1], got [2, 3]", .peerTeacherLogits(PeerTeacherLogits(
            runID: "r", toTeacher: 1, sampleEnd: 3)), tensors: f32x6, frames: frame24),
        Case("credit.steps must be at least 1", .credit(Credit(runID: "r"))),
        Case("credit.run_id must not be empty", .credit(Credit(steps: 1))),
        Case("a GradientChunk carries exactly 1 tensor", .gradientChunk(GradientChunk(runID: "r"))),
        Case("tensors[0] (gradient chunk) must have shape [≥1], got [2, 3]", .gradientChunk(GradientChunk(runID: "r")),
             tensors: f32x6, frames: frame24),
        Case("metrics.values[1].name must not be empty", .metrics(Metrics(runID: "r", values: [
            MetricValue(name: "a"), MetricValue()]))),
        Case("artifact_chunk.sha256 must not be empty", .artifactChunk(ArtifactChunk(runID: "r", name: "a", totalBytes: 9)),
             tensors: [TensorMeta(name: "b", dtype: .u8, shape: [2])], frames: [Handwritten.bytes(2)]),
        Case("artifact_chunk.offset (8) + 2 bytes must not exceed total_bytes (9)", .artifactChunk(ArtifactChunk(
            runID: "r", name: "a", sha256: "s", totalBytes: 9, offset: 8)),
             tensors: [TensorMeta(name: "b", dtype: .u8, shape: [2])], frames: [Handwritten.bytes(2)]),
        Case("artifact_chunk is last but offset (5) + 2 bytes = 7, not total_bytes (9)", .artifactChunk(ArtifactChunk(
            runID: "r", name: "a", sha256: "s", totalBytes: 9, offset: 5, last: true)),
             tensors: [TensorMeta(name: "b", dtype: .u8, shape: [2])], frames: [Handwritten.bytes(2)]),
        Case("artifact_ack.error must say why", .artifactAck(ArtifactAck(runID: "r", name: "a"))),
        Case("error.message must not be empty", .error(ErrorReply(code: .internal))),
    ]

    @Test(arguments: broken)
    func encodeAndDecodeRefuseTheSameWay(_ c: Case) throws {
        let sent = try #require(throws: WireError.self) { try WireCodec.encode(c.message) }
        #expect(sent.kind == .invalid)
        #expect(sent.detail.hasPrefix(c.detail), "\(sent.detail)")
        #expect(sent.sender == "rules" && sent.requestID == 5)
        let frames = [Frame(bytes: WireCodec.encodeEnvelope(c.message.envelope))] + c.message.frames
        let received = try #require(throws: WireError.self) { try WireCodec.decode(frames) }
        #expect(received == sent)
    }

    static let fine: [Case] = [
        Case("artifact of zero bytes", .artifactChunk(ArtifactChunk(runID: "r", name: "a", sha256: "s", last: true)),
             tensors: [TensorMeta(name: "b", dtype: .u8, shape: [0])], frames: [Handwritten.bytes(0)]),
        Case("last shard chunk index", .shardRequest(ShardRequest(shardHash: "h", firstChunk: .max, chunkCount: 1))),
        Case("running task without total", .taskStatus(TaskStatus(runID: "r", taskID: "t", state: .running, done: 9))),
        Case("top-1 logits of one sample", .logitsBatch(LogitsBatch(runID: "r", sampleBegin: .max - 1, sampleEnd: .max,
                                                                    dtype: .f16, topK: 1)),
             tensors: [TensorMeta(name: "v", dtype: .f16, shape: [1, 1]), TensorMeta(name: "i", dtype: .i32, shape: [1, 1]),
                       TensorMeta(name: "t", dtype: .f16, shape: [1])],
             frames: [Handwritten.bytes(2), Handwritten.bytes(4), Handwritten.bytes(2)]),
        Case("teacher without checkpoint_hash (trained from the spec's recipe)", .assignTask(AssignTask(
            runID: "r", taskID: "t", runSpecYaml: "x", task: .teacher(TeacherTask(replicas: [0]))))),
        Case("test split of one sample and one class", .testSplitLogits(TestSplitLogits(runID: "r", sampleCount: 1)),
             tensors: [TensorMeta(name: "l", dtype: .f32, shape: [1, 1])], frames: [Handwritten.bytes(4)]),
        Case("peer logits of the last sample to teacher 0", .peerTeacherLogits(PeerTeacherLogits(
            runID: "r", fromTeacher: .max, toTeacher: 0, sampleBegin: .max - 1, sampleEnd: .max)),
             tensors: [TensorMeta(name: "l", dtype: .f32, shape: [1, 2])], frames: [Handwritten.bytes(8)]),
        Case("single replica without peers", .assignTask(AssignTask(runID: "r", taskID: "t", runSpecYaml: "x",
                                                                    task: .student(StudentTask(replicas: 1))))),
        Case("rejected run with a whole-file error", .submitRunReply(SubmitRunReply(errors: [FieldError(message: "empty")]))),
        Case("idempotency key of exactly 128 bytes", .submitRun(SubmitRun(specYaml: "name: a",
                                                                          idempotencyKey: String(repeating: "é", count: 64)))),
        Case("accepted duplicate", .submitRunReply(SubmitRunReply(accepted: true, runID: "run-1", duplicate: true))),
        Case("a resumption", .submitRun(SubmitRun(idempotencyKey: "k", resumeRunID: "run-7"))),
        Case("a resumption accepted from step 1200", .submitRunReply(SubmitRunReply(accepted: true, runID: "run-9", resumeStep: 1200))),
        Case("running run without reason", .runList(RunList(runs: [RunSummary(runID: "r", state: .distilling)]))),
    ]

    @Test(arguments: fine)
    func edgeCasesInsideTheRulesPass(_ c: Case) throws {
        let decoded = try WireCodec.decode(WireCodec.encode(c.message))
        #expect(decoded == c.message)
    }

    @Test func encodeRefusesStructuralProblemsToo() throws {
        let logits = Handwritten.all.first { $0.envelope.body.name == "LogitsBatch" }
        var message = try #require(logits)
        message.frames = []
        let missing = try #require(throws: WireError.self) { try WireCodec.encode(message) }
        #expect(missing.kind == .frameMismatch)

        message = try #require(logits)
        message.frames = [Handwritten.bytes(159)]
        let short = try #require(throws: WireError.self) { try WireCodec.encode(message) }
        #expect(short.kind == .shapeMismatch)

        message = try #require(logits)
        message.envelope.protocolVersion = 2
        let version = try #require(throws: WireError.self) { try WireCodec.encode(message) }
        #expect(version.kind == .version)

        message = try #require(logits)
        message.envelope.tensors += Array(repeating: TensorMeta(name: "x", dtype: .u8, shape: [0]), count: 16)
        message.frames += Array(repeating: Handwritten.bytes(0), count: 16)
        let many = try #require(throws: WireError.self) { try WireCodec.encode(message) }
        #expect(many.kind == .tooMany)

        let big = Message(Envelope(body: .deregister(Deregister(reason: String(repeating: "x", count: 5000)))))
        let oversized = try #require(throws: WireError.self) {
            try WireCodec.encode(big, limits: WireLimits(maxEnvelopeBytes: 4096))
        }
        #expect(oversized.kind == .oversized)
        #expect(oversized.description.contains("at most 4096"))
    }

    @Test func encodeRefusesStringsWithNUL() throws {
        let message = Message(Envelope(sender: "a\u{0}b", body: .heartbeat(Heartbeat())))
        let e = try #require(throws: WireError.self) { try WireCodec.encode(message) }
        #expect(e.kind == .invalid)
        #expect(e.detail.hasPrefix("sender contains a NUL character at byte 1"))
        let nested = Message(Envelope(body: .metrics(Metrics(runID: "r", values: [MetricValue(name: "x\u{0}")]))))
        let n = try #require(throws: WireError.self) { try WireCodec.encode(nested) }
        #expect(n.detail.hasPrefix("metrics.values[0].name contains a NUL character"))
        // Without validation the string is cut where protobuf-c sees its end.
        let cut = try WireCodec.decode([Frame(bytes: WireCodec.encodeEnvelope(message.envelope))])
        #expect(cut.envelope.sender == "a")
    }
}
