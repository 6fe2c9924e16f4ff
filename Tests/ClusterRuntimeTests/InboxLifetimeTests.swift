import ClusterCore
import ClusterRuntime
import DataPlane
import Datasets
import Foundation
import Testing
import Transport
import Wire

/// A run's data-plane queues live as long as its tasks on the worker: 20 runs one after the
/// other on one worker leave nothing of the earlier ones held (DataInbox "Lifetime").
@Suite struct InboxLifetimeTests {
    @Test func twentyRunsOnOneWorkerLeaveNoQueuesBehind() async throws {
        let cluster = try await EmbeddedCluster()
        let data = cluster.stateDir + "/data"
        try SyntheticFashion.write(to: data, train: 300, test: 100)
        try await cluster.addWorker("w1", roles: [.teacher, .student])
        await cluster.pump()
        let inbox = try #require(cluster.workers["w1"]?.inbox)
        var runs: [String] = []
        for i in 0..<20 {
            let yaml = RunsOverTransportTests.spec(dataset: data, teachers: 1, replicas: 1)
            let reply = try await cluster.request(.submitRun(SubmitRun(specYaml: yaml, fileName: "run-\(i).yaml")))
            guard case .submitRunReply(let submitted) = reply, submitted.accepted else {
                Issue.record("run \(i) was not accepted: \(reply)")
                return
            }
            runs.append(submitted.runID)
            await cluster.pump(until: { await cluster.phase(of: submitted.runID)?.isTerminal == true })
            #expect(await cluster.phase(of: submitted.runID) == .completed, "run \(i)")
            // Each run's queues held while it ran (logits, credits and, with one replica, no ring).
        }
        // The last task's thread ends just after its completion went out: bounded wait.
        let deadline = ContinuousClock.now + .seconds(10)
        while !inbox.heldRuns.isEmpty && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(inbox.heldRuns.isEmpty, "still held: \(inbox.heldRuns.sorted())")
        #expect(Set(runs).count == 20)
    }

    @Test func aForgottenRunsLateMessagesAreDroppedUntilATaskOfItStartsAgain() async throws {
        let network = InMemoryNetworkHarness()
        let inbox = try await network.inbox()
        let credit = Message(Envelope(sender: "run-1/student-0", body: .credit(Credit(runID: "run-1", replica: 0, steps: 1, teacher: 0))))
        #expect(inbox.deliver(credit), "a run never seen is queued: its task may not have started yet")
        #expect(inbox.heldRuns == ["run-1"])
        inbox.forget(run: "run-1")
        #expect(inbox.heldRuns.isEmpty)
        #expect(!inbox.deliver(credit), "late: the run ended here")
        #expect(inbox.heldRuns.isEmpty, "a late message does not bring the queues back")
        #expect(inbox.drops["Credit"] == 1, "\(inbox.drops)")
        inbox.open(run: "run-1")
        #expect(inbox.deliver(credit))
        #expect(inbox.creditQueue(run: "run-1", teacher: 0).poll()?.steps == 1)
    }

    @Test func aQueueAConsumerWaitsOnIsClosedWhenItsRunIsForgotten() async throws {
        let inbox = try await InMemoryNetworkHarness().inbox()
        let queue = inbox.logitsQueue(run: "run-2")
        inbox.forget(run: "run-2")
        #expect(queue.isClosed)
    }
}

/// A data inbox on an in-memory listener, fed by `deliver` directly.
struct InMemoryNetworkHarness {
    let network = InMemoryNetwork()

    func inbox() async throws -> DataInbox {
        let listener = try await network.transport(name: "w1").listen(at: "mem://w1-data")
        return DataInbox(listener: listener)
    }
}
