import Clocks
import ClusterCore
import ClusterRuntime
import Datasets
import Distillation
import FileSupport
import Foundation
import Logging
import NN
import RunSpec
import Synchronization
import Training
import Transport
import Wire

/// Preparing a teacher: trained from its recipe (or reused from this worker's cache, or adopted
/// from the coordinator's store when another worker trained it), or loaded from its checkpoint
/// or its ONNX file (the file on this machine, or the copy the coordinator sent).
extension TaskRunner {
    /// Trains the teacher from its recipe, or loads its checkpoint or ONNX model; returns it.
    func prepareTeacher(_ assign: AssignTask, _ task: TeacherTask, spec: RunSpec, bundle: DataBundle,
                        index: Int) throws(TaskFailure) -> any InferenceModel {
        let teacher = spec.teachers[index]
        switch teacher.source {
        case .onnx(let path):
            let file = try shippedFile(path, hash: task.checkpointHash, what: "ONNX model", assign: assign, index: index)
            do { return try ONNXTeacher.load(path: file, sampleShape: bundle.train.sampleShape,
                                                      classes: bundle.train.classCount) } catch {
                throw TaskFailure("teacher \(index): ONNX model \(path): \(error)")
            }
        case .checkpoint(let path):
            let file = try shippedFile(path, hash: task.checkpointHash, what: "checkpoint", assign: assign, index: index)
            do { return try ModelCheckpoint.read(from: file).model } catch {
                throw TaskFailure("checkpoint \(path)\(file == path ? "" : " as sent by the coordinator"): \(error)")
            }
        case .train(let recipe):
            guard let model = teacher.model else { throw TaskFailure("teacher \(index) has a recipe but no model") }
            let key = TrainedTeacherKey.of(model: model, recipe: recipe, shardHash: assign.shardHash,
                                      validation: spec.dataset.validation, splitSeed: spec.training.seed)
            let out = "\(cacheDirectory)/teachers/trained/\(key).safetensors"
            var stored = reuse(out, index: index, key: key)
            if stored == nil && !task.checkpointHash.isEmpty {
                // The coordinator holds this teacher (another worker trained it): take its copy.
                adoptShipped(task.checkpointHash, runID: assign.runID, index: index, key: key, to: out)
                stored = reuse(out, index: index, key: key)
            }
            if let reused = stored {
                metrics(assign, epoch: 0, step: 0, [("teacher\(index).test_accuracy", Double(Evaluation.run(reused, on: bundle.test).accuracy)),
                                                    ("teacher\(index).reused", 1)])
                try sendCheckpoint(assign, index: index, path: out, keepByHash: true, untilStored: true)
                return reused
            }
            let net = try train(assign, index: index, model: model, recipe: recipe, bundle: bundle, out: out, key: key)
            try sendCheckpoint(assign, index: index, path: out, keepByHash: true, untilStored: true)
            return net
        }
    }

    /// The path of a teacher's file (checkpoint or ONNX model) with SHA-256 `hash`: the file
    /// itself when it is on this machine with that hash, else the copy the coordinator sent
    /// (waited for, bounded).
    func shippedFile(_ path: String, hash: String, what: String, assign: AssignTask, index: Int) throws(TaskFailure) -> String {
        // (This was a wire rule while the task repeated the recipe in `recipe_yaml`.)
        guard !hash.isEmpty else {
            throw TaskFailure("teacher \(index): \(what) \(path): the assignment has no checkpoint_hash; "
                + "the coordinator sets one for every teacher loaded from a file (is it older than this worker?)")
        }
        if cache.contains(hash) { return cache.path(for: hash) }
        if let data = FileManager.default.contents(atPath: path), SHA256.hex([UInt8](data)) == hash {
            // The bytes just checked are what is loaded (kept in the cache by their hash): a file
            // removed or replaced at `path` after this check cannot be read instead.
            do throws(DatasetError) {
                try cache.store([UInt8](data), sha256: hash)
                return cache.path(for: hash)
            } catch {
                logger.warning("teacher \(index): \(what) \(path) could not be kept in the cache (\(error)); reading it in place")
                return path
            }
        }
        guard hash != "unreadable" else {
            throw TaskFailure("the coordinator cannot read \(what) \(path); put the file there (or on worker \(workerName))")
        }
        switch awaitCheckpoint(hash, runID: assign.runID) {
        case .success(let p): return p
        case .failure(let failure): throw TaskFailure("teacher \(index): \(what) \(path): \(failure.reason)")
        }
    }

