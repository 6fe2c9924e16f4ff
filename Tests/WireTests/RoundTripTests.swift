import DistilleryTestKit
import DistilleryProtoC
import Testing
import Wire

/// Every body kind survives encode → decode unchanged, handwritten and generated.
@Suite struct RoundTripTests {
    static let bodyNames: Set<String> = [
        "Register", "RegisterAck", "Heartbeat", "Deregister", "SubmitRun", "SubmitRunReply", "StatusRequest",
        "ClusterStatus", "ListRuns", "RunList", "WatchRun", "RunUpdate", "CancelRun", "CancelRunReply", "AssignTask",
        "TaskStatus", "ShardOffer", "ShardRequest", "ShardChunk", "ShardAck", "LogitsBatch", "TestSplitLogits",
        "PeerTeacherLogits", "Credit", "GradientChunk", "Metrics", "ArtifactChunk", "ArtifactAck", "ListEvents", "EventList", "Error",
    ]

    @Test(arguments: Handwritten.all)
    func handwrittenMessageRoundTrips(_ message: Message) throws {
        let frames = try WireCodec.encode(message)
        #expect(frames.count == message.frames.count + 1)
        let decoded = try WireCodec.decode(frames)
        #expect(decoded.envelope == message.envelope)
        #expect(decoded == message)
        #expect(decoded.envelope.body.name == message.envelope.body.name)
    }

    @Test func handwrittenMessagesCoverEveryBodyAndBothTaskKinds() {
        let all = Handwritten.all
        #expect(Set(all.map(\.envelope.body.name)) == RoundTripTests.bodyNames)
        let tasks = all.compactMap { m -> String? in
            if case .assignTask(let a) = m.envelope.body, let task = a.task {
                if case .teacher = task { return "teacher" } else { return "student" }
            }
            return nil
        }
        #expect(Set(tasks) == ["teacher", "student"])
    }

    @Test func generatedMessagesOfEveryKindRoundTrip() throws {
        var samples = WireSamples(seed: 2024)
        var names: [String: Int] = [:]
        for _ in 0..<3000 {
            let message = samples.validMessage()
            names[message.envelope.body.name, default: 0] += 1
            let decoded = try WireCodec.decode(WireCodec.encode(message))
            #expect(decoded == message)
            if decoded != message { break }
        }
        #expect(Set(names.keys) == RoundTripTests.bodyNames, "every body kind was generated")
    }

    @Test(arguments: [1, 17, 99, 31_337] as [UInt64])
    func sameSeedGivesSameSamples(_ seed: UInt64) {
        var a = WireSamples(seed: seed), b = WireSamples(seed: seed), c = WireSamples(seed: seed + 1)
        let x = (0..<20).map { _ in a.validMessage() }
        #expect(x == (0..<20).map { _ in b.validMessage() })
        #expect(x != (0..<20).map { _ in c.validMessage() })
    }

    @Test func encodeEnvelopeMatchesFrameZeroOfEncode() throws {
        for message in Handwritten.all {
            let frames = try WireCodec.encode(message)
            #expect(frames[0].bytes == WireCodec.encodeEnvelope(message.envelope))
        }
    }

    @Test func unknownFieldsAreIgnored() throws {
        let message = Handwritten.all[2]
        var w = ProtoWriter()
        w.raw(WireCodec.encodeEnvelope(message.envelope))
        w.uint(200, 12345)                 // a field a newer peer might add to Envelope
        w.lengthDelimited(4_000, [1, 2, 3])
        let decoded = try WireCodec.decode([Frame(bytes: w.bytes)])
        #expect(decoded == message)
    }

