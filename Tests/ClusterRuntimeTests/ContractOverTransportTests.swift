import ClusterCore
import ClusterRuntime
import Foundation
import Testing
import Transport
import Wire

/// docs/PROTOCOL.md says what the coordinator does, to a client written from the contract
/// alone: who is a worker (its `Envelope.sender`), what `Register` must carry, which messages
/// get which answer and which are only counted, and which paths a submitted spec may hold.
@Suite struct ContractOverTransportTests {
    /// A peer written "from the contract": a bare connection that sends any envelope.
    struct Peer {
        let cluster: EmbeddedCluster
        let connection: any Connection
        let name: String
        var nextID: UInt64 = 100

        init(_ cluster: EmbeddedCluster, name: String) async throws {
            self.cluster = cluster
            self.name = name
            connection = try await cluster.network.transport(name: "peer-\(name)").connect(to: EmbeddedCluster.address,
                                                                                            identity: name)
        }

        /// Sends `body` as `sender` (default: the peer's name) and pumps the coordinator for
        /// `rounds` rounds; returns the answer to it, nil when none came.
        mutating func send(_ body: Body, as sender: String? = nil, tensors: [TensorMeta] = [], frames: [Frame] = [],
                           rounds: Int = 40) async throws -> Body? {
            nextID += 1
            let id = nextID
            try await connection.send(Message(Envelope(sender: sender ?? name, requestID: id, tensors: tensors, body: body),
                                              frames: frames))
            for _ in 0..<rounds {
                await cluster.pumpOnce()
                while let m = try await connection.receive(timeout: .milliseconds(1)) {
                    if m.envelope.replyTo == id { return m.envelope.body }
                }
            }
            return nil
        }
    }

    static func register(_ name: String, endpoint: String = "tcp://10.0.0.2:7879", version: String = DistilleryVersion.current,
                         roles: [Role] = [.teacher]) -> Body {
        .register(Register(name: name, roles: roles, dataEndpoint: endpoint, cores: 1, version: version))
    }

    static func error(_ body: Body?) -> ErrorReply? {
        if case .error(let e) = body { return e }
        return nil
    }

    @Test func aWorkerIsItsSenderARegisterUnderAnotherNameIsRefused() async throws {
        let cluster = try await EmbeddedCluster()
        var peer = try await Peer(cluster, name: "w-a")
        let refused = try #require(Self.error(try await peer.send(Self.register("w-b"))))
        #expect(refused.code == .invalid)
        #expect(refused.message.contains("register.name \"w-b\" differs from the envelope's sender \"w-a\""), "\(refused.message)")
        #expect(await cluster.coordinator.member("w-b") == nil)
        #expect(await cluster.coordinator.member("w-a") == nil)
        // The same registration under its own name is admitted.
        guard case .registerAck(let ack) = try await peer.send(Self.register("w-a")) else {
            Issue.record("a matching name was not admitted")
            return
        }
        #expect(ack.nodeID == "w-a")
    }

