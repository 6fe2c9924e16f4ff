import ClusterCore
import ClusterRuntime
import DataPlane
import Foundation
import NN
import Synchronization
import Testing
import Wire

/// A teacher lost in epoch 0 after it sent a step's logits to one replica but not to the
/// others: that replica waits in its ring for the others, which wait for the teacher. The
/// teacher placed again streams a step only once every replica granted it credits, so the
/// replica waiting in its ring must follow the new teacher from there too (RingWatch.idle);
/// before it did, the run failed 30 s later ("no logits … from teacher(s) 1"), as
/// ElasticProcessTests' teacher kill did under load.
@Suite struct TeacherReplacementTests {
    @Test func aTeacherLostBetweenTwoReplicasOfOneStepIsPlacedAgainAndTheStudentIsBitIdentical() async throws {
        let reference = try await ElasticRunTests.run(kill: nil)
        #expect(reference.phase == .completed)
        let (cluster, data) = try await EmbeddedCluster.withSyntheticData(teachers: ["t1", "t2"], students: ["s1", "s2", "s3"])
        // t2 sends replica slot 0 its logits of step 3, then nothing more: slot 0 trains step 3
        // and waits for its ring; slots 1 and 2 wait for t2's logits.
        let cut = Mutex(false)
        cluster.network.hold(from: "t2") { message in
            if cut.withLock({ $0 }) { return true }
            guard case .logitsBatch(let b) = message.envelope.body, b.epoch == 0, b.step >= 3, b.replica == 1 else { return false }
            cut.withLock { $0 = true }
            return true
        }
        let reply = try await cluster.request(.submitRun(SubmitRun(specYaml: ElasticRunTests.spec(dataset: data), fileName: "t.yaml")))
        guard case .submitRunReply(let submitted) = reply, submitted.accepted else { throw TestFailure("refused: \(reply)") }
        let run = submitted.runID
        await cluster.pump(until: { cut.withLock { $0 } })
        cluster.frozen = ["t2"]
        await cluster.advance(.seconds(6))  // past the dead window: t2's teacher goes to t1
        await cluster.pump(until: { await cluster.phase(of: run)?.isTerminal == true }, timeout: .seconds(120))
        let events = try await cluster.events(run: run)
        #expect(await cluster.phase(of: run) == .completed, "\(events.joined(separator: "\n"))")
        #expect(events.contains { $0.contains("(lost with t2) re-placed on t1") }, "\(events)")
        let student = try cluster.studentParameters(run: run)
        #expect(!student.isEmpty && student == reference.student, "bit-identical to the fault-free run")
    }
}
