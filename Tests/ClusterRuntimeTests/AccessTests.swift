import ClusterCore
import ClusterRuntime
import DataPlane
import Datasets
import DistilleryTestKit
import Foundation
import Testing
import Transport
import Wire

/// Who may send what (docs/PROTOCOL.md "Security"): the pure policy, then the attacks of
/// issue 17 repeated against a whole secured cluster in memory — each refused.
@Suite struct AccessTests {
    static let keys = AuthorizedKeys([
        AuthorizedKey(publicKey: EmbeddedCluster.key("w1"), name: "w1", role: .worker),
        AuthorizedKey(publicKey: EmbeddedCluster.key("ops"), name: "ops", role: .admin),
        AuthorizedKey(publicKey: EmbeddedCluster.key("viewer"), name: "viewer", role: .read),
    ])

    @Test func eachRoleMaySendItsMessagesAndNothingElse() {
        let policy = AccessPolicy(keys: Self.keys)
        let w1 = EmbeddedCluster.key("w1"), ops = EmbeddedCluster.key("ops"), viewer = EmbeddedCluster.key("viewer")
        let submit = Body.submitRun(SubmitRun(specYaml: "x", fileName: "f", idempotencyKey: "k"))
        let cancel = Body.cancelRun(CancelRun(runID: "run-1"))
        let status = Body.statusRequest(StatusRequest())
        let heartbeat = Body.heartbeat(Heartbeat())
        // worker: its own messages under its own name only
        #expect(policy.refusal(of: heartbeat, sender: "w1", peerKey: w1) == nil)
        let spoof = policy.refusal(of: .deregister(Deregister(reason: "x")), sender: "w2", peerKey: w1)
        #expect(spoof?.message.contains("may speak only for 'w1', not for 'w2'") == true)
        #expect(policy.refusal(of: submit, sender: "w1", peerKey: w1) != nil)
        #expect(policy.refusal(of: status, sender: "w1", peerKey: w1) != nil)
        // admin: submit, cancel, read; not worker messages
        #expect(policy.refusal(of: submit, sender: "cli", peerKey: ops) == nil)
        #expect(policy.refusal(of: cancel, sender: "cli", peerKey: ops) == nil)
        #expect(policy.refusal(of: status, sender: "cli", peerKey: ops) == nil)
        #expect(policy.refusal(of: .register(Register(name: "ops")), sender: "ops", peerKey: ops) != nil)
        // read: reads only, and the refusal says its role and the one needed
        #expect(policy.refusal(of: .watchRun(WatchRun(runID: "run-1")), sender: "cli", peerKey: viewer) == nil)
        let readSubmits = policy.refusal(of: submit, sender: "cli", peerKey: viewer)
        #expect(readSubmits?.message.contains("has the role 'read', which may not submit a run") == true)
        #expect(readSubmits?.message.contains("needs the role 'admin'") == true)
        #expect(policy.refusal(of: cancel, sender: "cli", peerKey: viewer)?.message.contains("may not cancel a run") == true)
        // an unlisted (revoked) key, and no key at all
        #expect(policy.refusal(of: status, sender: "cli", peerKey: EmbeddedCluster.key("gone"))?.reason.contains("revoked") == true)
        #expect(policy.refusal(of: status, sender: "cli", peerKey: nil)?.reason == "no CURVE key")
        // without keys, everything goes (a plaintext coordinator)
        #expect(AccessPolicy(keys: nil).refusal(of: submit, sender: "anyone", peerKey: nil) == nil)
    }

