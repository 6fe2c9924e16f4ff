import Datasets
import Foundation
import Logging
import NN
import RunSpec
import Synchronization
import Training
import Wire

/// Runs a worker's tasks on threads of their own — never on Swift's cooperative pool, where
/// CPU-bound training would starve heartbeats and timeouts — and queues their `TaskStatus`
/// reports for the worker's loop to send.
///
/// Teacher tasks prepare their teacher: train it from its recipe on the run's data shard
/// (validation images held out with the run's seed, as every node derives them), or load
/// its checkpoint, and keep it under `<cache>/teachers/<run>/teacher-<i>.safetensors`.
/// Progress is reported at most every `reportInterval`. Student replicas need the data plane
/// (logit streams and ring all-reduce), which this release does not have: they fail at once
/// with that reason.
final class TaskRunner: Sendable {
    let workerName: String
    let cacheDirectory: String
    let cache: ShardCache
    let logger: Logger
    let reportInterval: Double = 0.5
    private let reports = Mutex<[Body]>([])
    private let cancelled = Mutex<Set<String>>([])
    private let current = Mutex<[String: String]>([:])

    init(workerName: String, cacheDirectory: String, cache: ShardCache, logger: Logger) {
        self.workerName = workerName
        self.cacheDirectory = cacheDirectory
        self.cache = cache
        self.logger = logger
    }

    /// What the worker is doing, for heartbeats ("run-3/teacher-1 epoch 2/10", or "").
    var currentTask: String { current.withLock { $0.values.sorted().joined(separator: "; ") } }

    /// `TaskStatus` and `Metrics` messages, in the order the tasks produced them.
    func drainReports() -> [Body] {
        reports.withLock { r in defer { r.removeAll() }; return r }
    }

    func cancel(runID: String) { cancelled.withLock { _ = $0.insert(runID) } }
    func cancelAll() { cancelled.withLock { _ = $0.insert("*") } }

    private func isCancelled(_ runID: String) -> Bool {
        cancelled.withLock { $0.contains(runID) || $0.contains("*") }
    }

    private func report(_ assign: AssignTask, _ state: TaskState, reason: String = "", done: UInt64 = 0, total: UInt64 = 0) {
        let status = TaskStatus(runID: assign.runID, taskID: assign.taskID, state: state, reason: reason, done: done, total: total)
        reports.withLock { $0.append(.taskStatus(status)) }
    }

    /// Per-epoch figures of a task, named `teacher<i>.<figure>` so the coordinator can show
    /// the latest of every teacher side by side.
    private func metrics(_ assign: AssignTask, epoch: Int, step: Int, _ values: [(String, Double)]) {
        let m = Metrics(runID: assign.runID, epoch: UInt32(epoch), step: UInt64(step),
                        values: values.filter { $0.1.isFinite }.map { MetricValue(name: $0.0, value: $0.1) })
        reports.withLock { $0.append(.metrics(m)) }
    }

    /// Starts `assign` on a new thread.
    func start(_ assign: AssignTask) {
        let thread = Thread { [self] in
            current.withLock { $0[assign.taskID] = assign.taskID }
            defer { current.withLock { $0[assign.taskID] = nil } }
            do {
                switch assign.task {
                case .teacher(let teacher): try prepareTeacher(assign, teacher)
                case .student:
                    report(assign, .failed, reason: "student replicas need the distributed data plane (logit streams and "
                        + "ring all-reduce), which this Distillery release does not have yet")
                case nil:
                    report(assign, .failed, reason: "the assignment carries no task")
                }
            } catch {
                logger.error("\(assign.taskID) failed: \(error)")
                report(assign, .failed, reason: "\(error)")
            }
        }
        thread.name = "distillery-task"
        thread.stackSize = 8 << 20
        thread.start()
    }

    private func prepareTeacher(_ assign: AssignTask, _ task: TeacherTask) throws(TaskFailure) {
        let spec: RunSpec
        do { spec = try RunSpec(yaml: assign.runSpecYaml, fileName: "run \(assign.runID)") } catch {
            throw TaskFailure("the run spec sent by the coordinator does not parse here: \(error)")
        }
        let index = Int(task.teacherIndex)
        guard index < spec.teachers.count else {
            throw TaskFailure("teacher \(index) does not exist: the run has \(spec.teachers.count) teachers")
        }
        let teacher = spec.teachers[index]
        let out = "\(cacheDirectory)/teachers/\(assign.runID)/teacher-\(index).safetensors"
        switch teacher.source {
        case .checkpoint(let path):
            guard FileManager.default.fileExists(atPath: path) else {
                throw TaskFailure("checkpoint \(path) is not on worker \(workerName); copy it there (shipping "
                    + "checkpoints to workers comes with the data plane)")
            }
            guard let data = FileManager.default.contents(atPath: path), SHA256.hex([UInt8](data)) == task.checkpointHash else {
                throw TaskFailure("checkpoint \(path) on worker \(workerName) is not the file the coordinator has (SHA-256 "
                    + "differs); copy the same file there")
            }
            do { _ = try ModelCheckpoint.read(from: path) } catch { throw TaskFailure("checkpoint \(path): \(error)") }
            report(assign, .completed)
        case .train(let recipe):
            try train(assign, spec: spec, index: index, model: teacher.model, recipe: recipe, out: out)
        }
    }

