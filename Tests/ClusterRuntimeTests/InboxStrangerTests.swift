import DataPlane
import DistilleryTestKit
import Foundation
import Testing
import Transport
import Wire

/// What strangers send to a worker's data endpoint (docs/PROTOCOL.md "Security"): logits only
/// from the run's teachers' keys, credits and gradient chunks only from its replicas', and
/// messages for runs that have not started here kept in one buffer bounded in bytes and time.
@Suite struct InboxStrangerTests {
    static let teacher = "teacher-key", replica = "replica-key", stranger = "stranger-key"

    static func logits(run: String = "run-1", bytes: Int = 24) -> Message {
        Message(Envelope(sender: "\(run)/teacher-0", tensors: [TensorMeta(name: "logits", dtype: .f32, shape: [2, UInt64(bytes / 8)])],
                         body: .logitsBatch(LogitsBatch(runID: run, replica: 0, teacher: 0, sampleEnd: 2))),
                frames: [Frame(bytes: [UInt8](repeating: 1, count: bytes))])
    }

    static let assignment = AssignTask(runID: "run-1", taskID: "run-1/student-0", runSpecYaml: "x",
                                       task: .student(StudentTask(rank: 0, replicas: 1)),
                                       peerKeys: [PeerKey(endpoint: "mem://t", publicKey: teacher, teacher: true),
                                                  PeerKey(endpoint: "mem://s", publicKey: replica, student: true)])

    @Test func aReplicaTakesLogitsOnlyFromItsRunsTeachers() async throws {
        let clock = ManualClock(startMs: 0)
        let listener = try await InMemoryNetwork().transport(name: "w").listen(at: "mem://w-data")
        let inbox = DataInbox(listener: listener, clock: clock)
        // A stranger's poisoned logits arrive first (run ids are easy to guess; the first
        // message for a step used to win): they wait, as the run has not started here.
        #expect(inbox.deliver(Self.logits(), from: Self.stranger))
        inbox.allow(DataInbox.senders(of: Self.assignment), run: "run-1")
        inbox.open(run: "run-1")
        #expect(inbox.admittedKeys == [Self.teacher, Self.replica])
        // The teacher's arrive; only they reach the replica.
        #expect(inbox.deliver(Self.logits(), from: Self.teacher))
        let queue = inbox.logitsQueue(run: "run-1")
        #expect(queue.poll() != nil)
        #expect(queue.poll() == nil, "the stranger's logits were queued")
        // A replica's key may not send logits either; both waits end after 60 s.
        #expect(inbox.deliver(Self.logits(), from: Self.replica))
        #expect(queue.poll() == nil)
        clock.advance(by: .seconds(61))
        inbox.expirePending()
        #expect(inbox.pendingBytes == 0)
        #expect(inbox.drops["not-a-sender"] == 2, "\(inbox.drops)")
        // Gradient chunks: from replicas only.
        let chunk = Message(Envelope(sender: "x", tensors: [TensorMeta(name: "g", dtype: .f32, shape: [1])],
                                     body: .gradientChunk(GradientChunk(runID: "run-1", step: 0, chunk: 0))),
                            frames: [Frame(bytes: [0, 0, 0, 0])])
        #expect(inbox.deliver(chunk, from: Self.replica))
        #expect(inbox.deliver(chunk, from: Self.teacher))
        let gradients = inbox.gradientSource(run: "run-1")
        #expect(try await gradients.nextChunk(timeout: .zero) != nil)
        #expect(try await gradients.nextChunk(timeout: .zero) == nil)
    }

    @Test func aSenderAdmittedLaterHasItsMessagesQueuedInTheirOrder() async throws {
        let listener = try await InMemoryNetwork().transport(name: "w").listen(at: "mem://w-data")
        let inbox = DataInbox(listener: listener)
        inbox.open(run: "run-1")
        // A teacher placed again streams before this replica's repeated assignment names it.
        for step in 0..<3 {
            var m = Self.logits()
            if case .logitsBatch(var b) = m.envelope.body { b.sampleBegin = UInt64(step * 2); b.sampleEnd = UInt64(step * 2 + 2); m.envelope.body = .logitsBatch(b) }
            #expect(inbox.deliver(m, from: Self.teacher))
        }
        #expect(inbox.logitsQueue(run: "run-1").poll() == nil)
        inbox.allow(DataInbox.senders(of: Self.assignment), run: "run-1")
        let queue = inbox.logitsQueue(run: "run-1")
        #expect((0..<3).map { _ in queue.poll()?.batch.sampleBegin } == [0, 2, 4])
    }

    @Test func messagesForRunsThatDoNotExistCostABoundedAmountOfMemory() async throws {
        let listener = try await InMemoryNetwork().transport(name: "w").listen(at: "mem://w-data")
        let inbox = DataInbox(listener: listener, pendingLimit: 8 << 20)
        // 40 messages of 1 MiB, each for another run nobody started (1.05 GiB grew a worker once).
        var kept = 0
        for i in 0..<40 where inbox.deliver(Self.logits(run: "run-\(1000 + i)", bytes: 1 << 20)) { kept += 1 }
        #expect(kept == 7, "\(kept) kept")
        #expect(inbox.pendingBytes <= 8 << 20)
        #expect(inbox.drops["pending-full"] == 33, "\(inbox.drops)")
        #expect(inbox.drops["LogitsBatch"] == 33)
        // A run that starts takes its own; the others stay bounded until they expire.
        inbox.open(run: "run-1000")
        #expect(inbox.logitsQueue(run: "run-1000").poll() != nil)
        #expect(inbox.pendingBytes < 7 << 20)
    }
}
