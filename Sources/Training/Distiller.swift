import Clocks
import Datasets
import Distillation
import Foundation
import NN
import Tensor

/// Offline multi-teacher distillation in one process — the reference the cluster must match.
///
/// 1. Each frozen teacher computes logits for every training sample (inference mode).
/// 2. The ensemble rule turns the K logit sets into soft targets at temperature T, once:
///    without augmentation the targets never change, so they are cached for all epochs.
/// 3. The student trains on `KDLoss` toward those targets (labels optionally masked).
public struct Distiller {
    public var kd: KDLoss
    public var rule: EnsembleRule
    public var settings: TrainingSettings
    /// Times the epochs of `train` (`EpochReport.seconds`).
    public var clock: any RuntimeClock

    public init(kd: KDLoss, rule: EnsembleRule, settings: TrainingSettings, clock: any RuntimeClock = SystemRuntimeClock()) {
        self.kd = kd; self.rule = rule; self.settings = settings; self.clock = clock
    }

    /// Soft targets `[N × C]` of the teachers on `data` at the loss's temperature.
    public func ensembleTargets(teachers: [Sequential], on data: LabeledImages) throws(EnsembleRuleError) -> [Float] {
        try ensembleTargets(teacherLogits: teachers.map { Evaluation.logits($0, on: data) }, on: data)
    }

    /// Soft targets from teachers' logits already computed on `data` (`[N × C]` each, e.g. cached).
    public func ensembleTargets(teacherLogits: [[Float]], on data: LabeledImages) throws(EnsembleRuleError) -> [Float] {
        try rule.validate(teacherCount: teacherLogits.count)
        return EnsembleTargets.compute(rule: rule, logits: teacherLogits, labels: data.labels, classes: data.classCount,
                                       temperature: kd.temperature)
    }

    /// Trains `student` toward `targets`. `labelMask[N]` (1 = visible) for semi-supervised runs.
    @discardableResult
    public func train(student: Sequential, train: LabeledImages, targets: [Float], labelMask: [Float]? = nil,
                      validation: LabeledImages? = nil, observer: (any TrainingObserver)? = nil) -> [EpochReport] {
        let trainer = Trainer(model: student, settings: settings, observer: observer, clock: clock)
        return trainer.fit(train: train, validation: validation, objective: .distillation(loss: kd, targets: targets, labelMask: labelMask))
    }
}

/// Applying an ensemble rule to whole logit sets.
public enum EnsembleTargets {
    /// `logits[k]` is teacher k's `[N × C]`; returns the `[N × C]` targets at temperature T.
    public static func compute(rule: EnsembleRule, logits: [[Float]], labels: [Int32], classes: Int, temperature: Float) -> [Float] {
        let n = labels.count
        var out = [Float](repeating: 0, count: n * classes)
        withPointers(logits) { teachers in
            labels.withUnsafeBufferPointer { lb in
                out.withUnsafeMutableBufferPointer { o in
                    rule.target(teachers: teachers, labels: lb.baseAddress!, batch: n, classes: classes,
                                temperature: temperature, into: o.baseAddress!)
                }
            }
        }
        return out
    }

    /// The ensemble's predicted class of each sample: the argmax of the mean of probabilities at
    /// T = 1 (which needs no labels; `labels` only sizes the rows).
    public static func predictions(logits: [[Float]], labels: [Int32], classes: Int) -> [Int] {
        let probs = compute(rule: .meanProbabilities, logits: logits, labels: labels, classes: classes, temperature: 1)
        return probs.withUnsafeBufferPointer { Rows.argmax($0.baseAddress!, rows: labels.count, cols: classes) }
    }

    /// Accuracy of the ensemble's prediction (``predictions(logits:labels:classes:)``).
    public static func accuracy(logits: [[Float]], labels: [Int32], classes: Int) -> Float {
        Evaluation.accuracy(predicted: predictions(logits: logits, labels: labels, classes: classes), labels: labels)
    }

    private static func withPointers<R>(_ arrays: [[Float]], _ body: ([UnsafePointer<Float>]) -> R) -> R {
        var pointers: [UnsafePointer<Float>] = []
        func recurse(_ i: Int) -> R {
            if i == arrays.count { return body(pointers) }
            return arrays[i].withUnsafeBufferPointer { p in
                pointers.append(p.baseAddress!)
                defer { pointers.removeLast() }
                return recurse(i + 1)
            }
        }
        return recurse(0)
    }
}

/// Inference latency of a model: median milliseconds for one sample and rows/s at a large batch.
public struct LatencyMeasurement: Sendable {
    public var singleSampleMilliseconds: Double
    public var rowsPerSecond: Double

    /// Times `repeats` single-sample forward passes and 3 passes over `batch` rows on `clock`.
    public static func measure(_ model: Sequential, batch: Int = 1000, repeats: Int = 50,
                               clock: any RuntimeClock = SystemRuntimeClock()) -> LatencyMeasurement {
        let x = [Float](repeating: 0.1, count: batch * model.inputFeatures)
        var singles: [Double] = []
        x.withUnsafeBufferPointer { p in
            for _ in 0..<repeats {
                let t0 = clock.instant()
                _ = model.forward(p.baseAddress!, batch: 1, mode: .inference)
                singles.append(clock.elapsed(since: t0).inSeconds * 1e3)
            }
        }
        singles.sort()
        let rounds = 3
        let t0 = clock.instant()
        x.withUnsafeBufferPointer { p in for _ in 0..<rounds { _ = model.forward(p.baseAddress!, batch: batch, mode: .inference) } }
        let seconds = clock.elapsed(since: t0).inSeconds
        return LatencyMeasurement(singleSampleMilliseconds: singles[singles.count / 2], rowsPerSecond: Double(batch * rounds) / seconds)
    }
}
