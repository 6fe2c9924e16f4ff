import ClusterCore
import ClusterRuntime
import DataPlane
import Datasets
import Foundation
import Testing
import Wire

/// Runs through the coordinator and worker shells in memory: submission and its refusals,
/// placement, shard transfer with the hash check and the cache, teachers trained on the
/// shard, deaths and cancels in the middle, and the history surviving a restart.
@Suite struct RunsOverTransportTests {
    /// Teacher epochs (on 3000 samples) long enough for a test to catch its run preparing
    /// teachers: with 50, a fast machine finished them between two pumps and the run was seen
    /// only distilling or completed.
    static let preparingEpochs = 300

    static func spec(dataset: String, teachers: Int = 2, replicas: Int = 1, epochs: Int = 1, extra: String = "",
                     training: String = "{ epochs: 1, batch: 50 }") -> String {
        """
        name: tiny
        dataset: { name: fashion-mnist, path: \(dataset), validation: 100 }
        teachers:
          - model: mlp:784-16-10
            count: \(teachers)
            train: { epochs: \(epochs), batch: 50, seed: 1 }
        student: { model: mlp:784-8-10 }
        training: \(training)
        replicas: \(replicas)
        \(extra)
        """
    }

    func makeCluster(train: Int = 600, liveness: LivenessSettings = .twoAndFive,
                     runTimeouts: RunTimeouts = RunTimeouts()) async throws -> (EmbeddedCluster, String) {
        let cluster = try await EmbeddedCluster(liveness: liveness, runTimeouts: runTimeouts)
        let data = cluster.stateDir + "/data"
        try SyntheticFashion.write(to: data, train: train, test: 200)
        return (cluster, data)
    }

    func submit(_ cluster: EmbeddedCluster, _ yaml: String) async throws -> SubmitRunReply {
        let reply = try await cluster.request(.submitRun(SubmitRun(specYaml: yaml, fileName: "tiny.yaml")))
        guard case .submitRunReply(let r) = reply else { throw TestFailure("got \(reply.name)") }
        return r
    }