    /// TeacherTask 2 and 4 (`model_spec`, `recipe_yaml`) and StudentTask 6 (`model_spec`) are
    /// reserved: a task from a coordinator that still sends them decodes to the same task.
    @Test func retiredTaskFieldsAreIgnored() throws {
        func assign(_ field: Int, _ task: (inout ProtoWriter) -> Void) throws -> Body {
            var w = ProtoWriter()
            w.uint(1, 1)                                     // protocol_version
            w.string(2, "coordinator")
            w.message(30) { a in                             // assign_task
                a.string(1, "run-1"); a.string(2, "run-1/task"); a.string(3, "name: x"); a.string(4, "c0ffee")
                a.message(field, task)
            }
            return try WireCodec.decode([Frame(bytes: w.bytes)]).envelope.body
        }
        let teacher = try assign(10) { t in
            t.uint(1, 2); t.string(2, "mlp:784-10"); t.string(3, "deadbeef"); t.string(4, "epochs: 3"); t.uint(5, 0)
        }
        #expect(teacher == .assignTask(AssignTask(runID: "run-1", taskID: "run-1/task", runSpecYaml: "name: x", shardHash: "c0ffee",
                                                  task: .teacher(TeacherTask(teacherIndex: 2, checkpointHash: "deadbeef",
                                                                             replicas: [0])))))
        let student = try assign(11) { s in s.uint(1, 1); s.uint(2, 2); s.string(6, "mlp:784-10") }
        #expect(student == .assignTask(AssignTask(runID: "run-1", taskID: "run-1/task", runSpecYaml: "name: x", shardHash: "c0ffee",
                                                  task: .student(StudentTask(rank: 1, replicas: 2, replicaSlot: 0)))))
    }

    @Test func unicodeAndEmptyStringsSurvive() throws {
        let reason = "naïve 日本語 🚀 e\u{301} \u{10FFFF}"
        let message = Message(Envelope(sender: "", body: .deregister(Deregister(reason: reason))))
        let decoded = try WireCodec.decode(WireCodec.encode(message))
        guard case .deregister(let d) = decoded.envelope.body else {
            Issue.record("decoded \(decoded.envelope.body.name)")
            return
        }
        #expect(d.reason == reason)
        #expect(decoded.envelope.sender == "")
    }

    @Test func bodyNamesAreTheProtoMessageNames() {
        #expect(Body.heartbeat(Heartbeat(sentUnixMs: 5)).name == "Heartbeat")
        #expect(Body.logitsBatch(LogitsBatch()).name == "LogitsBatch")
        #expect(Body.testSplitLogits(TestSplitLogits()).name == "TestSplitLogits")
        #expect(Body.peerTeacherLogits(PeerTeacherLogits()).name == "PeerTeacherLogits")
        #expect(Body.error(ErrorReply()).name == "Error")
        #expect(Body.registerAck(RegisterAck()).name == "RegisterAck")
    }

    @Test func enumsMirrorTheProtoValues() {
        #expect(DType.allCases.map(\.rawValue) == [
            DISTILLERY__V1__DTYPE__DTYPE_F32, DISTILLERY__V1__DTYPE__DTYPE_F16, DISTILLERY__V1__DTYPE__DTYPE_I32,
            DISTILLERY__V1__DTYPE__DTYPE_I64, DISTILLERY__V1__DTYPE__DTYPE_U8,
        ].map(\.rawValue))
        #expect(DType.allCases.map(\.byteWidth) == [4, 2, 4, 8, 1])
        #expect(Role.allCases.map(\.rawValue) == [DISTILLERY__V1__ROLE__ROLE_TEACHER, DISTILLERY__V1__ROLE__ROLE_STUDENT]
            .map(\.rawValue))
        #expect(NodeState.left.rawValue == DISTILLERY__V1__NODE_STATE__NODE_STATE_LEFT.rawValue)
        #expect(RunState.allCases.count == 9)
        #expect(RunState.interrupted.rawValue == DISTILLERY__V1__RUN_STATE__RUN_STATE_INTERRUPTED.rawValue)
        #expect(RunState.allCases.filter(\.isTerminal) == [.completed, .failed, .cancelled, .interrupted])
        #expect(TaskState.failed.rawValue == DISTILLERY__V1__TASK_STATE__TASK_STATE_FAILED.rawValue)
        #expect(RingPhase.allGather.rawValue == DISTILLERY__V1__RING_PHASE__RING_PHASE_ALL_GATHER.rawValue)
        #expect(RingPhase.exchange.rawValue == DISTILLERY__V1__RING_PHASE__RING_PHASE_EXCHANGE.rawValue)
        #expect(ErrorCode.allCases.map(\.rawValue) == Array(1...8))
        #expect(ErrorCode.internal.rawValue == DISTILLERY__V1__ERROR_CODE__ERROR_INTERNAL.rawValue)
    }

    @Test func tensorMetaComputesByteLength() {
        #expect(TensorMeta(name: "x", dtype: .f32, shape: [4, 10]).byteLength == 160)
        #expect(TensorMeta(name: "x", dtype: .i64, shape: []).byteLength == 8)
        #expect(TensorMeta(name: "x", dtype: .f16, shape: [1 << 40, 0, 1 << 40]).byteLength == 0)
        #expect(TensorMeta(name: "x", dtype: .u8, shape: [1 << 32, 1 << 32]).byteLength == .max)
    }
}
