import ClusterCore
import ClusterRuntime
import DataPlane
import Datasets
import DistilleryTestKit
import Distillation
import NN
import Testing
import Training

/// The data plane's two modes in memory (DESIGN.md §2 step 5): offline runs cache epoch 0's
/// soft labels (full, or top-k with a tail bucket, float16 on the wire) and the teachers go
/// idle; online runs keep training the teachers on the same global batches. Each ends where
/// one process doing the same arithmetic ends.
@Suite struct DataPlaneModesTests {
    typealias Base = DataPlaneTests
    static let kd = KDLoss(temperature: 4, alpha: 0.9)

    /// One process: ordinary distillation toward fixed targets for `epochs` epochs.
    static func singleProcess(plan: StepPlan, train: LabeledImages, targets: [Float], labelMask: [Float]? = nil,
                              kd: KDLoss = kd) throws -> [Float] {
        let single = try Base.studentTrainer(plan: plan)
        for e in 0..<plan.epochs {
            _ = single.trainEpoch(e, train: train, validation: nil, objective: .distillation(loss: kd, targets: targets, labelMask: labelMask))
        }
        return Base.parameters(single.model)
    }

    static func maxDifference(_ a: [Float], _ b: [Float]) -> Float {
        zip(a, b).map { abs($0 - $1) }.max() ?? 0
    }

