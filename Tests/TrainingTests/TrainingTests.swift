import Datasets
import Distillation
import Foundation
import NN
import Tensor
import Testing
import Training

private let dataAvailable = FileManager.default.fileExists(atPath: FashionMNIST.resolvedDirectory() + "/t10k-images-idx3-ubyte.gz")

/// Small real-data subsets, loaded once for the whole suite.
private let smallData: DataBundle? = try? DataBundle.load(validationCount: 0, seed: 1, trainLimit: 3000, testLimit: 1000)

@Suite(.enabled(if: dataAvailable, "Fashion-MNIST is not installed: run Scripts/setup"))
struct TrainingTests {
    func data() throws -> DataBundle { try #require(smallData) }

    @Test func sameSeedGivesABitIdenticalRunAndAnotherSeedDoesNot() throws {
        let d = try data()
        let train = d.train.prefix(512)
        func run(seed: UInt64) throws -> UInt64 {
            let m = try ModelSpec(parsing: "mlp:784-32-10,dropout=0.2").build(dataShape: train.sampleShape, seed: seed)
            let s = TrainingSettings(epochs: 2, batchSize: 64, learningRate: 0.05, optimizer: .sgd(momentum: 0.9, nesterov: true),
                                     weightDecay: 1e-4, schedule: .cosine(warmup: 2, minimum: 0), seed: seed)
            Trainer(model: m, settings: s).fit(train: train)
            return m.parameterHash
        }
        let a = try run(seed: 7), b = try run(seed: 7), c = try run(seed: 8)
        #expect(a == b)
        #expect(a != c)
    }

    @Test func mlpLearnsFashionMNISTSubset() throws {
        let d = try data()
        let m = try ModelSpec(parsing: "mlp:784-128-10").build(dataShape: d.train.sampleShape, seed: 1)
        let before = Evaluation.run(m, on: d.test)
        let reports = Trainer(model: m, settings: TrainingSettings(epochs: 3, batchSize: 64, learningRate: 2e-3)).fit(train: d.train, validation: d.test)
        let after = Evaluation.run(m, on: d.test)
        #expect(before.accuracy < 0.3)
        #expect(after.accuracy > 0.75, "test accuracy \(after.accuracy)")
        #expect(reports.last!.trainLoss < reports.first!.trainLoss)
        #expect(reports.last!.validation == after)
    }

    @Test func cnnWithBatchNormLearns() throws {
        let d = try data()
        let m = try ModelSpec(parsing: "cnn:1x28x28-c8-p2-c8-p2-fc10,bn").build(dataShape: d.train.sampleShape, seed: 1)
        let s = TrainingSettings(epochs: 2, batchSize: 50, learningRate: 0.05, optimizer: .sgd(momentum: 0.9, nesterov: false))
        Trainer(model: m, settings: s).fit(train: d.train.prefix(1500))
        let r = Evaluation.run(m, on: d.test)
        #expect(r.accuracy > 0.65, "test accuracy \(r.accuracy)")
    }

    /// With α = 1 the student sees only the teacher: it must come to agree with it.
    @Test func distilledStudentAgreesWithItsTeacher() throws {
        let d = try data()
        let teacher = try ModelSpec(parsing: "mlp:784-128-10").build(dataShape: d.train.sampleShape, seed: 2)
        Trainer(model: teacher, settings: TrainingSettings(epochs: 2, batchSize: 64, learningRate: 2e-3)).fit(train: d.train)
        let distiller = Distiller(kd: KDLoss(temperature: 4, alpha: 1), rule: .meanProbabilities,
                                  settings: TrainingSettings(epochs: 3, batchSize: 64, learningRate: 3e-3))
        let targets = try distiller.ensembleTargets(teachers: [teacher], on: d.train)
        let student = try ModelSpec(parsing: "mlp:784-32-10").build(dataShape: d.train.sampleShape, seed: 3)
        func agreement() -> Float {
            let t = Evaluation.logits(teacher, on: d.test), s = Evaluation.logits(student, on: d.test)
            let tp = t.withUnsafeBufferPointer { Rows.argmax($0.baseAddress!, rows: d.test.count, cols: 10) }
            let sp = s.withUnsafeBufferPointer { Rows.argmax($0.baseAddress!, rows: d.test.count, cols: 10) }
            return Float(zip(tp, sp).filter { $0 == $1 }.count) / Float(d.test.count)
        }
        let before = agreement()
        let reports = distiller.train(student: student, train: d.train, targets: targets)
        let after = agreement()
        #expect(before < 0.4)
        #expect(after > 0.85, "agreement \(after)")
        #expect(reports.last!.trainLoss < reports.first!.trainLoss)
    }

    @Test func ensembleTargetsAreDistributionsAndMatchTheRule() throws {
        let d = try data()
        let test = d.test.prefix(200)
        let teachers = try (1...3).map { s in try ModelSpec(parsing: "mlp:784-16-10").build(dataShape: test.sampleShape, seed: UInt64(s)) }
        let logits = teachers.map { Evaluation.logits($0, on: test) }
        let t = EnsembleTargets.compute(rule: .meanProbabilities, logits: logits, labels: test.labels, classes: 10, temperature: 2)
        // Row 0 by hand: mean of the three softened distributions.
        var manual = [Float](repeating: 0, count: 10)
        for l in logits {
            var p = [Float](repeating: 0, count: 10)
            Rows.softmax(Array(l[0..<10]), &p, rows: 1, cols: 10, temperature: 2)
            for c in 0..<10 { manual[c] += p[c] / 3 }
        }
        for c in 0..<10 { #expect(abs(t[c] - manual[c]) < 1e-6) }
        for r in 0..<test.count { #expect(abs(t[(r * 10)..<(r * 10 + 10)].reduce(0, +) - 1) < 1e-5) }
    }

    @Test func settingsRejectOutOfRangeValuesWithTheirName() throws {
        #expect(throws: SettingsError.self) { try TrainingSettings(epochs: 0).validate() }
        #expect(throws: SettingsError.self) { try TrainingSettings(batchSize: 0).validate() }
        #expect(throws: SettingsError.self) { try TrainingSettings(learningRate: -1).validate() }
        #expect(throws: SettingsError.self) { try OptimizerChoice(parsing: "lbfgs") }
        #expect(throws: SettingsError.self) { try TrainingSettings.parseSchedule("step:0:0.5", stepsPerEpoch: 10) }
        #expect(try TrainingSettings.parseSchedule("step:2:0.5", stepsPerEpoch: 10) == .step(every: 20, gamma: 0.5))
        #expect(try TrainingSettings.parseSchedule("cosine:1", stepsPerEpoch: 10) == .cosine(warmup: 10, minimum: 0))
        do { try TrainingSettings(epochs: -3).validate() } catch { #expect(error.description.contains("epochs")) }
    }
}
