import Clocks
import Datasets
import Distillation
import Foundation
import NN
import Tensor

/// What a training step minimises.
public enum Objective: Sendable {
    /// Cross-entropy on the hard labels (with the settings' label smoothing).
    case crossEntropy
    /// Knowledge distillation toward fixed soft targets: `targets[N × C]` are the ensemble's
    /// probabilities at `loss.temperature`, aligned with the training samples;
    /// `labelMask[N]` (1 = label visible) hides labels for semi-supervised transfer.
    case distillation(loss: KDLoss, targets: [Float], labelMask: [Float]?)
    /// Knowledge distillation toward soft targets given for this step's batch only:
    /// `targets[n × C]`, row j for sample `batch[j]` (a student replica builds them per step
    /// from streamed or cached soft labels); `labelMask[n]` (1 = label visible), row j for
    /// `batch[j]`, hides labels as in `distillation`. Only for `accumulateGradients`, not whole
    /// epochs.
    case batchDistillation(loss: KDLoss, targets: [Float], labelMask: [Float]? = nil)
}

/// One epoch's figures.
public struct EpochReport: Sendable, Equatable {
    public var epoch: Int
    public var trainLoss: Float
    public var trainAccuracy: Float
    public var validation: Evaluation?
    public var seconds: Double
    public var samplesPerSecond: Double
    public var learningRate: Float
}

/// Receives progress while a model trains (the CLI draws a progress bar from it).
public protocol TrainingObserver: AnyObject {
    func stepCompleted(epoch: Int, step: Int, of steps: Int, loss: Float)
    func epochCompleted(_ report: EpochReport)
}

/// Mini-batch training of a Sequential on labelled images.
///
/// Epoch e visits the training set in the order `Permutation.of(count, seed, e)`; step i
/// takes samples `[i·B, (i+1)·B)` of it (the last partial batch is kept). Each step:
/// forward (training mode) → loss and ∂L/∂logits → zero gradients → backward → optimizer
/// step at the schedule's rate. Everything is seeded, so a run is reproducible bit for bit.
public final class Trainer {
    public let model: Sequential
    public let settings: TrainingSettings
    public let optimizer: any Optimizer
    /// Held strongly: observers do not reference the trainer, and callers often pass a temporary.
    public var observer: (any TrainingObserver)?
    /// Times the epochs (`EpochReport.seconds`, samples/s).
    public let clock: any RuntimeClock
    public private(set) var globalStep = 0
    private var buffers = StepBuffers()

    public init(model: Sequential, settings: TrainingSettings, observer: (any TrainingObserver)? = nil,
                clock: any RuntimeClock = SystemRuntimeClock()) {
        self.model = model; self.settings = settings; self.observer = observer; self.clock = clock
        optimizer = settings.makeOptimizer(parameterCount: model.parameterCount)
    }

    /// Trains for `settings.epochs` epochs; evaluates on `validation` after each epoch.
    @discardableResult
    public func fit(train: LabeledImages, validation: LabeledImages? = nil, objective: Objective = .crossEntropy) -> [EpochReport] {
        (0..<settings.epochs).map { epoch in trainEpoch(epoch, train: train, validation: validation, objective: objective) }
    }

    public func trainEpoch(_ epoch: Int, train: LabeledImages, validation: LabeledImages?, objective: Objective) -> EpochReport {
        if case .batchDistillation = objective { preconditionFailure("batch targets serve one step; give an epoch whole-set targets") }
        let plan = BatchPlan(count: train.count, batchSize: settings.batchSize, dropLast: false, seed: settings.seed, epoch: epoch)
        let totalSteps = plan.stepsPerEpoch * settings.epochs
        var lossSum: Double = 0, correct = 0, seen = 0
        var lr = settings.learningRate
        let started = clock.instant()
        for step in 0..<plan.stepsPerEpoch {
            let batch = plan.batch(step: step)
            let n = batch.count
            lr = settings.schedule.rate(base: settings.learningRate, step: globalStep, totalSteps: totalSteps)
            let result = accumulateGradients(batch: batch, train: train, objective: objective)
            applyGradients(learningRate: lr)
            correct += result.correct
            lossSum += Double(result.loss) * Double(n)
            seen += n
            observer?.stepCompleted(epoch: epoch, step: step + 1, of: plan.stepsPerEpoch, loss: result.loss)
        }
        let seconds = clock.elapsed(since: started).inSeconds
        let validationResult = validation.map { Evaluation.run(model, on: $0) }
        let report = EpochReport(epoch: epoch, trainLoss: Float(lossSum / Double(max(seen, 1))),
                                 trainAccuracy: Float(correct) / Float(max(seen, 1)), validation: validationResult,
                                 seconds: seconds, samplesPerSecond: Double(seen) / max(seconds, 1e-9), learningRate: lr)
        observer?.epochCompleted(report)
        return report
    }

