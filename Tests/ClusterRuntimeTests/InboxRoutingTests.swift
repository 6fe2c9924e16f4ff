import DataPlane
import Distillation
import DistilleryTestKit
import Testing
import Transport
import Wire

/// Each logits message means one thing (docs/PROTOCOL.md "Logits stream"): step logits, a
/// teacher's test-split logits and a teacher's logits for another teacher arrive as three
/// message kinds, and the data inbox keeps each kind in queues of its own, so a stray message
/// of one kind can never be taken for another.
@Suite struct InboxRoutingTests {
    static let logits = [TensorMeta(name: "logits", dtype: .f32, shape: [2, 3])]
    static let frame = Frame(bytes: [UInt8](repeating: 0, count: 24))

    static func step(replica: UInt32 = 0) -> Message {
        Message(Envelope(sender: "run-1/teacher-0", tensors: logits,
                         body: .logitsBatch(LogitsBatch(runID: "run-1", replica: replica, teacher: 0, sampleEnd: 2))),
                frames: [frame])
    }

    static let testSplit = Message(Envelope(sender: "run-1/teacher-1", tensors: logits,
                                            body: .testSplitLogits(TestSplitLogits(runID: "run-1", teacher: 1, sampleCount: 2))),
                                   frames: [frame])

    static func peer(from: UInt32, to: UInt32) -> Message {
        Message(Envelope(sender: "run-1/teacher-\(from)", tensors: logits,
                         body: .peerTeacherLogits(PeerTeacherLogits(runID: "run-1", fromTeacher: from, toTeacher: to,
                                                                    sampleEnd: 2))),
                frames: [frame])
    }

    @Test func eachLogitsKindLandsInItsOwnQueueOnly() async throws {
        let inbox = try await InMemoryNetworkHarness().inbox()
        #expect(inbox.deliver(Self.peer(from: 0, to: 1)))
        #expect(inbox.deliver(Self.testSplit))
        #expect(inbox.deliver(Self.step()))

        let steps = inbox.logitsQueue(run: "run-1")
        #expect(steps.poll()?.batch.teacher == 0)
        #expect(steps.poll() == nil, "neither the test split nor the peer logits are step logits")

        let tests = inbox.testSplitQueue(run: "run-1")
        #expect(tests.poll()?.logits == TestSplitLogits(runID: "run-1", teacher: 1, sampleCount: 2))
        #expect(tests.poll() == nil)

        let forTeacher1 = inbox.peerLogitsQueue(run: "run-1", teacher: 1)
        let forTeacher0 = inbox.peerLogitsQueue(run: "run-1", teacher: 0)
        #expect(forTeacher1.poll()?.logits.fromTeacher == 0)
        #expect(forTeacher1.poll() == nil)
        #expect(forTeacher0.poll() == nil, "addressed to teacher 1, not to its sender")
        #expect(inbox.creditQueue(run: "run-1", teacher: 1).poll() == nil)
        #expect(inbox.drops.isEmpty, "\(inbox.drops)")
    }

    @Test func messageKindsHaveDistinctKeys() {
        #expect(InboxKey(of: Self.step())?.stream == .stepLogits)
        #expect(InboxKey(of: Self.step(replica: 3))?.stream == .stepLogits)
        #expect(InboxKey(of: Self.testSplit)?.stream == .testSplitLogits)
        #expect(InboxKey(of: Self.peer(from: 2, to: 0))?.stream == .peerLogits(teacher: 0))
        #expect(InboxKey(of: Message(Envelope(body: .heartbeat(Heartbeat())))) == nil)
    }