    @Test func anOnlineRunWithTopKFloat16LogitsCompletesAndTheTeachersKeepTraining() async throws {
        let (cluster, data) = try await makeCluster()
        try await cluster.addWorker("t1", roles: [.teacher])
        try await cluster.addWorker("s1", roles: [.student])
        try await cluster.addWorker("s2", roles: [.student])
        await cluster.pump()
        let spec = Self.spec(dataset: data, replicas: 2, extra: "distillation: { mode: online, top-k: 3, float16: true, ensemble: ebkd, mutual: 0.3 }")
        let reply = try await submit(cluster, spec)
        #expect(reply.accepted, "\(reply.errors)")
        let run = reply.runID
        await cluster.pump(until: { await cluster.phase(of: run)?.isTerminal == true })
        let events = try await logs(cluster, run)
        #expect(await cluster.phase(of: run) == .completed, "\(events.map(\.message))")
        let metrics = try cluster.store.metrics(runID: run)
        #expect(metrics.contains { $0.name == "student.test_accuracy" && $0.value > 0.2 })
        // Both teachers shared worker t1 and sent replica 0 their test logits after training on.
        #expect(metrics.contains { $0.name == "ensemble.test_accuracy" && (0...1).contains($0.value) })
        // Each teacher reported its accuracy again after training on, and sent what it became.
        for t in 0..<2 { #expect(metrics.filter { $0.name == "teacher\(t).test_accuracy" }.count == 2) }
        // Their curves while training on: loss and validation accuracy per epoch.
        for t in 0..<2 {
            #expect(metrics.contains { $0.name == "teacher\(t).online_train_loss" && $0.epoch >= 1 && $0.value > 0 })
            #expect(metrics.contains { $0.name == "teacher\(t).online_val_accuracy" && $0.epoch >= 1 && (0...1).contains($0.value) })
        }
        // … reported by replica 0 from the logits they sent, before it completes (on the same
        // connection), so the report written when the run ends has them.
        let reportData = try #require(FileManager.default.contents(atPath: "\(cluster.stateDir)/artifacts/\(run)/report.json"))
        let teachers = try #require((try JSONSerialization.jsonObject(with: reportData) as? [String: Any])?["teachers"] as? [[String: Any]])
        for t in 0..<2 {
            let last = metrics.last { $0.name == "teacher\(t).test_accuracy" }?.value
            let reported = try #require(teachers[t]["test_accuracy"] as? Double)
            #expect(abs(reported - (last ?? -1)) < 1e-9, "report.json has teacher \(t)'s final accuracy")
        }
        let names = Set(try cluster.store.artifacts(runID: run).map(\.name))
        #expect(names.isSuperset(of: ["teacher-0-online.safetensors", "teacher-1-online.safetensors", "teacher-0.safetensors"]), "\(names)")
    }

    @Test func aRunDistilsEndToEndThroughShardsTeachersAndTwoReplicas() async throws {
        let (cluster, data) = try await makeCluster()
        try await cluster.addWorker("t1", roles: [.teacher])
        try await cluster.addWorker("t2", roles: [.teacher])
        try await cluster.addWorker("s1", roles: [.student])
        try await cluster.addWorker("s2", roles: [.student])
        await cluster.pump()
        let reply = try await submit(cluster, Self.spec(dataset: data, replicas: 2))
        #expect(reply.accepted, "\(reply.errors)")
        let run = reply.runID
        await cluster.pump(until: { await cluster.phase(of: run)?.isTerminal == true })
        let events = try await logs(cluster, run)
        #expect(await cluster.phase(of: run) == .completed, "\(events.map(\.message))")
        // Teachers trained on every teacher worker (placement spreads them), kept in the worker's
        // cache under their recipe key and sent to the coordinator.
        for w in ["t1", "t2"] {
            let teacherFiles = try FileManager.default.contentsOfDirectory(atPath: "\(cluster.stateDir)/cache-\(w)/teachers/trained")
            #expect(teacherFiles.count == 1 && teacherFiles[0].hasSuffix(".safetensors"), "\(w): \(teacherFiles)")
            let shards = try FileManager.default.contentsOfDirectory(atPath: "\(cluster.stateDir)/cache-\(w)/shards")
            // The data shard, and the teacher it trained filed under its hash.
            #expect(shards.filter { $0.hasSuffix(".shard") }.count == 2, "\(w): \(shards)")
        }
        // Rank 0 kept the student.
        let rank0 = events.first { $0.message.hasPrefix("student 0 assigned to ") }?.message.split(separator: " ").last.map(String.init)
        let worker = try #require(rank0)
        #expect(FileManager.default.fileExists(atPath: "\(cluster.stateDir)/cache-\(worker)/students/\(run)/student.safetensors"))
        #expect(try cluster.store.metrics(runID: run).contains { $0.name == "ensemble.test_accuracy" && (0...1).contains($0.value) })
        #expect(events.contains { $0.message.contains("sharding → preparing-teachers") })
        #expect(events.contains { $0.message.contains("preparing-teachers → distilling") })
        #expect(events.contains { $0.message.contains("distilling → completed") })
        // Each teacher reported its epoch's figures, and rank 0 the student's.
        let metrics = try cluster.store.metrics(runID: run)
        for t in 0..<2 {
            #expect(metrics.contains { $0.name == "teacher\(t).train_loss" && $0.value > 0 && $0.epoch == 1 })
            #expect(metrics.contains { $0.name == "teacher\(t).val_accuracy" && (0...1).contains($0.value) })
        }
        let studentAccuracy = try #require(metrics.last { $0.name == "student.test_accuracy" })
        #expect(studentAccuracy.value > 0.2, "one epoch on 500 images learns something (chance is 0.1): \(studentAccuracy.value)")
        #expect(metrics.contains { $0.name == "student.val_accuracy" })
        for name in ["student.parameters", "teacher0.parameters", "teacher1.latency_us", "student.allreduce_ms_per_step"] {
            #expect(metrics.contains { $0.name == name && $0.value > 0 }, "\(name)")
        }
        // The student and teacher checkpoints reached the coordinator's state directory, verified.
        let artifacts = try cluster.store.artifacts(runID: run)
        #expect(artifacts.map(\.name).sorted() == ["report.html", "report.json", "student.onnx", "student.safetensors", "teacher-0.safetensors",
                                                     "teacher-1.safetensors"])
        // The report the coordinator wrote when the run ended: teachers, ensemble, student, compression.
        let reportData = try #require(FileManager.default.contents(atPath: "\(cluster.stateDir)/artifacts/\(run)/report.json"))
        let report = try #require(try JSONSerialization.jsonObject(with: reportData) as? [String: Any])
        #expect(report["state"] as? String == "completed")
        #expect((report["teachers"] as? [[String: Any]])?.count == 2)
        #expect(((report["ensemble"] as? [String: Any])?["test_accuracy"] as? Double).map { (0...1).contains($0) } == true)
        #expect(((report["student"] as? [String: Any])?["test_accuracy"] as? Double) != nil)
        #expect((report["compression"] as? Double ?? 0) > 0)
        let stored = try #require(artifacts.first { $0.name == "student.safetensors" })
        let bytes = try #require(FileManager.default.contents(atPath: "\(cluster.stateDir)/\(stored.path)"))
        #expect(Int64(bytes.count) == stored.bytes && SHA256.hex([UInt8](bytes)) == stored.sha256)
        // Runs list keeps it with its reason.
        guard case .runList(let list) = try await cluster.request(.listRuns(ListRuns())) else { throw TestFailure("no list") }
        #expect(list.runs.first?.runID == run && list.runs.first?.state == .completed)
        #expect(list.runs.first?.reason.contains("2 teachers on 2 replicas") == true, "\(list.runs.first?.reason ?? "")")
    }

    @Test func aCachedShardIsNotSentAgain() async throws {
        let (cluster, data) = try await makeCluster()
        try await cluster.addWorker("t1", roles: [.teacher])
        try await cluster.addWorker("s1", roles: [.student])
        await cluster.pump()
        let first = try await submit(cluster, Self.spec(dataset: data, teachers: 1))
        await cluster.pump(until: { await cluster.phase(of: first.runID)?.isTerminal == true })
        let second = try await submit(cluster, Self.spec(dataset: data, teachers: 1))
        await cluster.pump(until: {
            let phase = await cluster.phase(of: second.runID)
            return phase != .sharding && phase != .placing
        })
        let events = try await logs(cluster, second.runID)
        #expect(events.contains { $0.kind == "shard" && $0.message.contains("has shard") })
        await cluster.pump(until: { await cluster.phase(of: second.runID)?.isTerminal == true })
    }

    @Test func aTrainedTeacherIsShippedToAnotherWorkerInsteadOfBeingTrainedAgain() async throws {
        let (cluster, data) = try await makeCluster()
        let t1 = try await cluster.addWorker("t1", roles: [.teacher])
        try await cluster.addWorker("s1", roles: [.student])
        await cluster.pump()
        let spec = Self.spec(dataset: data, teachers: 1)
        let first = try await submit(cluster, spec).runID
        await cluster.pump(until: { await cluster.phase(of: first)?.isTerminal == true })
        #expect(await cluster.phase(of: first) == .completed)
        // t1 — the only worker keeping the teacher — leaves; t2 starts with an empty cache.
        await t1.leave(reason: "replaced")
        try await cluster.addWorker("t2", roles: [.teacher])
        await cluster.pump()
        let second = try await submit(cluster, spec).runID
        await cluster.pump(until: { await cluster.phase(of: second)?.isTerminal == true })
        let events = try await logs(cluster, second)
        #expect(await cluster.phase(of: second) == .completed, "\(events.map(\.message))")
        #expect(events.contains { $0.kind == "checkpoint" && $0.message.contains("offered to t2") }, "\(events.map(\.message))")
        // t2 did not train: no training figures, the teacher is marked reused, same accuracy.
        let before = try cluster.store.metrics(runID: first), after = try cluster.store.metrics(runID: second)
        #expect(before.contains { $0.name == "teacher0.train_loss" })
        #expect(!after.contains { $0.name == "teacher0.train_loss" })
        #expect(after.contains { $0.name == "teacher0.reused" && $0.value == 1 })
        #expect(after.last { $0.name == "teacher0.test_accuracy" }?.value == before.last { $0.name == "teacher0.test_accuracy" }?.value)
        // t2 now keeps the very file t1 trained, under the same recipe key.
        let trained = { (w: String) throws -> [String] in
            try FileManager.default.contentsOfDirectory(atPath: "\(cluster.stateDir)/cache-\(w)/teachers/trained")
                .filter { $0.hasSuffix(".safetensors") }
        }
        let names = try trained("t2")
        #expect(names == (try trained("t1")))
        let a = FileManager.default.contents(atPath: "\(cluster.stateDir)/cache-t1/teachers/trained/\(names.first ?? "")")
        let b = FileManager.default.contents(atPath: "\(cluster.stateDir)/cache-t2/teachers/trained/\(names.first ?? "")")
        #expect(a != nil && a == b)
        // … and under the checkpoint's hash in its content-addressed cache, so a later offer of
        // it is acknowledged at once.
        let hash = SHA256.hex([UInt8](b ?? Data()))
        #expect(FileManager.default.fileExists(atPath: "\(cluster.stateDir)/cache-t2/shards/\(hash).shard"))
        #expect(FileManager.default.fileExists(atPath: "\(cluster.stateDir)/cache-t1/shards/\(hash).shard"), "t1 filed what it trained")
    }

    @Test func aWorkerThatLostAStoredTeacherGetsItBackAfterACoordinatorRestart() async throws {
        let (cluster, data) = try await makeCluster()
        try await cluster.addWorker("t1", roles: [.teacher])
        try await cluster.addWorker("s1", roles: [.student])
        await cluster.pump()
        let spec = Self.spec(dataset: data, teachers: 1)
        let first = try await submit(cluster, spec).runID
        await cluster.pump(until: { await cluster.phase(of: first)?.isTerminal == true })
        // t1's cache loses the teacher (wiped, or a new machine under the same name).
        let cache = "\(cluster.stateDir)/cache-t1"
        let stored = try #require(FileManager.default.contents(atPath: "\(cluster.stateDir)/artifacts/\(first)/teacher-0.safetensors"))
        let hash = SHA256.hex([UInt8](stored))
        try FileManager.default.removeItem(atPath: "\(cache)/teachers/trained")
        try FileManager.default.removeItem(atPath: "\(cache)/shards/\(hash).shard")
        // A new coordinator indexes the stored teacher from its state directory.
        try await cluster.restartCoordinator()
        await cluster.advance(.seconds(2))
        #expect(await cluster.liveness(of: "t1") == .alive)
        let second = try await submit(cluster, spec).runID
        await cluster.pump(until: { await cluster.phase(of: second)?.isTerminal == true })
        let events = try await logs(cluster, second)
        #expect(await cluster.phase(of: second) == .completed, "\(events.map(\.message))")
        #expect(events.contains { $0.kind == "checkpoint" && $0.message.contains("offered to t1") }, "\(events.map(\.message))")
        let metrics = try cluster.store.metrics(runID: second)
        #expect(metrics.contains { $0.name == "teacher0.reused" && $0.value == 1 })
        #expect(!metrics.contains { $0.name == "teacher0.train_loss" }, "t1 did not train it again")
        let back = try FileManager.default.contentsOfDirectory(atPath: "\(cache)/teachers/trained").filter { $0.hasSuffix(".safetensors") }
        #expect(back.count == 1)
    }

    @Test func aCheckpointTeacherIsSentToAWorkerThatDoesNotHaveTheFile() async throws {
        let (cluster, data) = try await makeCluster()
        try await cluster.addWorker("t1", roles: [.teacher])
        try await cluster.addWorker("s1", roles: [.student])
        await cluster.pump()
        let first = try await submit(cluster, Self.spec(dataset: data, teachers: 1)).runID
        await cluster.pump(until: { await cluster.phase(of: first)?.isTerminal == true })
        let stored = "\(cluster.stateDir)/artifacts/\(first)/teacher-0.safetensors"
        let checkpoint = "\(cluster.stateDir)/teacher.safetensors"
        try FileManager.default.copyItem(atPath: stored, toPath: checkpoint)
        let spec = """
            name: from-checkpoint
            dataset: { name: fashion-mnist, path: \(data), validation: 100 }
            teachers:
              - checkpoint: \(checkpoint)
                model: mlp:784-16-10
            student: { model: mlp:784-8-10 }
            training: { epochs: 1, batch: 50 }
            """
        let reply = try await submit(cluster, spec)
        #expect(reply.accepted, "\(reply.errors)")
        let run = reply.runID
        // The coordinator reads the file when it assigns the teacher; then the file goes away,
        // as on a worker machine that never had it (one round: t1 has not taken the assignment yet).
        while await cluster.phase(of: run).map({ $0 == .pending || $0 == .placing || $0 == .sharding }) == true {
            await cluster.pumpOnce()
        }
        try FileManager.default.removeItem(atPath: checkpoint)
        await cluster.pump(until: { await cluster.phase(of: run)?.isTerminal == true })
        let events = try await logs(cluster, run)
        #expect(await cluster.phase(of: run) == .completed, "\(events.map(\.message))")
        #expect(events.contains { $0.kind == "checkpoint" && $0.message.contains("offered to t1") })
        let hash = SHA256.hex([UInt8](try #require(FileManager.default.contents(atPath: stored))))
        #expect(FileManager.default.fileExists(atPath: "\(cluster.stateDir)/cache-t1/shards/\(hash).shard"))
    }

    @Test func badSpecsAreRefusedFieldByFieldAndTheCoordinatorKeepsServing() async throws {
        let (cluster, data) = try await makeCluster()
        try await cluster.addWorker("t1", roles: [.teacher])
        try await cluster.addWorker("s1", roles: [.student])
        await cluster.pump()
        let cases: [(String, String)] = [
            ("name: [unclosed", ""),
            (Self.spec(dataset: data, extra: "colour: blue"), "colour"),
            (Self.spec(dataset: data, epochs: -3), "epochs"),
            (Self.spec(dataset: data, replicas: 3), "replicas"),
            (Self.spec(dataset: cluster.stateDir + "/no-such-dir"), "dataset.path"),
        ]
        for (yaml, field) in cases {
            let reply = try await submit(cluster, yaml)
            #expect(!reply.accepted)
            #expect(!reply.errors.isEmpty)
            if !field.isEmpty {
                #expect(reply.errors.contains { $0.field.contains(field) || $0.message.contains(field) }, "\(field): \(reply.errors)")
            }
        }
        let status = try await cluster.request(.statusRequest(StatusRequest()))
        guard case .clusterStatus(let s) = status else { throw TestFailure("got \(status.name)") }
        #expect(s.nodes.count == 2)
        guard case .runList(let list) = try await cluster.request(.listRuns(ListRuns())) else { throw TestFailure("no list") }
        #expect(list.runs.isEmpty, "refused runs are not recorded")
    }

    @Test func aWorkerDyingWhileTeachersPrepareWithNobodyToTakeOverFailsTheRunAfterTheWait() async throws {
        let (cluster, data) = try await makeCluster(train: 3000, runTimeouts: RunTimeouts(replacementWait: .seconds(2)))
        try await cluster.addWorker("t1", roles: [.teacher])
        try await cluster.addWorker("s1", roles: [.student])
        await cluster.pump()
        let run = try await submit(cluster, Self.spec(dataset: data, teachers: 1, epochs: Self.preparingEpochs)).runID
        await cluster.pump(until: { await cluster.phase(of: run) == .preparingTeachers })
        cluster.frozen = ["t1"]
        await cluster.advance(.seconds(6))
        // t1 is dead (5 s); its teacher waits for a teacher worker, for 2 s here.
        let waiting = await cluster.phase(of: run)
        let why = try cluster.store.run(id: run)?.reason ?? ""
        #expect(waiting == .preparingTeachers, "\(String(describing: waiting)): \(why)")
        await cluster.advance(.seconds(2))
        #expect(await cluster.phase(of: run) == .failed)
        let record = try cluster.store.run(id: run)
        #expect(record?.reason.hasPrefix("no worker could take teacher 0 (lost with t1) within 2.0 s") == true, "\(record?.reason ?? "")")
    }

    /// A worker's report that a task completed.
    @Sendable static func isCompletion(_ message: Message) -> Bool {
        if case .taskStatus(let s) = message.envelope.body { return s.state == .completed }
        return false
    }

    /// Silent for 1 s: dead (the teachers train for longer than that in real time).
    static let quickDeath = LivenessSettings(heartbeatInterval: .milliseconds(200), suspectAfter: .milliseconds(400),
                                             deadAfter: .seconds(1))

    @Test func aStudentWorkerLostWhileTeachersPrepareIsReplacedByASpareAndTheRunCompletes() async throws {
        let (cluster, data) = try await makeCluster(liveness: Self.quickDeath)
        try await cluster.addWorker("t1", roles: [.teacher])
        try await cluster.addWorker("s1", roles: [.student])
        try await cluster.addWorker("s2", roles: [.student])
        try await cluster.addWorker("s3", roles: [.student])
        await cluster.pump()
        // The teachers train in real time: their completion is held back until s1 is dead, so
        // that the loss falls in the preparing phase however fast this machine trains.
        cluster.network.hold(from: "t1", where: Self.isCompletion)
        let run = try await submit(cluster, Self.spec(dataset: data, replicas: 2, epochs: 600)).runID
        // Replicas go to s1 (rank 0) and s2; s3 is spare. The teachers are assigned before s1 dies,
        // so they must learn replica 0's new endpoint.
        await cluster.pump(until: { await cluster.phase(of: run) == .preparingTeachers })
        cluster.frozen = ["s1"]
        await cluster.advance(.milliseconds(1200), step: .milliseconds(100))
        #expect(await cluster.liveness(of: "s1") == .dead)
        #expect(await cluster.phase(of: run) == .preparingTeachers)
        await cluster.network.release(from: "t1")
        await cluster.pump(until: { await cluster.phase(of: run)?.isTerminal == true })
        let events = try await logs(cluster, run).map(\.message)
        #expect(await cluster.phase(of: run) == .completed, "\(events)")
        #expect(events.contains("student 0 re-placed on s3 (s1 was lost)"), "\(events)")
        #expect(events.contains("student 0 assigned to s3"), "\(events)")
        #expect(events.contains { $0.hasPrefix("teacher 0 on t1 sent its peers' new endpoints") }, "\(events)")
        // The worker acknowledged the repeated assignment again; the log shows news only.
        #expect(events.filter { $0.hasPrefix("teacher 0 accepted by") }.count == 1, "\(events)")
        #expect(FileManager.default.fileExists(atPath: "\(cluster.stateDir)/cache-s3/students/\(run)/student.safetensors"))
        #expect(try cluster.store.metrics(runID: run).contains { $0.name == "student.test_accuracy" && $0.value > 0.2 })
    }

    @Test func aTeacherWorkerLostWhileTeachersPrepareIsReplacedAndTheRunCompletes() async throws {
        let (cluster, data) = try await makeCluster(liveness: Self.quickDeath)
        try await cluster.addWorker("t1", roles: [.teacher])
        try await cluster.addWorker("t2", roles: [.teacher])
        try await cluster.addWorker("s1", roles: [.student])
        await cluster.pump()
        let run = try await submit(cluster, Self.spec(dataset: data, replicas: 1, epochs: 600)).runID
        // Teacher 0 on t1, teacher 1 on t2; t2 dies and teacher 1 moves to t1, which has the shard.
        await cluster.pump(until: { await cluster.phase(of: run) == .preparingTeachers })
        cluster.frozen = ["t2"]
        await cluster.advance(.milliseconds(1200), step: .milliseconds(100))
        #expect(await cluster.liveness(of: "t2") == .dead)
        await cluster.pump(until: { await cluster.phase(of: run)?.isTerminal == true })
        let events = try await logs(cluster, run).map(\.message)
        #expect(await cluster.phase(of: run) == .completed, "\(events)")
        #expect(events.contains("teacher 1 re-placed on t1 (t2 was lost)"), "\(events)")
        #expect(events.filter { $0 == "teacher 1 assigned to t1" }.count == 1, "\(events)")
    }

    /// A teacher's worker is killed and restarted under the same name at once (well within the
    /// dead window): its new incarnation tells the coordinator at its registration that the
    /// teacher it trained is gone; the teacher is placed again and the run completes.
    @Test func aTeacherWorkerRestartedWhileTrainingIsNoticedAtOnceAndTheRunCompletes() async throws {
        let (cluster, data) = try await makeCluster()
        try await cluster.addWorker("t1", roles: [.teacher])
        try await cluster.addWorker("s1", roles: [.student])
        await cluster.pump()
        cluster.network.hold(from: "t1", where: Self.isCompletion)  // the old teacher must not finish first
        let run = try await submit(cluster, Self.spec(dataset: data, teachers: 1, replicas: 1, epochs: 600)).runID
        await cluster.pump(until: { await cluster.phase(of: run) == .preparingTeachers })
        try await cluster.addWorker("t1", roles: [.teacher])  // the old process is gone, a new one registers
        await cluster.pump(2)
        let early = try await logs(cluster, run).map(\.message)
        #expect(early.contains("teacher 0 re-placed on t1 (t1 was lost)"), "noticed at the registration: \(early)")
        await cluster.network.release(from: "t1")
        await cluster.pump(until: { await cluster.phase(of: run)?.isTerminal == true })
        let events = try await logs(cluster, run).map(\.message)
        #expect(await cluster.phase(of: run) == .completed, "\(events)")
        #expect(events.filter { $0 == "teacher 0 assigned to t1" }.count == 2, "\(events)")
    }

    @Test func cancellingARunStopsItAndTellsItsWorkers() async throws {
        let (cluster, data) = try await makeCluster(train: 3000)
        try await cluster.addWorker("t1", roles: [.teacher])
        try await cluster.addWorker("s1", roles: [.student])
        await cluster.pump()
        let run = try await submit(cluster, Self.spec(dataset: data, teachers: 1, epochs: Self.preparingEpochs)).runID
        await cluster.pump(until: { await cluster.phase(of: run) == .preparingTeachers })
        // Its id has a random part nobody can guess; people may call it run-1 or 1 (RunID).
        #expect(run.hasPrefix("run-1-") && run.count == "run-1-".count + 8, "\(run)")
        guard case .cancelRunReply(let r) = try await cluster.request(.cancelRun(CancelRun(runID: "run-1"))) else {
            throw TestFailure("no reply")
        }
        #expect(r.cancelled && r.message == "run \(run) cancelled", "\(r)")
        #expect(await cluster.phase(of: run) == .cancelled)
        // Cancelling again says it already ended; an unknown run is NOT_FOUND.
        guard case .cancelRunReply(let again) = try await cluster.request(.cancelRun(CancelRun(runID: "1"))) else {
            throw TestFailure("no reply")
        }
        #expect(!again.cancelled && again.message.contains("already ended"))
        let events = try await logs(cluster, "run-1")
        #expect(!events.isEmpty && events.allSatisfy { $0.runID == run }, "\(events)")
        for unknown in ["run-999", "run-2", "run-1-", String(run.dropLast())] {
            await #expect(throws: Error.self) { _ = try await cluster.request(.cancelRun(CancelRun(runID: unknown))) }
        }
        // The teacher stops at its next epoch and stays quiet.
        await cluster.pump(until: { cluster.workers["t1"]!.worker.currentTask.isEmpty })
    }

    /// A restarted coordinator takes a run in flight back and waits for its workers; when none
    /// of them reports it within the grace (60 s), the run is interrupted, and a worker that
    /// comes back later still holding it is told to stop it.
    @Test func aRunNoWorkerReportsAfterACoordinatorRestartIsInterruptedAndHistoryStays() async throws {
        let (cluster, data) = try await makeCluster(train: 3000)
        let teacherWorker = try await cluster.addWorker("t1", roles: [.teacher])
        try await cluster.addWorker("s1", roles: [.student])
        await cluster.pump()
        let done = try await submit(cluster, "name: [broken")
        #expect(!done.accepted)
        let run = try await submit(cluster, Self.spec(dataset: data, teachers: 1, epochs: Self.preparingEpochs)).runID
        await cluster.pump(until: { await cluster.phase(of: run) == .preparingTeachers })
        try await cluster.restartCoordinator()
        #expect(await cluster.phase(of: run) == .preparingTeachers, "taken back: it waits for its workers")
        guard case .runList(let waiting) = try await cluster.request(.listRuns(ListRuns())) else { throw TestFailure("no list") }
        #expect(waiting.runs.first?.reason.hasPrefix("the coordinator restarted while the run was preparing-teachers: waiting up to 60.0 s for t1 and s1") == true,
                "`runs` says what it waits for: \(waiting.runs.first?.reason ?? "")")
        cluster.frozen = ["t1", "s1"]
        await cluster.advance(.seconds(61), step: .seconds(1))
        #expect(await cluster.phase(of: run) == .interrupted)
        cluster.frozen = []
        await cluster.advance(.seconds(2))
        guard case .runList(let list) = try await cluster.request(.listRuns(ListRuns())) else { throw TestFailure("no list") }
        #expect(list.runs.map(\.runID) == [run])
        #expect(list.runs[0].state == .interrupted && list.runs[0].reason.contains("none of its workers reported it within 6"),
                "\(list.runs[0].reason)")
        #expect(await cluster.liveness(of: "t1") == .alive)
        // The teacher still training for the interrupted run is an orphan: its worker lists the
        // run in its heartbeats, is told to stop it, and is idle again.
        await cluster.pump(until: { teacherWorker.currentTask.isEmpty }, timeout: .seconds(30))
        let events = try await logs(cluster, "").map(\.message)
        #expect(events.contains("worker t1 holds tasks of run \(run), which is not in flight here (it ended, or the "
            + "coordinator restarted): told to stop them"), "\(events)")
    }

    @Test func watchFollowsARunToItsEnd() async throws {
        let (cluster, data) = try await makeCluster()
        try await cluster.addWorker("t1", roles: [.teacher])
        try await cluster.addWorker("s1", roles: [.student])
        await cluster.pump()
        let run = try await submit(cluster, Self.spec(dataset: data, teachers: 1)).runID
        let client = try await ControlClient(transport: cluster.network.transport(name: "watcher", key: cluster.keys?["admin"]),
                                            coordinator: EmbeddedCluster.address, timeout: .seconds(30))
        let done = Flag()
        let phases = PhaseLog()
        async let last: RunUpdate = {
            defer { done.set() }
            return try await client.watch(runID: run, silence: .seconds(30)) { phases.add($0.phase) }
        }()
        while !done.isSet {
            cluster.clock.advance(by: .milliseconds(20))
            await cluster.pump(2)
        }
        let final = try await last
        #expect(final.run.state.isTerminal && final.run.runID == run)
        #expect(final.latest.contains { $0.name == "teacher0.train_loss" }, "\(final.latest)")
        let seen = phases.all
        #expect(seen.contains("preparing-teachers"))
        #expect(seen.last == final.phase)
    }

    func logs(_ cluster: EmbeddedCluster, _ run: String) async throws -> [EventEntry] {
        guard case .eventList(let list) = try await cluster.request(.listEvents(ListEvents(runID: run))) else {
            throw TestFailure("no event list")
        }
        return list.events
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

final class PhaseLog: @unchecked Sendable {
    private let lock = NSLock()
    private var phases: [String] = []
    func add(_ p: String) { lock.lock(); if phases.last != p { phases.append(p) }; lock.unlock() }
    var all: [String] { lock.lock(); defer { lock.unlock() }; return phases }
}