    /// Forward and backward on the samples `batch` of `train`: zeroes the gradient arena and
    /// leaves in it ∂L/∂θ of the batch-mean loss, multiplied by `scale`. Returns the batch-mean
    /// loss and the number of correct predictions.
    ///
    /// Data parallelism uses `scale`: replica r of a global batch of N samples computes its
    /// slice of n_r samples with scale n_r/N, so the sum over replicas (all-reduce) is exactly
    /// the gradient of the global batch's mean loss, Σ_r (n_r/N)·∇mean_r = ∇mean.
    public func accumulateGradients(batch: ArraySlice<Int>, train: LabeledImages, objective: Objective,
                                    scale: Float = 1) -> (loss: Float, correct: Int) {
        let n = batch.count, classes = model.outputFeatures
        // Worked on as a local (swapped out, not copied), so its arrays can be borrowed side by side.
        var buffers = StepBuffers()
        swap(&buffers, &self.buffers)
        defer { swap(&buffers, &self.buffers) }
        buffers.reserve(batch: n, features: train.features, classes: classes)
        var correct = 0
        let loss: Float = buffers.pixels.withUnsafeMutableBufferPointer { px in
            buffers.labels.withUnsafeMutableBufferPointer { lb in
                buffers.dLogits.withUnsafeMutableBufferPointer { dz in
                    train.gather(indices: batch, into: px.baseAddress!, labels: lb.baseAddress!)
                    let out = model.forward(px.baseAddress!, batch: n, mode: .training)
                    correct = CrossEntropy.correctCount(logits: out, labels: lb.baseAddress!, batch: n, classes: classes)
                    let value: Float
                    switch objective {
                    case .crossEntropy:
                        value = CrossEntropy.loss(logits: out, labels: lb.baseAddress!, batch: n, classes: classes,
                                                  smoothing: settings.labelSmoothing, gradient: dz.baseAddress!)
                    case .distillation(let kd, let targets, let labelMask):
                        value = distillationLoss(kd, student: out, batch: batch, targets: targets, labelMask: labelMask,
                                                 labels: lb.baseAddress!, gradient: dz.baseAddress!,
                                                 target: &buffers.target, mask: &buffers.mask)
                    case .batchDistillation(let kd, let targets, let labelMask):
                        precondition(targets.count == n * classes, "batch targets must be [\(n) × \(classes)], got \(targets.count) values")
                        precondition(labelMask == nil || labelMask!.count == n, "a batch label mask must have \(n) rows")
                        value = targets.withUnsafeBufferPointer { tg in
                            if let labelMask {
                                return labelMask.withUnsafeBufferPointer { mk in
                                    kd.evaluate(student: out, target: tg.baseAddress!, labels: lb.baseAddress!, batch: n, classes: classes,
                                                gradient: dz.baseAddress!, labelMask: mk.baseAddress!).total
                                }
                            }
                            return kd.evaluate(student: out, target: tg.baseAddress!, labels: lb.baseAddress!, batch: n, classes: classes,
                                               gradient: dz.baseAddress!, labelMask: nil).total
                        }
                    }
                    if scale != 1 { for i in 0..<(n * classes) { dz[i] *= scale } }
                    model.zeroGradients()
                    model.backward(dz.baseAddress!)
                    return value
                }
            }
        }
        return (loss, correct)
    }

    /// Sets the count of steps taken: for a replica that took over another's parameters and
    /// optimizer state (whose own step count it restores separately) at that step.
    public func restore(globalStep step: Int) {
        globalStep = step
    }

    /// One optimizer step with the gradient in the arena (after an all-reduce, the summed one).
    public func applyGradients(learningRate: Float) {
        model.apply(optimizer, learningRate: learningRate)
        globalStep += 1
    }

    /// Copies the batch's rows of the cached soft targets (and label mask) into the step's
    /// buffers, then evaluates the KD loss and writes ∂L/∂logits.
    private func distillationLoss(
        _ kd: KDLoss, student out: UnsafePointer<Float>, batch: ArraySlice<Int>, targets: [Float], labelMask: [Float]?,
        labels: UnsafePointer<Int32>, gradient: UnsafeMutablePointer<Float>, target: inout [Float], mask: inout [Float]
    ) -> Float {
        let classes = model.outputFeatures
        targets.withUnsafeBufferPointer { src in
            target.withUnsafeMutableBufferPointer { dst in
                for (row, i) in batch.enumerated() {
                    (dst.baseAddress! + row * classes).update(from: src.baseAddress! + i * classes, count: classes)
                }
            }
        }
        if let labelMask { for (row, i) in batch.enumerated() { mask[row] = labelMask[i] } }
        return target.withUnsafeBufferPointer { tg in
            mask.withUnsafeBufferPointer { mk in
                kd.evaluate(student: out, target: tg.baseAddress!, labels: labels, batch: batch.count, classes: classes,
                            gradient: gradient, labelMask: labelMask == nil ? nil : mk.baseAddress!).total
            }
        }
    }
}

/// A step's scratch buffers, grown to the largest batch seen and then reused.
struct StepBuffers {
    var pixels: [Float] = []
    var labels: [Int32] = []
    var target: [Float] = []
    var mask: [Float] = []
    var dLogits: [Float] = []

    mutating func reserve(batch: Int, features: Int, classes: Int) {
        if pixels.count < batch * features { pixels = [Float](repeating: 0, count: batch * features) }
        if labels.count < batch { labels = [Int32](repeating: 0, count: batch) }
        if target.count < batch * classes { target = [Float](repeating: 0, count: batch * classes) }
        if mask.count < batch { mask = [Float](repeating: 1, count: batch) }
        if dLogits.count < batch * classes { dLogits = [Float](repeating: 0, count: batch * classes) }
    }
}