    /// Why a teacher checkpoint did not arrive.
    struct CheckpointWaitFailure: Error { var reason: String }

    /// Waits until the coordinator's checkpoint `hash` is in this worker's cache (its
    /// `ShardOffer` came before the assignment, so the transfer is under way); returns its path.
    /// Bounded by `checkpointTimeout`, a failed transfer, and the run being cancelled; wakes
    /// when a transfer ends (`transfers`), and at least every second to notice a cancellation.
    /// The resume-checkpoint-format file `hash` the coordinator offered (a resumed run's
    /// checkpoint, an online teacher's state), waited for and decoded, with its path; `what`
    /// starts the errors ("replica 1: the resume checkpoint").
    func shippedResumeCheckpoint(_ hash: String, _ assign: AssignTask, what: String) throws(TaskFailure) -> (ResumeCheckpoint, String) {
        let path: String
        switch awaitCheckpoint(hash, runID: assign.runID) {
        case .success(let p): path = p
        case .failure(let failure): throw TaskFailure("\(what): \(failure.reason)")
        }
        guard let data = FileManager.default.contents(atPath: path) else { throw TaskFailure("\(what): cannot read \(path)") }
        do { return (try ResumeCheckpoint(bytes: [UInt8](data), source: path), path) } catch {
            throw TaskFailure("\(what) \(path): \(error)")
        }
    }

    func awaitCheckpoint(_ hash: String, runID: String) -> Result<String, CheckpointWaitFailure> {
        var failure: CheckpointWaitFailure?
        let arrived = clock.deadline(after: checkpointTimeout).block(on: transfers, atMost: .seconds(1)) {
            if cache.contains(hash) { return true }
            if let reason = failedTransfers.withLock({ $0[hash] }) {
                failure = CheckpointWaitFailure(reason: "the transfer from the coordinator failed: \(reason)")
            } else if isCancelled(runID) {
                failure = CheckpointWaitFailure(reason: "cancelled while waiting for it")
            }
            return failure != nil
        }
        if arrived, failure == nil { return .success(cache.path(for: hash)) }
        return .failure(failure ?? CheckpointWaitFailure(
            reason: "it did not arrive from the coordinator within \(checkpointTimeout.shortDescription)"))
    }

