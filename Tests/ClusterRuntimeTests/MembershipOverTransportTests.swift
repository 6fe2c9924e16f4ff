import ClusterCore
import ClusterRuntime
import DataPlane
import Testing
import Wire

/// Membership and liveness through the real coordinator and worker shells, in memory, on a
/// manual clock.
@Suite struct MembershipOverTransportTests {
    @Test func workersRegisterAndStatusListsThem() async throws {
        let cluster = try await EmbeddedCluster()
        try await cluster.addWorker("t1", roles: [.teacher])
        try await cluster.addWorker("s1", roles: [.student, .teacher])
        await cluster.pump()
        let reply = try await cluster.request(.statusRequest(StatusRequest()))
        guard case .clusterStatus(let status) = reply else { Issue.record("got \(reply.name)"); return }
        #expect(status.nodes.map(\.name) == ["s1", "t1"])
        #expect(status.nodes.allSatisfy { $0.state == .alive })
        #expect(status.nodes.first { $0.name == "s1" }?.roles == [.teacher, .student])
        #expect(status.nodes.allSatisfy { $0.address.hasPrefix("mem://") && $0.version == DistilleryVersion.current })
        #expect(status.coordinatorVersion == DistilleryVersion.current)
    }

    /// Heartbeat discipline: a worker that goes silent is suspect after 2 s and dead at
    /// exactly 5 s after the coordinator last heard from it — not a millisecond earlier.
    @Test func aSilentWorkerIsDeclaredDeadAtTheRightTick() async throws {
        let cluster = try await EmbeddedCluster()
        try await cluster.addWorker("a", roles: [.teacher])
        try await cluster.addWorker("b", roles: [.student])
        await cluster.pump()
        for _ in 0..<3 {
            cluster.clock.advance(by: .seconds(1))
            await cluster.pump()
        }
        let lastHeard = try #require(await cluster.coordinator.member("b")).lastHeard
        #expect(lastHeard == cluster.clock.now(), "b's heartbeat of this second was handled")
        cluster.frozen = ["b"]
        await cluster.advance(.milliseconds(1999))
        #expect(await cluster.liveness(of: "b") == .alive)
        await cluster.advance(.milliseconds(1))
        #expect(await cluster.liveness(of: "b") == .suspect)
        await cluster.advance(.milliseconds(2999))
        #expect(await cluster.liveness(of: "b") == .suspect)
        #expect(cluster.clock.now() == lastHeard + .milliseconds(4999))
        await cluster.advance(.milliseconds(1))
        #expect(await cluster.liveness(of: "b") == .dead)
        #expect(await cluster.liveness(of: "a") == .alive, "a kept heartbeating")
        // The death is in the cluster's event log.
        let reply = try await cluster.request(.listEvents(ListEvents()))
        guard case .eventList(let events) = reply else { Issue.record("got \(reply.name)"); return }
        #expect(events.events.contains { $0.kind == "worker" && $0.message.hasPrefix("b is dead") })
    }

    /// A dead worker that comes back registers again (it is told it is unknown) and is alive.
    @Test func aWorkerThatComesBackRegistersAgain() async throws {
        let cluster = try await EmbeddedCluster()
        try await cluster.addWorker("b", roles: [.student])
        await cluster.pump()
        cluster.frozen = ["b"]
        await cluster.advance(.seconds(6))
        #expect(await cluster.liveness(of: "b") == .dead)
        cluster.frozen = []
        await cluster.advance(.seconds(3))
        #expect(await cluster.liveness(of: "b") == .alive)
    }

    @Test func anIncompatibleVersionIsRefusedWithAClearMessage() async throws {
        let cluster = try await EmbeddedCluster()
        try await cluster.addWorker("old", roles: [.teacher], version: "0.1.0")
        let errors = await cluster.pump()
        let error = try #require(errors["old"] as? WorkerError)
        #expect("\(error)".contains("0.1.0") && "\(error)".contains(DistilleryVersion.current))
        #expect(await cluster.coordinator.member("old") == nil)
    }

    @Test func aWorkerReRegistersAfterTheCoordinatorRestarts() async throws {
        let cluster = try await EmbeddedCluster()
        try await cluster.addWorker("a", roles: [.teacher])
        await cluster.pump()
        #expect(await cluster.liveness(of: "a") == .alive)
        try await cluster.restartCoordinator()
        #expect(await cluster.coordinator.member("a") == nil)
        await cluster.advance(.seconds(2))
        #expect(await cluster.liveness(of: "a") == .alive, "told it is unknown, it registered again")
    }

    @Test func aDeregisteredWorkerLeaves() async throws {
        let cluster = try await EmbeddedCluster()
        let worker = try await cluster.addWorker("a", roles: [.teacher])
        await cluster.pump()
        await worker.leave(reason: "maintenance")
        await cluster.pump()
        let member = try #require(await cluster.coordinator.member("a"))
        #expect(member.liveness == .left)
        #expect(member.reason == "maintenance")
    }
}
