import Datasets
import Foundation
import Logging
import NN
import RunSpec
import Training
import Wire

extension TaskRunner {
    /// `training.baseline`: what distillation gained. Student rank 0, after the run's student is
    /// stored, trains the same student (same spec, same seed, same optimizer, schedule and
    /// global batch) from scratch with cross-entropy on the images whose labels the student saw
    /// (all, or the `training.label-fraction` sample), for as many optimizer steps as the
    /// distillation took (epochs = round(distillation steps / steps per epoch of the labelled
    /// images), at least 1) — the control of Hinton et al. 2015 §3 and of `distillery distill
    /// --baseline`. Reports `baseline.test_accuracy`, `baseline.epochs` and `baseline.labelled`
    /// (the images it trained on), and its validation accuracy after each epoch is not sent
    /// (it is a control, not a curve).
    func trainBaseline(_ assign: AssignTask, spec: RunSpec, studentSpec: ModelSpec, bundle: DataBundle, plan: StepPlan) throws(TaskFailure) {
        let labelled = spec.training.labelFraction < 1
            ? bundle.train.stratifiedSample(fraction: Double(spec.training.labelFraction), seed: spec.training.seed)
            : Array(0..<bundle.train.count)
        let data = bundle.train.subset(labelled)
        let batch = min(spec.training.batch, data.count)
        let stepsPerEpoch = (data.count + batch - 1) / batch
        var recipe = spec.training
        recipe.batch = batch
        recipe.epochs = max(1, Int((Double(plan.epochs * plan.stepsPerEpoch) / Double(stepsPerEpoch)).rounded()))
        let net: Sequential, settings: TrainingSettings
        do {
            net = try studentSpec.build(dataShape: bundle.train.sampleShape, seed: spec.training.seed)
            settings = try recipe.trainingSettings(stepsPerEpoch: stepsPerEpoch)
        } catch {
            throw TaskFailure("baseline: \(error)")
        }
        let text = "\(assign.taskID): baseline: the same student from scratch on \(data.count) labelled images, \(recipe.epochs) epochs "
            + "(\(recipe.epochs * stepsPerEpoch) steps)"
        logger.info("\(text)")
        let observer = ProgressReporter(interval: reportInterval, clock: clock) { [self] _, epoch in
            setCurrent(assign, "\(assign.taskID) baseline epoch \(epoch + 1)/\(recipe.epochs)")
        }
        let trainer = Trainer(model: net, settings: settings, observer: observer, clock: stopwatch)
        for epoch in 0..<recipe.epochs {
            if isCancelled(assign.runID) { return }
            _ = trainer.trainEpoch(epoch, train: data, validation: nil, objective: .crossEntropy)
        }
        let test = Evaluation.run(net, on: bundle.test)
        metrics(assign, epoch: plan.epochs, step: plan.epochs * plan.stepsPerEpoch,
                [("baseline.test_accuracy", Double(test.accuracy)), ("baseline.epochs", Double(recipe.epochs)),
                 ("baseline.labelled", Double(data.count))])
        logger.info("\(assign.taskID): baseline test accuracy \(String(format: "%.2f%%", Double(test.accuracy) * 100))")
    }
}
