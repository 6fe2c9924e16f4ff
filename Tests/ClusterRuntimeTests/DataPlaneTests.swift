import ClusterCore
import ClusterRuntime
import DataPlane
import Datasets
import DistilleryTestKit
import Distillation
import NN
import Testing
import Training
import Transport
import Wire

/// The data plane in memory: K teachers stream logits under credits to R student replicas,
/// which train with a ring all-reduce — and end where one process distilling the same
/// ensemble on whole batches ends.
@Suite struct DataPlaneTests {
    static func data(count: Int) -> LabeledImages {
        SyntheticImages.brightestPixel(count: count, seed: 11)
    }

    static func teacher(_ seed: UInt64) throws -> Sequential {
        try ModelSpec(parsing: "mlp:24-32-10").build(dataShape: [1, 1, 24], seed: seed)
    }

    static func studentTrainer(plan: StepPlan, seed: UInt64 = 5, spec: String = "mlp:24-16-10") throws -> Trainer {
        let model = try ModelSpec(parsing: spec).build(dataShape: [1, 1, 24], seed: seed)
        return Trainer(model: model, settings: TrainingSettings(epochs: plan.epochs, batchSize: plan.batchSize,
                                                                 learningRate: 3e-3, seed: plan.seed))
    }

    static func parameters(_ m: Sequential) -> [Float] {
        Array(UnsafeBufferPointer(start: m.parameters.pointer, count: m.parameterCount))
    }

    /// Parameters and state (BatchNorm running statistics).
    static func parametersAndState(_ m: Sequential) -> [Float] {
        parameters(m) + Array(UnsafeBufferPointer(start: m.state.pointer, count: m.state.count))
    }

    /// K teachers and R replicas on one in-memory network; returns every replica's parameters.
    static func cluster(teachers: [Sequential], replicas: Int, plan: StepPlan, train: LabeledImages, kd: KDLoss,
                        rule: EnsembleRule, silentTeacher: Int? = nil, divergentReplica: Int? = nil,
                        studentSpec: String = "mlp:24-16-10", timeout: Duration = .seconds(10)) async throws -> [[Float]] {
        try await run(teachers: teachers, replicas: replicas, plan: plan, train: train, kd: kd, rule: rule,
                      silentTeacher: silentTeacher, divergentReplica: divergentReplica, studentSpec: studentSpec,
                      timeout: timeout).parameters
    }

    /// What a data-plane run leaves behind.
    struct Outcome {
        var parameters: [[Float]]
        /// Logits payload bytes each teacher sent.
        var bytesSent: [Int]
        var caches: [SoftLabelCache?]
        /// Replica 0's measure of the ensemble on the test split, when one was given.
        var ensembleAccuracy: Result<StudentReplica.TestSplitAccuracy, DataPlaneError>?
    }

