import ClusterCore
import ClusterRuntime
import DistilleryTestKit
import Foundation
import Testing
import Wire

/// A run is completed only when the coordinator stored what it must keep: here its artifacts
/// directory cannot be created (a file stands in its place, which stops root as well as anyone),
/// so every upload is refused, and the run ends failed with the reason, naming the student's
/// file, instead of "completed" with files missing.
@Suite struct ResultStorageTests {
    @Test func aRunWhoseStudentCannotBeStoredFailsWithTheReason() async throws {
        let (cluster, npz) = try await BringYourOwnRunTests.rowsCluster(train: 200, test: 60)
        try Data("not a directory".utf8).write(to: URL(fileURLWithPath: cluster.stateDir + "/artifacts"))
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
        #expect(run.reason.contains("could not store") && run.reason.contains("student.safetensors"), "\(run.reason)")
        let events = try cluster.store.events(runID: r.runID, limit: 200).map(\.message)
        #expect(events.contains { $0.contains("could not store student.safetensors") }, "\(events)")
    }
}