    @Test(arguments: [1, 2, 3])
    func offlineRunsCacheEpochZeroAndTheTeachersGoIdle(replicas: Int) async throws {
        let train = Base.data(count: 240)
        let plan = StepPlan(sampleCount: train.count, batchSize: 30, seed: 9, epochs: 3, replicas: replicas, window: 3,
                            streaming: .firstEpochCached)
        let teachers = try [Base.teacher(1), Base.teacher(2)]
        let logits = teachers.map { Evaluation.logits($0, on: train) }
        let targets = EnsembleTargets.compute(rule: .meanProbabilities, logits: logits, labels: train.labels, classes: 10, temperature: 4)
        let reference = try Self.singleProcess(plan: plan, train: train, targets: targets)

        let test = SyntheticImages.brightestPixel(count: 50, seed: 12)
        let outcome = try await Base.run(teachers: teachers, replicas: replicas, plan: plan, train: train, kd: Self.kd,
                                         rule: .meanProbabilities, test: test)
        // Replica 0 measured the ensemble on the test split from the logits the teachers sent last.
        let expected = EnsembleTargets.accuracy(logits: teachers.map { Evaluation.logits($0, on: test) }, labels: test.labels, classes: 10)
        #expect(try outcome.ensembleAccuracy?.get().ensemble == expected)
        // … and each teacher's, the number the teacher itself computes on the same logits.
        #expect(try outcome.ensembleAccuracy?.get().teachers == teachers.map { Evaluation.run($0, on: test).accuracy })
        for r in 1..<replicas { #expect(outcome.parameters[r] == outcome.parameters[0], "replica \(r) is bit-identical to 0") }
        let diff = Self.maxDifference(reference, outcome.parameters[0])
        print("offline cached: \(replicas) replica(s), 3 epochs: max |θ_cluster − θ_single| = \(diff)")
        #expect(diff <= 1e-5)
        // Epoch 0 only: every replica got every sample's logits from every teacher, once.
        for bytes in outcome.bytesSent { #expect(bytes == replicas * train.count * 10 * 4) }
        for cache in outcome.caches { #expect(cache?.isComplete == true) }
    }

    /// `training.label-fraction`: the replicas drop the hard-label term of the samples whose
    /// labels they do not see, and end where `distillery distill --label-fraction` (one process,
    /// the same mask) ends — and not where the run with every label ends.
    @Test(arguments: [1, 2])
    func aLabelledFractionMasksTheHardTermAsInOneProcess(replicas: Int) async throws {
        let train = Base.data(count: 240)
        let plan = StepPlan(sampleCount: train.count, batchSize: 30, seed: 9, epochs: 3, replicas: replicas, window: 3,
                            streaming: .firstEpochCached)
        let kd = KDLoss(temperature: 4, alpha: 0.5)   // a large hard-label term, so the mask matters
        let mask = try #require(train.labelMask(fraction: 0.1, seed: 3))
        #expect(Int(mask.reduce(0, +)) == train.stratifiedSample(fraction: 0.1, seed: 3).count && mask.reduce(0, +) < 40)
        let teachers = try [Base.teacher(1), Base.teacher(2)]
        let logits = teachers.map { Evaluation.logits($0, on: train) }
        let targets = EnsembleTargets.compute(rule: .meanProbabilities, logits: logits, labels: train.labels, classes: 10, temperature: 4)
        let masked = try Self.singleProcess(plan: plan, train: train, targets: targets, labelMask: mask, kd: kd)
        let everyLabel = try Self.singleProcess(plan: plan, train: train, targets: targets, kd: kd)
        let outcome = try await Base.run(teachers: teachers, replicas: replicas, plan: plan, train: train, kd: kd,
                                         rule: .meanProbabilities, labelMask: mask)
        let diff = Self.maxDifference(masked, outcome.parameters[0])
        print("label fraction 0.1: \(replicas) replica(s): max |θ_cluster − θ_single| = \(diff)")
        #expect(diff <= 1e-5)
        #expect(Self.maxDifference(everyLabel, outcome.parameters[0]) > 1e-3, "the mask changed the student")
        #expect(train.labelMask(fraction: 1, seed: 3) == nil)
    }

    @Test func everyEpochStreamingSendsEachReplicaOnlyItsShareEveryEpoch() async throws {
        let train = Base.data(count: 120)
        let plan = StepPlan(sampleCount: train.count, batchSize: 30, seed: 9, epochs: 3, replicas: 2, window: 2)
        let outcome = try await Base.run(teachers: [try Base.teacher(1)], replicas: 2, plan: plan, train: train, kd: Self.kd,
                                         rule: .meanProbabilities)
        #expect(outcome.bytesSent == [3 * train.count * 10 * 4])
        #expect(outcome.caches.allSatisfy { $0 == nil })
    }

    @Test func topKWithATailBucketAndFloat16MatchTheSameArithmeticInOneProcess() async throws {
        let train = Base.data(count: 240)
        let plan = StepPlan(sampleCount: train.count, batchSize: 30, seed: 9, epochs: 2, replicas: 2, window: 3,
                            streaming: .firstEpochCached)
        let codec = LogitsCodec(classes: 10, topK: 3, float16: true, temperature: 4)
        let teachers = try [Base.teacher(1), Base.teacher(2), Base.teacher(3)]
        // One process: each teacher's logits through the codec, the ensemble, the top-k cache.
        let decoded = try teachers.map { t in
            let z = Evaluation.logits(t, on: train)
            let encoded = z.withUnsafeBufferPointer { codec.encode($0.baseAddress!, rows: 0..<train.count) }
            return try codec.decode(encoded.frames, samples: train.count)
        }
        let ensemble = EnsembleTargets.compute(rule: .entropyWeighted, logits: decoded, labels: train.labels, classes: 10, temperature: 4)
        var cache = SoftLabelCache(count: train.count, classes: 10, topK: 3)
        var targets = [Float](repeating: 0, count: train.count * 10)
        ensemble.withUnsafeBufferPointer { e in
            targets.withUnsafeMutableBufferPointer { t in
                for i in 0..<train.count {
                    cache.store(sample: i, target: e.baseAddress! + i * 10)
                    cache.read(sample: i, into: t.baseAddress! + i * 10)
                }
            }
        }
        let reference = try Self.singleProcess(plan: plan, train: train, targets: targets)

        let outcome = try await Base.run(teachers: teachers, replicas: 2, plan: plan, train: train, kd: Self.kd,
                                         rule: .entropyWeighted, codec: codec)
        #expect(outcome.parameters[1] == outcome.parameters[0])
        let diff = Self.maxDifference(reference, outcome.parameters[0])
        print("offline top-3 float16: max |θ_cluster − θ_single| = \(diff)")
        #expect(diff <= 1e-5)
        // 3 probabilities (2 B) + 3 class indices (4 B) + a tail (2 B) per sample, vs 40 B in full.
        #expect(codec.bytesPerSample == 20)
        for bytes in outcome.bytesSent { #expect(bytes == 2 * train.count * 20) }
        #expect(outcome.caches[0]?.bytes == train.count * (3 * 8 + 4))
    }

    /// Micro-batches (one process's streaming) or whole batches to every replica (a cluster's
    /// online runs, so that their ring can change): the same student either way.
    @Test(arguments: [LogitsStreaming.everyEpoch, .everyEpochWholeBatch])
    func onlineTeachersTrainOnTheSameBatchesAndStreamTheirLogitsBeforeEachUpdate(streaming: LogitsStreaming) async throws {
        let train = Base.data(count: 180)
        let plan = StepPlan(sampleCount: train.count, batchSize: 30, seed: 9, epochs: 2, replicas: 2, window: 2, streaming: streaming)
        let teacherSettings = TrainingSettings(epochs: plan.epochs, batchSize: plan.batchSize, learningRate: 1e-2,
                                               optimizer: .sgd(momentum: 0.9, nesterov: false), seed: 4)
        let expected = try Self.onlineReference(teacherSeeds: [1, 2], plan: plan, train: train, settings: teacherSettings, mutual: 0)
        let teachers = try [Base.teacher(1), Base.teacher(2)]
        let outcome = try await Base.run(teachers: teachers, replicas: 2, plan: plan, train: train, kd: Self.kd,
                                         rule: .meanProbabilities, onlineSettings: teacherSettings)
        #expect(outcome.parameters[1] == outcome.parameters[0])
        let diff = Self.maxDifference(expected.student, outcome.parameters[0])
        print("online: max |θ_cluster − θ_single| = \(diff)")
        #expect(diff <= 1e-5)
        for (t, reference) in zip(teachers, expected.teachers) {
            #expect(Self.maxDifference(Base.parameters(t), reference) <= 1e-5, "teachers trained alike")
            #expect(Self.maxDifference(Base.parameters(t), Base.parameters(try Base.teacher(1))) > 1e-3 || t !== teachers[0],
                    "teacher 0 moved")
        }
        let copies = streaming == .everyEpoch ? 1 : plan.replicas  // each replica its micro-batch, or each the whole batch
        #expect(outcome.bytesSent.allSatisfy { $0 == copies * plan.epochs * train.count * 10 * 4 })
    }

    /// The mutual term: each of 3 online teachers also learns toward the mean of the other two's
    /// probabilities at T, from the logits all of them had before the step — the same arithmetic
    /// as in one process, and not the plain online run.
    @Test func onlineTeachersWithAMutualTermLearnFromEachOtherAsInOneProcess() async throws {
        let train = Base.data(count: 120)
        let plan = StepPlan(sampleCount: train.count, batchSize: 30, seed: 9, epochs: 2, replicas: 2, window: 2)
        let teacherSettings = TrainingSettings(epochs: plan.epochs, batchSize: plan.batchSize, learningRate: 1e-2,
                                               optimizer: .sgd(momentum: 0.9, nesterov: false), seed: 4)
        let beta: Float = 0.5
        let expected = try Self.onlineReference(teacherSeeds: [1, 2, 3], plan: plan, train: train, settings: teacherSettings, mutual: beta)
        let plain = try Self.onlineReference(teacherSeeds: [1, 2, 3], plan: plan, train: train, settings: teacherSettings, mutual: 0)
        let teachers = try [Base.teacher(1), Base.teacher(2), Base.teacher(3)]
        let outcome = try await Base.run(teachers: teachers, replicas: 2, plan: plan, train: train, kd: Self.kd,
                                         rule: .meanProbabilities, onlineSettings: teacherSettings, mutual: beta)
        #expect(outcome.parameters[1] == outcome.parameters[0])
        let diff = Self.maxDifference(expected.student, outcome.parameters[0])
        print("online, mutual 0.5: max |θ_cluster − θ_single| = \(diff)")
        #expect(diff <= 1e-5)
        for (k, t) in teachers.enumerated() {
            let mine = Base.parameters(t)
            #expect(Self.maxDifference(mine, expected.teachers[k]) <= 1e-5, "teacher \(k) learnt as in one process")
            #expect(Self.maxDifference(mine, plain.teachers[k]) > 1e-4, "teacher \(k)'s mutual term changed its training")
        }
    }

    /// Online distillation in one process: per step, the teachers' current logits → ensemble →
    /// student step; then each teacher's step (cross-entropy, plus with `mutual` > 0 the KL
    /// term toward the mean of the other teachers' probabilities at T).
    static func onlineReference(teacherSeeds: [UInt64], plan: StepPlan, train: LabeledImages, settings teacherSettings: TrainingSettings,
                                mutual: Float) throws -> (student: [Float], teachers: [[Float]]) {
        let teachers = try teacherSeeds.map { Trainer(model: try Base.teacher($0), settings: teacherSettings) }
        let student = try Base.studentTrainer(plan: plan)
        let totalSteps = plan.stepsPerEpoch * plan.epochs
        var pixels = [Float](repeating: 0, count: plan.batchSize * train.features)
        var labels = [Int32](repeating: 0, count: plan.batchSize)
        for e in 0..<plan.epochs {
            let batches = plan.batches(epoch: e)
            for step in 0..<batches.stepsPerEpoch {
                let batch = batches.batch(step: step)
                let y = batch.map { train.labels[$0] }
                let logits: [[Float]] = teachers.map { t in
                    pixels.withUnsafeMutableBufferPointer { px in
                        labels.withUnsafeMutableBufferPointer { lb in
                            train.gather(indices: batch, into: px.baseAddress!, labels: lb.baseAddress!)
                            let out = t.model.forward(px.baseAddress!, batch: batch.count, mode: .inference)
                            return Array(UnsafeBufferPointer(start: out, count: batch.count * 10))
                        }
                    }
                }
                let targets = EnsembleTargets.compute(rule: .meanProbabilities, logits: logits, labels: y, classes: 10, temperature: 4)
                _ = student.accumulateGradients(batch: batch, train: train, objective: .batchDistillation(loss: Self.kd, targets: targets))
                student.applyGradients(learningRate: student.settings.schedule.rate(
                    base: student.settings.learningRate, step: student.globalStep, totalSteps: totalSteps))
                for (k, t) in teachers.enumerated() {
                    var objective = Objective.crossEntropy
                    if mutual > 0 {
                        let others = logits.enumerated().filter { $0.offset != k }.map(\.element)
                        let p = EnsembleTargets.compute(rule: .meanProbabilities, logits: others, labels: y, classes: 10, temperature: 4)
                        objective = .batchDistillation(loss: KDLoss(temperature: 4, alpha: mutual), targets: p)
                    }
                    _ = t.accumulateGradients(batch: batch, train: train, objective: objective)
                    t.applyGradients(learningRate: teacherSettings.learningRate)
                }
            }
        }
        return (Base.parameters(student.model), teachers.map { Base.parameters($0.model) })
    }
}
