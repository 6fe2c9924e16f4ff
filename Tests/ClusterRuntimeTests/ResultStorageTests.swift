import ClusterCore
import ClusterRuntime
import DistilleryTestKit
import Foundation
import Testing
import Wire

/// A run is completed only when the coordinator stored what it must keep: here its artifacts
/// directory cannot be created (a file stands in its place, which stops root as well as anyone),
/// so every upload is refused. The trained teacher's worker and rank 0 keep their files and send
/// them again (bounded): the run completes once the directory can be written, or ends failed
/// with the reason, naming the first file it needed and where it is kept, instead of
/// "completed" with files missing.
@Suite struct ResultStorageTests {
    static let spec = """
        name: unstored
        dataset: { format: npz, path: NPZ, validation: 40 }
        teachers:
          - { model: mlp:54-16-7, train: { epochs: 2, batch: 40 } }
        student: { model: mlp:54-8-7 }
        training: { epochs: 2, batch: 40 }

        """

    @Test func aRunWhoseResultsCannotBeStoredFailsWithTheReason() async throws {
        let (cluster, npz) = try await BringYourOwnRunTests.rowsCluster(train: 200, test: 60)
        try Data("not a directory".utf8).write(to: URL(fileURLWithPath: cluster.stateDir + "/artifacts"))
        cluster.workerUploadWait = .seconds(3)
        try await cluster.addWorker("t1", roles: [.teacher])
        try await cluster.addWorker("s1", roles: [.student])
        await cluster.pump()
        let r = try await BringYourOwnRunTests().submit(cluster, """
            name: unstored
            dataset: { format: npz, path: \(npz), validation: 40 }
            teachers:
              - { model: mlp:54-16-7, train: { epochs: 2, batch: 40 } }
            student: { model: mlp:54-8-7 }
            training: { epochs: 2, batch: 40 }

            """)
        try #require(r.accepted, "\(r.errors)")
        await cluster.pump(until: { await cluster.phase(of: r.runID)?.isTerminal == true })
        #expect(await cluster.phase(of: r.runID) == .failed)
        let run = try #require(try cluster.store.run(id: r.runID))
        #expect(run.reason.contains("teacher-0.safetensors was not stored within 3.0 s (the coordinator refused it: could not write")
                && run.reason.contains("the teacher is kept at"), "\(run.reason)")
        let events = try cluster.store.events(runID: r.runID, limit: 200).map(\.message)
        #expect(events.contains { $0.contains("could not store teacher-0.safetensors") }, "\(events)")
    }

    /// Only the student's file cannot be written at first (a directory stands at its path), and
    /// is freed while rank 0 retries: the student is stored and the run completes.
    @Test func aStudentRefusedOnceIsSentAgainAndTheRunCompletes() async throws {
        let (cluster, npz) = try await BringYourOwnRunTests.rowsCluster(train: 200, test: 60)
        try await cluster.addWorker("t1", roles: [.teacher])
        try await cluster.addWorker("s1", roles: [.student])
        await cluster.pump()
        let r = try await BringYourOwnRunTests().submit(cluster, Self.spec.replacingOccurrences(of: "NPZ", with: npz))
        try #require(r.accepted, "\(r.errors)")
        // Long before the student is distilled (the teacher trains first).
        let blocker = URL(fileURLWithPath: cluster.stateDir + "/artifacts/\(r.runID)/student.safetensors")
        try FileManager.default.createDirectory(at: blocker.appendingPathComponent("in-the-way"), withIntermediateDirectories: true)
        await cluster.pump(until: {
            ((try? cluster.store.events(runID: r.runID, limit: 200)) ?? []).contains { $0.message.contains("could not store student.safetensors") }
        })
        try FileManager.default.removeItem(at: blocker)  // the operator makes room
        await cluster.pump(until: { await cluster.phase(of: r.runID)?.isTerminal == true })
        let run = try #require(try cluster.store.run(id: r.runID))
        #expect(await cluster.phase(of: r.runID) == .completed, "\(run.reason)")
        #expect(try cluster.store.artifacts(runID: r.runID).contains { $0.name == "student.safetensors" })
    }

    /// Online runs: the teacher's final checkpoint (what it became) may reach the coordinator
    /// after the student's last replica completes. The completion is held until it is stored;
    /// when it never comes, the run fails after the wait, naming it.
    @Test(arguments: [false, true])
    func anOnlineRunCompletesOnlyWithItsTeachersFinalCheckpoints(neverArrives: Bool) async throws {
        let (cluster, npz) = try await BringYourOwnRunTests.rowsCluster(train: 200, test: 60)
        try await cluster.addWorker("t1", roles: [.teacher])
        try await cluster.addWorker("s1", roles: [.student])
        await cluster.pump()
        // Hold t1's final checkpoint until the student has completed.
        cluster.network.hold(from: "t1") { message in
            if case .artifactChunk(let a) = message.envelope.body { return a.name == "teacher-0-online.safetensors" }
            return false
        }
        let r = try await BringYourOwnRunTests().submit(cluster, Self.spec.replacingOccurrences(of: "NPZ", with: npz)
            .replacingOccurrences(of: "training: { epochs: 2, batch: 40 }", with: "training: { epochs: 2, batch: 40 }\ndistillation: { mode: online }"))
        try #require(r.accepted, "\(r.errors)")
        func events() -> [String] { ((try? cluster.store.events(runID: r.runID, limit: 400)) ?? []).map(\.message) }
        await cluster.pump(until: { events().contains { $0.hasPrefix("the student is distilled; the run completes once teacher-0-online.safetensors is stored") } })
        #expect(await cluster.phase(of: r.runID) == .distilling, "held: \(events())")
        if neverArrives {
            await cluster.advance(.seconds(61), step: .seconds(1))
            let run = try #require(try cluster.store.run(id: r.runID))
            #expect(await cluster.phase(of: r.runID) == .failed)
            #expect(run.reason.hasPrefix("the student was distilled, but teacher-0-online.safetensors (what the online teachers became) "
                + "was not stored within 60.0 s"), "\(run.reason)")
        } else {
            await cluster.network.release(from: "t1")
            await cluster.pump(until: { await cluster.phase(of: r.runID)?.isTerminal == true })
            let run = try #require(try cluster.store.run(id: r.runID))
            #expect(await cluster.phase(of: r.runID) == .completed, "\(run.reason)")
            #expect(try cluster.store.artifacts(runID: r.runID).contains { $0.name == "teacher-0-online.safetensors" })
        }
    }
}