    /// Copies the checkpoint the coordinator sent into `out` (this worker's trained-teacher
    /// cache) if it is the teacher of recipe `key`; on any problem the teacher is trained instead.
    func adoptShipped(_ hash: String, runID: String, index: Int, key: String, to out: String) {
        switch awaitCheckpoint(hash, runID: runID) {
        case .failure(let failure):
            logger.warning("teacher \(index): the stored teacher \(hash.prefix(12)) is not usable (\(failure.reason)); training it")
        case .success(let path):
            guard StoredTeachers.metadataOfFile(at: path)?["key"] == key else {
                logger.warning("teacher \(index): the checkpoint the coordinator sent is not recipe \(key.prefix(12)); training it")
                return
            }
            do {
                try FileManager.default.createDirectory(atPath: (out as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                try AtomicFile.copy(from: path, to: out)
                logger.info("teacher \(index): received trained teacher \(key.prefix(12)) from the coordinator")
            } catch {
                logger.warning("teacher \(index): could not keep the received teacher at \(out) (\(error)); training it")
            }
        }
    }

    /// The cached teacher at `path` if it is there, complete and readable (else nil: train it).
    func reuse(_ path: String, index: Int, key: String) -> Sequential? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        do {
            let checkpoint = try ModelCheckpoint.read(from: path)
            guard checkpoint.metadata["complete"] == "true", checkpoint.metadata["key"] == key else { return nil }
            logger.info("teacher \(index): reusing \(path), trained by run \(checkpoint.metadata["run"] ?? "?")")
            return checkpoint.model
        } catch {
            logger.warning("teacher \(index): cached \(path) is unreadable (\(error)); training it again")
            return nil
        }
    }

    /// Sends the teacher's checkpoint to the coordinator as artifact `name` (default `teacher-<i>.safetensors`).
    ///
    /// With `keepByHash` (trained teachers) the file is also filed in the content-addressed cache
    /// under its SHA-256 (a hard link, or a copy across file systems), so a later offer of it is
    /// acknowledged at once and the worker lists it in `Register.cached_shards`.
    /// With `untilStored` (a trained teacher: the run's results need it) the file is sent again
    /// while the coordinator refuses it (`upload`, bounded), and a lasting refusal fails the task.
    func sendCheckpoint(_ assign: AssignTask, index: Int, path: String, name: String? = nil, keepByHash: Bool = false,
                        untilStored: Bool = false) throws(TaskFailure) {
        guard let data = FileManager.default.contents(atPath: path) else {
            logger.warning("teacher \(index): \(path) vanished before it could be sent to the coordinator")
            return
        }
        let bytes = [UInt8](data)
        let hash = SHA256.hex(bytes)
        let artifact = name ?? "teacher-\(index).safetensors"
        if untilStored {
            if let why = upload(assign, name: artifact, bytes: bytes), !isCancelled(assign.runID) {
                throw TaskFailure("\(artifact) was not stored within \(uploadWait.shortDescription) (\(why)); the teacher is "
                    + "kept at \(path) on \(workerName): make room or fix the permissions of the coordinator's artifacts "
                    + "directory and resubmit")
            }
        } else {
            sendArtifact(assign, name: artifact, bytes: bytes, sha256: hash)
        }
        if keepByHash && !cache.contains(hash) && link(path, cache.path(for: hash)) != 0 {
            do { try cache.store(bytes, sha256: hash) } catch {
                logger.warning("could not keep \(path) in the cache by its hash: \(error)")
            }
        }
    }

    func train(_ assign: AssignTask, index: Int, model modelSpec: ModelSpec, recipe: TeacherRecipe, bundle: DataBundle,
                       out: String, key: String) throws(TaskFailure) -> Sequential {
        var bundle = bundle
        if recipe.bootstrap { bundle.train = bundle.train.subset(bundle.train.bootstrapIndices(seed: recipe.seed)) }
        let stepsPerEpoch = (bundle.train.count + recipe.batch - 1) / recipe.batch
        let settings: TrainingSettings
        let net: Sequential
        do {
            settings = try recipe.trainingSettings(stepsPerEpoch: stepsPerEpoch)
            net = try modelSpec.build(dataShape: bundle.train.sampleShape, seed: recipe.seed)
        } catch {
            throw TaskFailure("teacher \(index): \(error)")
        }
        let total = UInt64(recipe.epochs * stepsPerEpoch)
        let observer = ProgressReporter(interval: reportInterval, clock: clock) { [self] done, epoch in
            setCurrent(assign, "\(assign.taskID) epoch \(epoch + 1)/\(recipe.epochs)")
            report(assign, .running, done: done, total: total)
        }
        report(assign, .running, done: 0, total: total)
        let trainer = Trainer(model: net, settings: settings, observer: observer, clock: stopwatch)
        var last: EpochReport?
        for epoch in 0..<recipe.epochs {
            if isCancelled(assign.runID) { throw TaskFailure("cancelled after \(epoch) epoch(s)") }
            let r = trainer.trainEpoch(epoch, train: bundle.train, validation: bundle.validation, objective: .crossEntropy)
            var figures: [(String, Double)] = [("teacher\(index).train_loss", Double(r.trainLoss)),
                                               ("teacher\(index).samples_per_s", r.samplesPerSecond)]
            if let v = r.validation { figures.append(("teacher\(index).val_accuracy", Double(v.accuracy))) }
            metrics(assign, epoch: epoch + 1, step: trainer.globalStep, figures)
            last = r
        }
        let test = Evaluation.run(net, on: bundle.test)
        var metadata = ["seed": String(recipe.seed), "epochs": String(recipe.epochs), "run": assign.runID,
                        "teacher": String(index), "worker": workerName, "test.accuracy": String(test.accuracy),
                        "normalization.mean": bundle.normalization.metadataText.mean,
                        "normalization.std": bundle.normalization.metadataText.std, "key": key, "complete": "true"]
        metadata["preprocessing.scale"] = "\(bundle.scale)"
        if let v = last?.validation { metadata["validation.accuracy"] = String(v.accuracy) }
        try save(net, spec: modelSpec, metadata: metadata, to: out)
        metrics(assign, epoch: recipe.epochs, step: trainer.globalStep, [("teacher\(index).test_accuracy", Double(test.accuracy))])
        logger.info("\(assign.taskID) trained: test accuracy \(String(format: "%.2f%%", Double(test.accuracy) * 100)), saved \(out)")
        report(assign, .running, done: total, total: total)
        return net
    }
}