    @Test func registerVersionAndDataEndpointAreValidated() async throws {
        let cluster = try await EmbeddedCluster()
        var peer = try await Peer(cluster, name: "w")
        let badVersions = ["", "dev", "1", "1.", "a.b.c", "0.4."]
        for v in badVersions {
            let e = try #require(Self.error(try await peer.send(Self.register("w", version: v))), "version \"\(v)\"")
            #expect(e.code == .version, "\(v): \(e)")
            #expect(e.message.contains("register.version \"\(v)\" is not a version"), "\(e.message)")
        }
        let badEndpoints: [(String, String)] = [
            ("", "is empty"), ("tcp://*:7879", "wildcard"), ("tcp://0.0.0.0:7879", "unspecified address"),
            ("tcp://[::]:7879", "unspecified address"), ("tcp://host", "has no port"), ("tcp://host:0", "1…65535"),
            ("tcp://host:99999", "1…65535"), ("tcp://:7879", "has no host"), ("http://host:80", "is not tcp://HOST:PORT"),
            ("bogus", "is not tcp://HOST:PORT"), ("tcp://ho st:1", "white space"), ("tcp://a/b:1", "may contain only"),
            ("mem://", "names nothing"), ("tcp://::1:7879", "in brackets"),
        ]
        for (endpoint, why) in badEndpoints {
            for roles: [Role] in [[.teacher], [.student]] {
                let e = try #require(Self.error(try await peer.send(Self.register("w", endpoint: endpoint, roles: roles))),
                                     "\(endpoint) was accepted")
                #expect(e.code == .invalid, "\(endpoint): \(e)")
                #expect(e.message.hasPrefix("register.data_endpoint") && e.message.contains(why), "\(endpoint): \(e.message)")
            }
        }
        #expect(await cluster.coordinator.clusterStatus().nodes.isEmpty, "no refused worker is listed or placed")
        for good in ["tcp://10.0.0.2:7879", "tcp://node-b.example:1", "tcp://[::1]:65535", "ipc:///tmp/w.sock", "mem://w-data",
                     "inproc://w"] {
            guard case .registerAck = try await peer.send(Self.register("w", endpoint: good)) else {
                Issue.record("\(good) was refused")
                continue
            }
        }
        guard case .registerAck = try await peer.send(Self.register("w", version: DistilleryVersion.current.split(separator: ".").prefix(2).joined(separator: ".") + ".7-beta.1")) else {
            Issue.record("a compatible version with a suffix was refused")
            return
        }
        let other = try #require(Self.error(try await peer.send(Self.register("w", version: "9.9.0"))))
        #expect(other.code == .version && other.message.contains("major.minor must match"), "\(other.message)")
    }

    @Test func workerMessagesFromAnUnregisteredSenderAreAnsweredRegisterFirst() async throws {
        let cluster = try await EmbeddedCluster()
        var ghost = try await Peer(cluster, name: "ghost")
        let bytes = TensorMeta(name: "bytes", dtype: .u8, shape: [3])
        let cases: [(Body, [TensorMeta], [Frame])] = [
            (.heartbeat(Heartbeat(sentUnixMs: 1)), [], []),
            (.taskStatus(TaskStatus(runID: "run-1", taskID: "run-1/teacher-0", state: .running, done: 1, total: 2)), [], []),
            (.metrics(Metrics(runID: "run-1", values: [MetricValue(name: "student.val_accuracy", value: 0.5)])), [], []),
            (.shardRequest(ShardRequest(shardHash: String(repeating: "a", count: 64), chunkCount: 1)), [], []),
            (.shardAck(ShardAck(shardHash: String(repeating: "a", count: 64), have: true)), [], []),
            (.artifactChunk(ArtifactChunk(runID: "run-1", name: "student.safetensors", sha256: "00", totalBytes: 3, last: true)),
             [bytes], [Frame(bytes: [1, 2, 3])]),
            (.deregister(Deregister(reason: "bye")), [], []),
        ]
        for (body, tensors, frames) in cases {
            let answer = try await ghost.send(body, tensors: tensors, frames: frames)
            let e = try #require(Self.error(answer), "\(body.name) from an unknown sender got \(answer?.name ?? "no answer")")
            #expect(e.code == .notFound, "\(body.name): \(e)")
            #expect(e.message.contains("\"ghost\"") && e.message.contains("register"), "\(body.name): \(e.message)")
        }
        #expect(await cluster.coordinator.member("ghost") == nil)
    }

    @Test func reportsARegisteredWorkerSendsAboutNothingInFlightAreCountedNotAnswered() async throws {
        let cluster = try await EmbeddedCluster()
        var worker = try await Peer(cluster, name: "w1")
        guard case .registerAck = try await worker.send(Self.register("w1", endpoint: "mem://w1-data")) else {
            Issue.record("w1 was not admitted")
            return
        }
        let status = try await worker.send(.taskStatus(TaskStatus(runID: "run-9", taskID: "run-9/teacher-0", state: .completed)),
                                           rounds: 20)
        #expect(status == nil, "a stale status is not answered: \(status?.name ?? "")")
        let metrics = try await worker.send(.metrics(Metrics(runID: "run-9", values: [MetricValue(name: "x", value: 1)])),
                                            rounds: 20)
        #expect(metrics == nil)
        let ack = try await worker.send(.shardAck(ShardAck(shardHash: "abc", have: true)), rounds: 20)
        #expect(ack == nil)
        let ignored = cluster.coordinator.ignored
        #expect(ignored.count("task-status-stale") == 1 && ignored.count("metrics-unknown-run") == 1
            && ignored.count("shard-ack-unawaited") == 1, "\(ignored.snapshot)")
        // Deregister from a member: no answer, the worker has left.
        let bye = try await worker.send(.deregister(Deregister(reason: "done")), rounds: 20)
        #expect(bye == nil)
        #expect(await cluster.liveness(of: "w1") == .left)
    }

    @Test func aSubmittedSpecMustHoldAbsolutePaths() async throws {
        let cluster = try await EmbeddedCluster()
        let data = "\(cluster.stateDir)/data"
        try SyntheticFashion.write(to: data, train: 100, test: 20)
        let checkpoint = "\(cluster.stateDir)/t.safetensors"
        try Data([1]).write(to: URL(fileURLWithPath: checkpoint))
        func spec(dataset: String, checkpoint: String) -> String {
            """
            name: paths
            dataset: { name: fashion-mnist, path: \(dataset), validation: 10 }
            teachers:
              - { model: mlp:784-8-10, checkpoint: \(checkpoint) }
            student: { model: mlp:784-8-10 }
            training: { epochs: 1, batch: 10 }
            """
        }
        // A third-party client sends paths relative to a spec file the coordinator never saw.
        guard case .submitRunReply(let relative) = try await cluster.request(.submitRun(SubmitRun(
            specYaml: spec(dataset: "data", checkpoint: "t.safetensors"), fileName: "paths.yaml"))) else {
            Issue.record("no SubmitRunReply")
            return
        }
        #expect(!relative.accepted)
        let byField = Dictionary(relative.errors.map { ($0.field, $0.message) }, uniquingKeysWith: { a, _ in a })
        #expect(byField["dataset.path"]?.contains("'data' is a relative path") == true, "\(relative.errors)")
        #expect(byField["teachers[0].checkpoint"]?.contains("'t.safetensors' is a relative path") == true, "\(relative.errors)")
        #expect(byField["dataset.path"]?.contains("as `distillery submit` does") == true)
        // The same spec with absolute paths passes every path check (only placement fails: no workers).
        guard case .submitRunReply(let absolute) = try await cluster.request(.submitRun(SubmitRun(
            specYaml: spec(dataset: data, checkpoint: checkpoint), fileName: "paths.yaml"))) else {
            Issue.record("no SubmitRunReply")
            return
        }
        #expect(!absolute.accepted)
        #expect(!absolute.errors.contains { $0.field == "dataset.path" || $0.field == "teachers[0].checkpoint" },
                "\(absolute.errors)")
        // An absolute checkpoint that is not there is refused at submit, naming the field.
        guard case .submitRunReply(let missing) = try await cluster.request(.submitRun(SubmitRun(
            specYaml: spec(dataset: data, checkpoint: checkpoint + ".gone"), fileName: "paths.yaml"))) else {
            Issue.record("no SubmitRunReply")
            return
        }
        #expect(missing.errors.contains { $0.field == "teachers[0].checkpoint" && $0.message.contains("does not exist") },
                "\(missing.errors)")
    }
}
