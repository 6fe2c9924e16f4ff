import ClusterCore
import ClusterRuntime
import DataPlane
import Foundation
import NN
import Synchronization
import Testing
import Wire

/// The coordinator is lost mid-run and a new one starts on its state directory: the workers
/// keep training, register again and report the run; the new coordinator takes the run back
/// from its database and the run completes as if nothing had happened — the student
/// bit-identical to the fault-free run's. A run none of its workers reports within the grace
/// window is interrupted.
@Suite struct CoordinatorRestartTests {
    enum Moment: String, CaseIterable {
        /// While the teachers train: they finish and upload while the coordinator is away.
        case preparingTeachers
        /// While the replicas distil, after a few steps.
        case distilling
    }

    /// Runs the spec on t1, t2 (teachers) and s1, s2 (students); with `restartAt`, the
    /// coordinator is replaced by a new one at that moment, and `lost` (if any) never comes back.
    static func run(restartAt: Moment?, lost: String? = nil, epochs: Int = 6)
        async throws -> (phase: RunPhase?, reason: String, events: [String], student: [Float]) {
        let (cluster, data) = try await EmbeddedCluster.withSyntheticData(teachers: ["t1", "t2"], students: ["s1", "s2"])
        let reply = try await cluster.request(.submitRun(SubmitRun(specYaml: ElasticRunTests.spec(dataset: data, epochs: epochs, replicas: 2), fileName: "restart.yaml")))
        guard case .submitRunReply(let submitted) = reply, submitted.accepted else { throw TestFailure("refused: \(reply)") }
        let run = submitted.runID
        if let restartAt {
            // The moment is pinned: t1's trained teacher (its upload and completion), or s1's
            // gradients from step 10 on, are held back until the coordinator is replaced.
            let held = Mutex(false)
            let node = restartAt == .preparingTeachers ? "t1" : "s1"
            cluster.network.hold(from: node) { message in
                switch message.envelope.body {
                case .artifactChunk where restartAt == .preparingTeachers: break
                case .taskStatus(let status) where restartAt == .preparingTeachers && status.state == .completed: break
                case .gradientChunk(let g) where restartAt == .distilling && g.step >= 10 && g.step < 1 << 61: break
                default: return false
                }
                held.withLock { $0 = true }
                return true
            }
            await cluster.pump(until: {
                if held.withLock({ $0 }) { return true }
                return await cluster.phase(of: run)?.isTerminal == true
            })
            let before = await cluster.phase(of: run)
            try await cluster.restartCoordinator()
            // What was held arrives at the new coordinator before t1 or s1 registered again.
            await cluster.network.release(from: node)
            #expect(await cluster.phase(of: run) == before, "taken back, not interrupted")
            #expect(before == restartAt.phase, "the moment was missed: the run was \(before.map { "\($0)" } ?? "?")")
            if let lost {
                // Gone with the coordinator: nothing it sends arrives, its control loop stops.
                cluster.network.hold(from: lost) { _ in true }
                cluster.frozen = [lost]
            }
            // The workers notice the silence (5 s), register again and report the run.
            await cluster.advance(.seconds(7))
        }
        await cluster.pump(until: { await cluster.phase(of: run)?.isTerminal == true }, timeout: .seconds(120))
        if let lost, await cluster.phase(of: run)?.isTerminal != true {
            // The grace (60 s) passes without `lost`.
            await cluster.advance(.seconds(60), step: .seconds(1))
            await cluster.pump(until: { await cluster.phase(of: run)?.isTerminal == true }, timeout: .seconds(120))
        }
        let events = try await cluster.events(run: run)
        let record = try cluster.store.run(id: run)
        return (await cluster.phase(of: run), record?.reason ?? "", events, try cluster.studentParameters(run: run))
    }

    @Test(arguments: Moment.allCases)
    func aRunGoesOnAfterACoordinatorRestartWithTheSameStudent(moment: Moment) async throws {
        let reference = try await Self.run(restartAt: nil)
        #expect(reference.phase == .completed, "\(reference.reason)")
        let restarted = try await Self.run(restartAt: moment)
        #expect(restarted.phase == .completed, "\(restarted.reason) \(restarted.events.joined(separator: "\n"))")
        #expect(restarted.events.contains { $0.hasPrefix("the coordinator restarted while the run was \(moment.phase.rawValue)") },
                "\(restarted.events)")
        #expect(restarted.events.contains { $0.hasPrefix("goes on after the coordinator's restart: ") }, "\(restarted.events)")
        #expect(!restarted.student.isEmpty && restarted.student == reference.student, "bit-identical to the fault-free run")
    }

    /// A student worker that never comes back is lost to the run once the grace has passed: the
    /// offline run goes on with the other replica, and the student is the fault-free one within
    /// the order of sums.
    @Test func aWorkerThatDoesNotComeBackIsLostToTheRunAfterTheGrace() async throws {
        let reference = try await Self.run(restartAt: nil, epochs: 40)
        let restarted = try await Self.run(restartAt: .distilling, lost: "s2", epochs: 40)
        #expect(restarted.phase == .completed, "\(restarted.reason) \(restarted.events.joined(separator: "\n"))")
        #expect(restarted.events.contains { $0.hasPrefix("s2 did not report the run within") }, "\(restarted.events)")
        let diff = zip(restarted.student, reference.student).map { abs($0 - $1) }.max() ?? .infinity
        #expect(!restarted.student.isEmpty && diff <= 1e-5, "\(diff)")
    }
}

extension CoordinatorRestartTests.Moment {
    var phase: RunPhase { self == .preparingTeachers ? .preparingTeachers : .distilling }
}
