import Wire

/// One message per body kind with every field set to a non-default value (unicode strings
/// included), plus the variants that matter: AssignTask with either task, LogitsBatch with
/// full and top-k logits in f32 and f16, TestSplitLogits and PeerTeacherLogits.
enum Handwritten {
    static func bytes(_ count: Int, seed: UInt8 = 1) -> Frame {
        Frame(bytes: (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(seed)) })
    }

    static func message(_ body: Body, tensors: [TensorMeta] = [], frames: [Frame] = []) -> Message {
        Message(Envelope(sender: "wörker-β 🚀", requestID: 0xFEED_FACE_CAFE_BEEF, replyTo: 77, tensors: tensors,
                         body: body), frames: frames)
    }

    static let run = RunSummary(runID: "run-α", name: "fashion «distil»", state: .failed, reason: "teacher 2 lost",
                                submittedUnixMs: 1_700_000_000_000, updatedUnixMs: 1_700_000_100_000)

    static var all: [Message] {
        [
            message(.register(Register(name: "worker-b", roles: [.teacher, .student], dataEndpoint: "tcp://B:7879",
                                       cores: 16, memoryBytes: 64 << 30, version: "0.3.0-β",
                                       cachedShards: ["aa11", "bb22", "中文"]))),
            message(.registerAck(RegisterAck(nodeID: "node-7", heartbeatIntervalMs: 1000, livenessTimeoutMs: 5000))),
            message(.heartbeat(Heartbeat(sentUnixMs: 1_700_000_000_123, cpuPercent: 312.5, rssBytes: 1 << 33,
                                         currentTask: "teacher 1 · epoch 3", runs: ["run-3", "run-7"]))),
            message(.deregister(Deregister(reason: "shutting down ⏻"))),
            message(.submitRun(SubmitRun(specYaml: "name: démo\nteachers: 3\n", fileName: "runs/démo.yaml",
                                         idempotencyKey: "6F9619FF-8B86-D011-B42D-00C04FC964FF"))),
            message(.submitRunReply(SubmitRunReply(accepted: false, runID: "",
                                                   errors: [FieldError(field: "training.epochs", message: "must be ≥ 1"),
                                                            FieldError(field: "", message: "tabs are not allowed")]))),
            message(.submitRunReply(SubmitRunReply(accepted: true, runID: "run-42"))),
            message(.submitRunReply(SubmitRunReply(accepted: true, runID: "run-41", duplicate: true))),
            message(.statusRequest(StatusRequest())),
            message(.clusterStatus(ClusterStatus(nodes: [
                NodeStatus(nodeID: "n1", name: "alpha", roles: [.teacher], address: "tcp://A:7879", state: .suspect,
                           lastHeardMsAgo: 2500, cpuPercent: 99.5, rssBytes: 123_456_789, currentTask: "t-1",
                           version: "0.3.0"),
                NodeStatus(nodeID: "n2", name: "βeta", roles: [.student, .teacher], address: "tcp://B:7879",
                           state: .left, lastHeardMsAgo: 9, cpuPercent: 0.25, rssBytes: 1, currentTask: "",
                           version: "0.2.9"),
            ], coordinatorVersion: "0.3.0"))),
            message(.listRuns(ListRuns(limit: 25))),
            message(.runList(RunList(runs: [run, RunSummary(runID: "run-β", name: "n", state: .distilling, reason: "",
                                                             submittedUnixMs: 5, updatedUnixMs: 6)]))),
            message(.watchRun(WatchRun(runID: "run-α"))),
            message(.runUpdate(RunUpdate(run: run, phase: "distil", phaseDone: 17, phaseTotal: 40,
                                         latest: [MetricValue(name: "train.loss", value: 0.4375),
                                                  MetricValue(name: "val.accuracy", value: -1e-300)]))),
            message(.cancelRun(CancelRun(runID: "run-α"))),
            message(.listEvents(ListEvents(runID: "run-α", limit: 50))),
            message(.eventList(EventList(events: [
                EventEntry(atUnixMs: 1_764_600_000_000, kind: "state", message: "placing → sharding", runID: "run-α"),
                EventEntry(atUnixMs: 7, kind: "worker", message: "w2 died: silent for 5.0 s"),
            ]))),
            message(.cancelRunReply(CancelRunReply(cancelled: true, message: "cancelled at step 12"))),
            message(.assignTask(AssignTask(runID: "run-α", taskID: "teacher-2", runSpecYaml: "seed: 7",
                                           shardHash: "c0ffee",
                                           task: .teacher(TeacherTask(teacherIndex: 2, checkpointHash: "deadbeef",
                                                                      replicas: [0, 3, 1],
                                                                      replicaEndpoints: ["tcp://a:1", "tcp://b:2", "tcp://c:3"]))))),
            message(.assignTask(AssignTask(runID: "run-α", taskID: "student-1", runSpecYaml: "seed: 7",
                                           shardHash: "c0ffee",
                                           task: .student(StudentTask(rank: 1, replicas: 3, ringGeneration: 9,
                                                                      peerEndpoints: ["tcp://a:1", "tcp://b:2", "tcp://c:3"],
                                                                      teacherEndpoints: ["tcp://t:9"]))))),
            message(.taskStatus(TaskStatus(runID: "run-α", taskID: "t", state: .failed, reason: "OOM ☠", done: 3,
                                           total: 10))),
            message(.shardOffer(ShardOffer(shardHash: String(repeating: "ab", count: 32), totalBytes: 47_040_000,
                                           chunkCount: 45, description: "fashion-mnist train [0, 55000)"))),
            message(.shardRequest(ShardRequest(shardHash: "abab", firstChunk: 8, chunkCount: 8))),
            message(.shardChunk(ShardChunk(shardHash: "abab", chunkIndex: 3, offset: 3 << 20)),
                    tensors: [TensorMeta(name: "chunk", dtype: .u8, shape: [100])], frames: [bytes(100)]),
            message(.shardAck(ShardAck(shardHash: "abab", have: false, error: "hash mismatch"))),
            message(.logitsBatch(LogitsBatch(runID: "run-α", epoch: 2, step: 99, replica: 1, teacher: 2,
                                             sampleBegin: 3200, sampleEnd: 3204, dtype: .f32, topK: 0)),
                    tensors: [TensorMeta(name: "logits", dtype: .f32, shape: [4, 10])], frames: [bytes(160)]),
            message(.logitsBatch(LogitsBatch(runID: "run-α", epoch: 1, step: 5, replica: 3, teacher: 1,
                                             sampleBegin: 10, sampleEnd: 13, dtype: .f16, topK: 5)),
                    tensors: [TensorMeta(name: "values", dtype: .f16, shape: [3, 5]),
                              TensorMeta(name: "indices", dtype: .i32, shape: [3, 5]),
                              TensorMeta(name: "tail", dtype: .f16, shape: [3])],
                    frames: [bytes(30, seed: 2), bytes(60, seed: 3), bytes(6, seed: 4)]),
            message(.testSplitLogits(TestSplitLogits(runID: "run-α", teacher: 2, sampleCount: 3)),
                    tensors: [TensorMeta(name: "logits", dtype: .f32, shape: [3, 10])], frames: [bytes(120, seed: 5)]),
            message(.peerTeacherLogits(PeerTeacherLogits(runID: "run-α", epoch: 3, step: 41, fromTeacher: 1, toTeacher: 2,
                                                         sampleBegin: 6400, sampleEnd: 6404, resent: true)),
                    tensors: [TensorMeta(name: "logits", dtype: .f32, shape: [4, 10])], frames: [bytes(160, seed: 6)]),
            message(.credit(Credit(runID: "run-α", replica: 2, steps: 4, teacher: 3))),
            message(.gradientChunk(GradientChunk(runID: "run-α", generation: 3, step: 77, chunk: 2, phase: .allGather,
                                                 hop: 1)),
                    tensors: [TensorMeta(name: "grad", dtype: .f32, shape: [25])], frames: [bytes(100)]),
            message(.metrics(Metrics(runID: "run-α", epoch: 4, step: 800,
                                     values: [MetricValue(name: "train.loss", value: 0.125),
                                              MetricValue(name: "samples/s", value: 12_345.5)]))),
            message(.artifactChunk(ArtifactChunk(runID: "run-α", name: "student.safetensors", sha256: "5ha",
                                                 totalBytes: 150, offset: 100, last: true)),
                    tensors: [TensorMeta(name: "bytes", dtype: .u8, shape: [50])], frames: [bytes(50)]),
            message(.artifactAck(ArtifactAck(runID: "run-α", name: "student.safetensors", stored: false,
                                             error: "sha256 mismatch"))),
            message(.error(ErrorReply(code: .notFound, message: "run «zzz» not found; see `distillery runs`"))),
        ]
    }
}
