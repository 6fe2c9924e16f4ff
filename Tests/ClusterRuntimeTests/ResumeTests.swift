import ClusterCore
import ClusterRuntime
import DataPlane
import Foundation
import NN
import Synchronization
import Testing
import Wire

/// Everything lost at once (issue 16 §5): rank 0 sends the coordinator a resume checkpoint
/// every `elastic.checkpoint-every` steps; when every student worker is gone the run fails,
/// and `SubmitRun{resume_run_id}` (`distillery resume RUN`) starts a new run whose replicas
/// load the last checkpoint and train on from its step — replaying nothing, so the student is
/// the uninterrupted run's, bit for bit.
@Suite struct ResumeTests {
    static let epochs = 6

    static func spec(_ data: String, mode: String = "offline") -> String {
        ElasticRunTests.spec(dataset: data, epochs: epochs, replicas: 2, mode: mode) + "\nelastic: { checkpoint-every: 5 }\n"
    }

    /// A cluster with teachers t1, t2 and students s1, s2, and the synthetic data set.
    static func cluster() async throws -> (EmbeddedCluster, String) {
        try await EmbeddedCluster.withSyntheticData(teachers: ["t1", "t2"], students: ["s1", "s2"])
    }

    static func submit(_ cluster: EmbeddedCluster, _ message: SubmitRun) async throws -> SubmitRunReply {
        guard case .submitRunReply(let reply) = try await cluster.request(.submitRun(message)) else {
            throw TestFailure("no SubmitRunReply")
        }
        return reply
    }

    /// The fault-free run's student.
    static func reference(mode: String = "offline") async throws -> [Float] {
        let (cluster, data) = try await cluster()
        let reply = try await submit(cluster, SubmitRun(specYaml: spec(data, mode: mode), fileName: "resume.yaml"))
        await cluster.pump(until: { await cluster.phase(of: reply.runID)?.isTerminal == true }, timeout: .seconds(120))
        #expect(await cluster.phase(of: reply.runID) == .completed)
        let events = try await cluster.events(run: reply.runID)
        #expect(events.filter { $0.hasPrefix("resume checkpoint at step ") }.count == 10, "steps 5, 10, …, 50 of 54: \(events)")
        return try cluster.studentParameters(run: reply.runID)
    }