    /// The attacks of issue 17, by a stranger or by a worker's key acting for another worker,
    /// against a secured cluster in memory that completed a run.
    @Test func attacksOnASecuredClusterAreRefused() async throws {
        let roles: [String: KeyRole] = ["t1": .worker, "s1": .worker, "w3": .worker, "admin": .admin, "viewer": .read]
        let (cluster, data) = try await EmbeddedCluster.withSyntheticData(teachers: ["t1"], students: ["s1"], secured: roles)
        try await cluster.addWorker("w3", roles: [.student])
        await cluster.pump()
        #expect(await cluster.liveness(of: "w3") == .alive)
        let spec = RunsOverTransportTests.spec(dataset: data, teachers: 1, replicas: 1)
        guard case .submitRunReply(let reply) = try await cluster.request(.submitRun(SubmitRun(specYaml: spec, fileName: "t.yaml",
                                                                                              idempotencyKey: "a"))) else {
            Issue.record("no reply"); return
        }
        #expect(reply.accepted, "\(reply.errors)")
        let run = reply.runID
        await cluster.pump(until: { await cluster.phase(of: run)?.isTerminal == true })
        #expect(await cluster.phase(of: run) == .completed)
        let student = try cluster.studentParameters(run: run)
        #expect(!student.isEmpty)
        let accuracy = try cluster.store.metrics(runID: run).last { $0.name == "student.test_accuracy" }?.value

        // A raw client with the key of `as` (nil: none), sending as `sender`.
        func send(_ body: Body, as name: String?, sender: String, frames: [Frame] = [],
                  tensors: [TensorMeta] = []) async throws -> Body? {
            let connection = try await cluster.network.transport(name: "attacker-\(UUID().uuidString)",
                                                                 key: name.map(EmbeddedCluster.key))
                .connect(to: EmbeddedCluster.address)
            try await connection.send(Message(Envelope(sender: sender, requestID: 77, tensors: tensors, body: body), frames: frames))
            var answer: Body?
            for _ in 0..<40 where answer == nil {
                await cluster.pumpOnce()
                answer = try await connection.receive(timeout: .milliseconds(5))?.envelope.body
            }
            await connection.close()
            return answer
        }
        func isDenied(_ body: Body?) -> Bool {
            if case .error(let e)? = body { return e.code == .permissionDenied }
            return false
        }

        // A stranger (a key nobody listed) is not even heard: its client says so.
        await #expect(throws: ControlError.self) {
            _ = try await cluster.request(.statusRequest(StatusRequest()), key: EmbeddedCluster.key("stranger"))
        }
        // Without any key: nothing gets in either.
        #expect(try await send(.deregister(Deregister(reason: "bye")), as: nil, sender: "s1") == nil)
        // w3's key deregisters s1 / fails t1's task / registers as t1: refused, naming the key.
        #expect(isDenied(try await send(.deregister(Deregister(reason: "bye")), as: "w3", sender: "s1")))
        #expect(isDenied(try await send(.taskStatus(TaskStatus(runID: run, taskID: "\(run)/teacher-0", state: .failed, reason: "x")),
                                        as: "w3", sender: "t1")))
        #expect(isDenied(try await send(.register(Register(name: "t1", roles: [.teacher], dataEndpoint: "mem://evil",
                                                           version: DistilleryVersion.current)), as: "w3", sender: "t1")))
        let s1 = await cluster.liveness(of: "s1"), t1 = await cluster.liveness(of: "t1")
        #expect(s1 == .alive && t1 == .alive)
        // w3, a member of the cluster but not of the run, rewrites its accuracy: dropped.
        _ = try await send(.metrics(Metrics(runID: run, epoch: 0, step: 0, values: [MetricValue(name: "student.test_accuracy", value: 0.9999)])),
                           as: "w3", sender: "w3")
        await cluster.pump()
        #expect(try cluster.store.metrics(runID: run).last { $0.name == "student.test_accuracy" }?.value == accuracy)
        // … and overwrites the stored student with a poisoned file: refused, the file unchanged.
        let poison: [UInt8] = Array(repeating: 7, count: 64)
        let ack = try await send(.artifactChunk(ArtifactChunk(runID: run, name: "student.safetensors", sha256: SHA256.hex(poison),
                                                              totalBytes: 64, offset: 0, last: true)),
                                 as: "w3", sender: "w3", frames: [Frame(bytes: poison)],
                                 tensors: [TensorMeta(name: "chunk", dtype: .u8, shape: [64])])
        if case .artifactAck(let a)? = ack { #expect(!a.stored, "\(a)") } else { Issue.record("no ArtifactAck: \(String(describing: ack))") }
        #expect(try cluster.studentParameters(run: run) == student)
        // A read-only key may look but not submit or cancel; an admin may.
        #expect(isDenied(try await send(.cancelRun(CancelRun(runID: run)), as: "viewer", sender: "cli")))
        if case .clusterStatus(let s)? = try await send(.statusRequest(StatusRequest()), as: "viewer", sender: "cli") {
            #expect(s.security == .curve)
            #expect(s.refusedKeys.contains { $0.name == "w3" && $0.count >= 3 }, "\(s.refusedKeys)")
            #expect(s.refusedKeys.contains { $0.name == "viewer" })
        } else { Issue.record("the reader could not read the status") }
        // Revoked: the reader's open connections are refused from now on.
        cluster.authorize(AuthorizedKeys(cluster.authorized!.entries.filter { $0.name != "viewer" }))
        let revoked = try await send(.statusRequest(StatusRequest()), as: "viewer", sender: "cli")
        #expect(revoked == nil || isDenied(revoked), "\(String(describing: revoked))")
    }
}