    private func train(_ assign: AssignTask, spec: RunSpec, index: Int, model: String, recipe: TeacherRecipe,
                       out: String) throws(TaskFailure) {
        let bundle: DataBundle
        do {
            let (train, test) = try DatasetShard.unpack(try cache.load(assign.shardHash))
            var b = DataBundle.split(train: train, test: test, validationCount: spec.dataset.validation, seed: spec.training.seed)
            if recipe.bootstrap { b.train = b.train.subset(b.train.bootstrapIndices(seed: recipe.seed)) }
            bundle = b
        } catch {
            throw TaskFailure("data shard \(assign.shardHash.prefix(12)): \(error)")
        }
        let stepsPerEpoch = (bundle.train.count + recipe.batch - 1) / recipe.batch
        let settings: TrainingSettings
        let net: Sequential
        let modelSpec: ModelSpec
        do {
            modelSpec = try ModelSpec(parsing: model)
            settings = TrainingSettings(
                epochs: recipe.epochs, batchSize: recipe.batch, learningRate: recipe.learningRate,
                optimizer: try OptimizerChoice(parsing: recipe.optimizer), weightDecay: recipe.weightDecay,
                schedule: try TrainingSettings.parseSchedule(recipe.schedule, stepsPerEpoch: stepsPerEpoch), seed: recipe.seed)
            net = try modelSpec.build(dataShape: bundle.train.sampleShape, seed: recipe.seed)
        } catch {
            throw TaskFailure("teacher \(index): \(error)")
        }
        let total = UInt64(recipe.epochs * stepsPerEpoch)
        let observer = ProgressReporter(interval: reportInterval) { [self] done, epoch in
            current.withLock { $0[assign.taskID] = "\(assign.taskID) epoch \(epoch + 1)/\(recipe.epochs)" }
            report(assign, .running, done: done, total: total)
        }
        report(assign, .running, done: 0, total: total)
        let trainer = Trainer(model: net, settings: settings, observer: observer)
        var last: EpochReport?
        for epoch in 0..<recipe.epochs {
            if isCancelled(assign.runID) {
                logger.info("\(assign.taskID) cancelled after \(epoch) epoch(s)")
                return
            }
            let report = trainer.trainEpoch(epoch, train: bundle.train, validation: bundle.validation, objective: .crossEntropy)
            var figures: [(String, Double)] = [("teacher\(index).train_loss", Double(report.trainLoss)),
                                               ("teacher\(index).samples_per_s", report.samplesPerSecond)]
            if let v = report.validation { figures.append(("teacher\(index).val_accuracy", Double(v.accuracy))) }
            metrics(assign, epoch: epoch + 1, step: trainer.globalStep, figures)
            last = report
        }
        let test = Evaluation.run(net, on: bundle.test)
        var metadata = ["seed": String(recipe.seed), "epochs": String(recipe.epochs), "run": assign.runID,
                        "teacher": String(index), "worker": workerName, "test.accuracy": String(test.accuracy),
                        "normalization.mean": String(bundle.normalization.mean),
                        "normalization.std": String(bundle.normalization.std), "complete": "true"]
        if let v = last?.validation { metadata["validation.accuracy"] = String(v.accuracy) }
        do {
            try FileManager.default.createDirectory(atPath: (out as NSString).deletingLastPathComponent,
                                                    withIntermediateDirectories: true)
            try ModelCheckpoint(model: net, spec: modelSpec, metadata: metadata).write(to: out)
        } catch {
            throw TaskFailure("could not save teacher \(index) to \(out): \(error)")
        }
        logger.info("\(assign.taskID) trained: test accuracy \(String(format: "%.2f%%", Double(test.accuracy) * 100)), saved \(out)")
        report(assign, .running, done: total, total: total)
        report(assign, .completed)
    }
}

/// A task's failure, said as a sentence.
struct TaskFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Turns the trainer's per-step callbacks into progress reports, at most one per `interval` seconds.
final class ProgressReporter: TrainingObserver {
    let interval: Double
    let report: (UInt64, Int) -> Void
    private var done: UInt64 = 0
    private var lastReport = DispatchTime.now().uptimeNanoseconds

    init(interval: Double, report: @escaping (UInt64, Int) -> Void) {
        self.interval = interval
        self.report = report
    }

    func stepCompleted(epoch: Int, step: Int, of steps: Int, loss: Float) {
        done += 1
        let now = DispatchTime.now().uptimeNanoseconds
        if Double(now - lastReport) / 1e9 >= interval {
            lastReport = now
            report(done, epoch)
        }
    }

    func epochCompleted(_ report: EpochReport) {}
}