    /// Both student workers are cut off (a power cut) right after s1 (rank 0) sent its
    /// `checkpoints`-th resume checkpoint (step 5 · checkpoints; it trains on a little meanwhile,
    /// which is lost): the run fails; two new student workers come and the run is resumed. With
    /// `restart`, the coordinator is replaced while the resumed run distils (its resume point
    /// is part of the run's stored state). An online run's teachers, placed on the resumed
    /// run's workers, first train again through the steps before the checkpoint (with a mutual
    /// term, together, on each other's logits of those steps).
    @Test(arguments: [(checkpoints: 1, step: UInt64(5), restart: false, mode: "offline"),
                      (checkpoints: 3, step: 15, restart: true, mode: "offline"),
                      (checkpoints: 4, step: 20, restart: false, mode: "online"),
                      (checkpoints: 2, step: 10, restart: false, mode: "online, mutual: 0.5")])
    func aRunResumedFromItsLastCheckpointEndsWithTheUninterruptedStudent(checkpoints: Int, step checkpoint: UInt64,
                                                                         restart: Bool, mode: String) async throws {
        let reference = try await Self.reference(mode: mode)
        let (cluster, data) = try await Self.cluster()
        let first = try await Self.submit(cluster, SubmitRun(specYaml: Self.spec(data, mode: mode), fileName: "resume.yaml"))
        let cut = Mutex(false)
        let sent = Mutex(0)
        for node in ["s1", "s2"] {
            cluster.network.hold(from: node) { message in
                if cut.withLock({ $0 }) { return true }
                if node == "s1", case .artifactChunk(let chunk) = message.envelope.body, chunk.name == "checkpoint.safetensors",
                   chunk.last, sent.withLock({ $0 += 1; return $0 }) == checkpoints {
                    cut.withLock { $0 = true }  // this last chunk still goes out
                }
                return false
            }
        }
        await cluster.pump(until: { cut.withLock { $0 } }, timeout: .seconds(120))
        // A run in flight is not resumed.
        let early = try await Self.submit(cluster, SubmitRun(resumeRunID: first.runID))
        #expect(!early.accepted && early.errors.first?.message.contains("has not ended") == true, "\(early)")
        cluster.frozen = ["s1", "s2"]
        await cluster.advance(.seconds(8))  // past the dead window: both replicas are lost
        await cluster.pump(until: { await cluster.phase(of: first.runID)?.isTerminal == true })
        #expect(await cluster.phase(of: first.runID) == .failed)

        for name in ["s3", "s4"] { try await cluster.addWorker(name, roles: [.student]) }
        await cluster.pump()
        let resumed = try await Self.submit(cluster, SubmitRun(idempotencyKey: "k1", resumeRunID: first.runID))
        let firstEvents = try await cluster.events(run: first.runID)
        #expect(resumed.accepted && resumed.resumeStep == checkpoint, "\(resumed) \(firstEvents)")
        if restart {
            await cluster.pump(until: { await cluster.phase(of: resumed.runID) == .distilling }, timeout: .seconds(120))
            try await cluster.restartCoordinator()
            await cluster.advance(.seconds(7))  // the workers notice the silence, register again and report the run
        }
        await cluster.pump(until: { await cluster.phase(of: resumed.runID)?.isTerminal == true }, timeout: .seconds(120))
        let events = try await cluster.events(run: resumed.runID)
        #expect(await cluster.phase(of: resumed.runID) == .completed, "\(events.joined(separator: "\n"))")
        #expect(events.contains { $0.hasPrefix("resumes run \(first.runID) from its checkpoint at step \(checkpoint) of 54")
                && $0.hasSuffix("(online teachers first train again through the steps before it)") == mode.hasPrefix("online") },
                "\(events)")
        #expect(!restart || events.contains { $0.hasPrefix("the coordinator restarted while the run was distilling") })
        // It trained on from the checkpoint: its own first checkpoint is the next one after it. With
        // the restart, it trained on through the coordinator's gap (how far depends on the
        // threads' pace): the checkpoints sent meanwhile are kept by s3 until it registers again,
        // or taken from it before; the last one (step 50) is stored either way.
        let stored = events.filter { $0.hasPrefix("resume checkpoint at step ") }
        if restart {
            #expect(stored.last?.hasPrefix("resume checkpoint at step 50 ") == true, "\(stored)")
            #expect(!stored.contains { $0.hasPrefix("resume checkpoint at step \(checkpoint) ") }, "\(stored)")
        } else {
            #expect(stored.first?.hasPrefix("resume checkpoint at step \(checkpoint + 5) ") == true, "\(stored)")
        }
        let student = try cluster.studentParameters(run: resumed.runID)
        #expect(!student.isEmpty && student == reference, "bit-identical to the uninterrupted run")
        // The ended run says where it went on; a retry of the same resumption creates nothing new.
        #expect(try await cluster.events(run: first.runID).contains("resumed as \(resumed.runID) from its checkpoint at step \(checkpoint)"))
        let retry = try await Self.submit(cluster, SubmitRun(idempotencyKey: "k1", resumeRunID: first.runID))
        #expect(retry.accepted && retry.duplicate && retry.runID == resumed.runID)
    }

    @Test func resumingARunThatDoesNotExistOrCompletedIsRefusedSayingWhy() async throws {
        let (cluster, data) = try await Self.cluster()
        let unknown = try await Self.submit(cluster, SubmitRun(resumeRunID: "run-99"))
        #expect(!unknown.accepted && unknown.errors == [FieldError(field: "resume_run_id",
                                                                     message: "there is no run 'run-99' (`distillery runs` lists them)")])
        let done = try await Self.submit(cluster, SubmitRun(specYaml: ElasticRunTests.spec(dataset: data, epochs: 1, replicas: 2),
                                                            fileName: "done.yaml"))
        await cluster.pump(until: { await cluster.phase(of: done.runID)?.isTerminal == true }, timeout: .seconds(120))
        let completed = try await Self.submit(cluster, SubmitRun(resumeRunID: done.runID))
        #expect(!completed.accepted && completed.errors.first?.message
            == "run \(done.runID) completed; its student is stored (`distillery report \(done.runID)`): nothing to resume")
    }
}