    /// Like `cluster`, with the run's logits codec and, for online mode, teacher trainers.
    static func run(teachers: [Sequential], replicas: Int, plan: StepPlan, train: LabeledImages, kd: KDLoss,
                    rule: EnsembleRule, codec: LogitsCodec? = nil, onlineSettings: TrainingSettings? = nil, test: LabeledImages? = nil,
                    silentTeacher: Int? = nil, divergentReplica: Int? = nil, mutual: Float = 0,
                    studentSpec: String = "mlp:24-16-10", labelMask: [Float]? = nil,
                    timeout: Duration = .seconds(10)) async throws -> Outcome {
        let network = InMemoryNetwork()
        var teacherInboxes: [DataInbox] = []
        var replicaInboxes: [DataInbox] = []
        for t in teachers.indices {
            teacherInboxes.append(DataInbox(listener: try await network.transport(name: "t\(t)").listen(at: "mem://teacher-\(t)")))
        }
        for r in 0..<replicas {
            replicaInboxes.append(DataInbox(listener: try await network.transport(name: "r\(r)").listen(at: "mem://replica-\(r)")))
        }
        let inboxes = teacherInboxes + replicaInboxes
        let pumps = inboxes.map { inbox in Task { await inbox.run() } }
        defer { pumps.forEach { $0.cancel() } }
        var streamers: [TeacherStreamer] = []
        for (t, model) in teachers.enumerated() where t != silentTeacher {
            var toReplicas: [any Connection] = []
            for r in 0..<replicas { toReplicas.append(try await network.transport(name: "t\(t)").connect(to: "mem://replica-\(r)")) }
            var peers: [Int: any Connection] = [:]
            for j in teachers.indices where j != t && mutual > 0 {
                peers[j] = try await network.transport(name: "t\(t)").connect(to: "mem://teacher-\(j)")
            }
            let mutualTerm = mutual > 0
                ? TeacherStreamer.Mutual(weight: mutual, temperature: kd.temperature, peers: peers,
                                         arrivals: teacherInboxes[t].peerLogitsQueue(run: "run-1", teacher: t))
                : nil
            streamers.append(TeacherStreamer(runID: "run-1", teacher: t, model: model, train: train, plan: plan, codec: codec,
                                             online: onlineSettings.map { Trainer(model: model, settings: $0) }, test: test,
                                             replicas: toReplicas, credits: teacherInboxes[t].creditQueue(run: "run-1", teacher: t),
                                             timeout: timeout, mutual: mutualTerm))
        }
        var students: [StudentReplica] = []
        for r in 0..<replicas {
            var toTeachers: [any Connection] = []
            for t in teachers.indices { toTeachers.append(try await network.transport(name: "r\(r)").connect(to: "mem://teacher-\(t)")) }
            let next = replicas > 1 ? try await network.transport(name: "r\(r)").connect(to: "mem://replica-\((r + 1) % replicas)") : nil
            let trainer = try studentTrainer(plan: plan, seed: r == divergentReplica ? 6 : 5, spec: studentSpec)
            let ring = try RingAllReduce(runID: "run-1", generation: 1, rank: r, ranks: replicas,
                                         count: trainer.model.parameterCount,
                                         source: replicaInboxes[r].gradientSource(run: "run-1"), next: next, timeout: timeout)
            students.append(StudentReplica(runID: "run-1", rank: r, trainer: trainer, plan: plan, kd: kd, rule: rule,
                                           codec: codec, train: train, teachers: toTeachers, logits: replicaInboxes[r].logitsQueue(run: "run-1"),
                                           ring: ring, timeout: timeout, hashEvery: 4))
            students[r].labelMask = labelMask
        }
        let parts = Parts(streamers: streamers, students: students)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in parts.streamers.indices { group.addTask { try await parts.streamers[i].run() } }
            for i in parts.students.indices { group.addTask { try await parts.students[i].run() } }
            try await group.waitForAll()
        }
        var accuracy: Result<StudentReplica.TestSplitAccuracy, DataPlaneError>?
        if let test {
            accuracy = await students[0].testSplitAccuracy(on: test, from: replicaInboxes[0].testSplitQueue(run: "run-1"),
                                                            timeout: .seconds(2))
        }
        return Outcome(parameters: students.map { parametersAndState($0.trainer.model) }, bytesSent: streamers.map(\.bytesSent),
                       caches: students.map(\.cache), ensembleAccuracy: accuracy)
    }

    /// BatchNorm running statistics come from each replica's own micro-batch; the replicas
    /// average them after every step, so they stay bit-identical (the hash check every 4 steps
    /// would fail the run otherwise) and hold the mean of what each would have alone.
    @Test(arguments: [2, 3])
    func batchNormStudentsStayIdenticalAcrossReplicas(replicas: Int) async throws {
        let train = Self.data(count: 180)
        let plan = StepPlan(sampleCount: train.count, batchSize: 30, seed: 9, epochs: 2, replicas: replicas, window: 3)
        let outcome = try await Self.run(teachers: [try Self.teacher(1), try Self.teacher(2)], replicas: replicas, plan: plan,
                                         train: train, kd: KDLoss(temperature: 4, alpha: 0.9), rule: .meanProbabilities,
                                         studentSpec: "mlp:24-16-10,bn,dropout=0.2")
        let fresh = try Self.studentTrainer(plan: plan, spec: "mlp:24-16-10,bn,dropout=0.2").model
        #expect(fresh.state.count > 0)
        for r in 1..<replicas { #expect(outcome.parameters[r] == outcome.parameters[0], "replica \(r) is bit-identical to 0") }
        let stateStart = fresh.parameterCount
        let state = Array(outcome.parameters[0][stateStart...])
        let initial = Array(Self.parametersAndState(fresh)[stateStart...])
        #expect(zip(state, initial).map { abs($0 - $1) }.max()! > 1e-3, "the running statistics moved")
    }

    /// With a Dropout student too: each replica's masks skip the other replicas' rows of the
    /// global batch (`Sequential.setRowWindow`), so they are the masks one process draws.
    @Test(arguments: [1, 2, 3], ["mlp:24-16-10", "mlp:24-16-10,dropout=0.3"])
    func replicasFedByStreamingTeachersMatchOneProcess(replicas: Int, student: String) async throws {
        let train = Self.data(count: 240)
        let plan = StepPlan(sampleCount: train.count, batchSize: 30, seed: 9, epochs: 2, replicas: replicas, window: 3)
        let teachers = try [Self.teacher(1), Self.teacher(2)]
        let kd = KDLoss(temperature: 4, alpha: 0.9)
        let rule = EnsembleRule.meanProbabilities
        // One process: the ensemble's targets for all samples, then ordinary distillation.
        let logits = teachers.map { Evaluation.logits($0, on: train) }
        let targets = EnsembleTargets.compute(rule: rule, logits: logits, labels: train.labels, classes: 10, temperature: 4)
        let single = try Self.studentTrainer(plan: plan, spec: student)
        for e in 0..<plan.epochs {
            _ = single.trainEpoch(e, train: train, validation: nil, objective: .distillation(loss: kd, targets: targets, labelMask: nil))
        }
        let reference = Self.parameters(single.model)
        let replicaParameters = try await Self.cluster(teachers: teachers, replicas: replicas, plan: plan, train: train, kd: kd,
                                                       rule: rule, studentSpec: student)
        for r in 1..<replicas { #expect(replicaParameters[r] == replicaParameters[0], "replica \(r) is bit-identical to 0") }
        let diff = zip(reference, replicaParameters[0]).map { abs($0 - $1) }.max() ?? 0
        print("data plane: \(replicas) replica(s), \(student), 2 teachers, 16 steps: max |θ_cluster − θ_single| = \(diff)")
        #expect(diff <= 1e-5)
        #expect(zip(reference, Self.parameters(try Self.studentTrainer(plan: plan, spec: student).model)).map { abs($0 - $1) }.max()! > 1e-3,
                "training moved the parameters")
    }

    @Test func replicasThatDivergeFailWithTheirHashes() async throws {
        let train = Self.data(count: 120)
        let plan = StepPlan(sampleCount: train.count, batchSize: 30, seed: 9, epochs: 1, replicas: 2, window: 2)
        await #expect { _ = try await Self.cluster(teachers: [try Self.teacher(1)], replicas: 2, plan: plan, train: train,
                                                    kd: KDLoss(temperature: 4, alpha: 0.9), rule: .meanProbabilities,
                                                    divergentReplica: 1) } throws: { error in
            guard let e = error as? DataPlaneError, case .diverged(let step, let hashes) = e else { return false }
            return step == 4 && hashes.count == 2 && hashes[0] != hashes[1] && "\(e)".contains("bit-identical")
        }
    }

    @Test func hashesSurviveTheFloatEncodingExactly() {
        var state: UInt64 = 1
        for ranks in 1...5 {
            var sum = [Float](repeating: 0, count: 3 * ranks)
            var expected: [UInt64] = []
            for r in 0..<ranks {
                state = state &* 6364136223846793005 &+ 1442695040888963407
                let hash = r == 0 ? UInt64.max : state
                expected.append(hash)
                for (i, v) in ParameterHashes.encode(hash, rank: r, ranks: ranks).enumerated() { sum[i] += v }
            }
            #expect(ParameterHashes.decode(sum) == expected)
        }
    }

    @Test func aSilentTeacherFailsTheReplicasNamingIt() async throws {
        let train = Self.data(count: 60)
        let plan = StepPlan(sampleCount: train.count, batchSize: 30, seed: 9, epochs: 1, replicas: 2, window: 2)
        let started = ContinuousClock.now
        await #expect { _ = try await Self.cluster(teachers: [try Self.teacher(1), try Self.teacher(2)], replicas: 2, plan: plan,
                                                    train: train, kd: KDLoss(temperature: 4, alpha: 0.9), rule: .meanProbabilities,
                                                    silentTeacher: 1, timeout: .seconds(2)) } throws: { error in
            // Teacher 1 never sends; on a loaded machine teacher 0 may not have delivered yet either.
            guard let e = error as? DataPlaneError, case .missingLogits(_, 0, 0, let missing, _) = e else { return false }
            return missing.contains(1) && "\(e)".contains("from teacher(s)")
        }
        #expect(ContinuousClock.now - started < .seconds(20))
    }
}

private struct Parts: @unchecked Sendable {
    let streamers: [TeacherStreamer]
    let students: [StudentReplica]
}