    /// A sender that still sets LogitsBatch's retired fields 10–12 (`test_split`, `to_teacher`,
    /// `to_teacher_index`, now `reserved`): they are unknown fields, ignored, so its message is
    /// step logits like any other and never reaches the test-split or peer queues.
    @Test func aLogitsBatchWithTheRetiredFlagsIsStepLogits() async throws {
        var meta = ProtoWriter()
        meta.string(1, "logits")
        meta.uint(2, 1)  // DTYPE_F32
        var shape = ProtoWriter()
        shape.varint(2)
        shape.varint(3)
        meta.lengthDelimited(3, shape.bytes)
        meta.uint(4, 24)
        var w = ProtoWriter()
        w.uint(1, 1)
        w.string(2, "old-teacher")
        w.uint(3, 9)
        w.lengthDelimited(5, meta.bytes)
        w.message(50) { b in
            b.string(1, "run-1")
            b.uint(5, 1)   // teacher
            b.uint(7, 2)   // sample_end
            b.uint(8, 1)   // dtype f32
            b.uint(10, 1)  // test_split (retired)
            b.uint(11, 1)  // to_teacher (retired)
            b.uint(12, 0)  // to_teacher_index (retired)
        }
        let message = try WireCodec.decode([Frame(bytes: w.bytes), Self.frame])
        #expect(message.envelope.body == .logitsBatch(LogitsBatch(runID: "run-1", teacher: 1, sampleEnd: 2, dtype: .f32)))

        let inbox = try await InMemoryNetworkHarness().inbox()
        #expect(inbox.deliver(message))
        #expect(inbox.logitsQueue(run: "run-1").poll()?.batch.teacher == 1)
        #expect(inbox.testSplitQueue(run: "run-1").poll() == nil)
        #expect(inbox.peerLogitsQueue(run: "run-1", teacher: 0).poll() == nil)
    }
}

/// `LogitsStream` builds the test-split and peer messages and checks them on arrival, through
/// the inbox's queues for their kinds.
@Suite struct LogitsStreamMessagesTests {
    let stream = LogitsStream(runID: "run-1", classes: 3, codec: LogitsCodec(classes: 3))
    let logits: [Float] = [1, 2, 3, 4, 5, 6]

    @Test func testSplitLogitsGoToReplica0AndAreCheckedAgainstTheTestSplit() async throws {
        let inbox = try await InMemoryNetworkHarness().inbox()
        let message = stream.testSplitLogits(teacher: 1, logits: logits, samples: 2)
        #expect(try WireCodec.decode(WireCodec.encode(message)) == message, "valid on the wire")
        #expect(inbox.deliver(message))
        let arrived = try #require(inbox.testSplitQueue(run: "run-1").poll())
        #expect(try stream.testSplitLogits(arrived, samples: 2) == logits)
        let wrong = try #require(throws: DataPlaneError.self) { try stream.testSplitLogits(arrived, samples: 3) }
        #expect("\(wrong)".contains("teacher 1 sent 2 samples, expected the test split's 3"), "\(wrong)")
    }

    @Test func peerLogitsGoToTheAddressedTeacherAndAreCheckedAgainstItsBatch() async throws {
        let inbox = try await InMemoryNetworkHarness().inbox()
        let batch = [5, 6, 7, 8, 9][2..<4]
        let message = stream.peerLogits(teacher: 0, peer: 2, epoch: 1, step: 4, part: batch, logits: logits)
        #expect(try WireCodec.decode(WireCodec.encode(message)) == message, "valid on the wire")
        #expect(inbox.deliver(message))
        #expect(inbox.peerLogitsQueue(run: "run-1", teacher: 0).poll() == nil)
        let arrived = try #require(inbox.peerLogitsQueue(run: "run-1", teacher: 2).poll())
        #expect(arrived.logits == PeerTeacherLogits(runID: "run-1", epoch: 1, step: 4, fromTeacher: 0, toTeacher: 2,
                                                    sampleBegin: 2, sampleEnd: 4))
        #expect(try stream.peerLogits(arrived, part: batch, what: "peer") == logits)
        let other = [5, 6, 7, 8, 9][1..<3]
        let wrong = try #require(throws: DataPlaneError.self) { try stream.peerLogits(arrived, part: other, what: "peer") }
        #expect("\(wrong)".contains("teacher 0 sent samples [2, 4), expected [1, 3)"), "\(wrong)")
    }
}
