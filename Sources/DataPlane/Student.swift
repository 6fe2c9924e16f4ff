import Clocks
import ClusterCore
import ClusterRuntime
import Datasets
import Distillation
import Foundation
import Logging
import NN
import ONNX
import RunSpec
import Synchronization
import Tensor
import Training
import Transport
import Wire

/// What a student replica's task does during a run: build the student, join the teachers and
/// its ring, train (`StudentReplica`) and, on rank 0, evaluate, report and keep the student.
extension TaskRunner {
    func studentTask(_ assign: AssignTask, _ task: StudentTask, spec: RunSpec) async throws(TaskFailure) {
        guard let dataPlane else { throw TaskFailure("this worker has no data endpoint") }
        let bundle = try runData(assign, spec)
        let rank = Int(task.rank), replicas = Int(task.replicas)
        guard task.teacherEndpoints.count == spec.teachers.count, task.peerEndpoints.count == replicas else {
            throw TaskFailure("the assignment lists \(task.teacherEndpoints.count) teacher and \(task.peerEndpoints.count) "
                + "replica endpoints for \(spec.teachers.count) teachers and \(replicas) replicas")
        }
        let plan = stepPlan(spec, bundle)
        let trainer: Trainer
        let studentSpec: ModelSpec
        let kd = KDLoss(temperature: spec.distillation.temperature, alpha: spec.distillation.alpha)
        let rule = spec.distillation.ensemble
        do {
            studentSpec = spec.student.model
            let model = try studentSpec.build(dataShape: bundle.train.sampleShape, seed: spec.training.seed)
            trainer = Trainer(model: model, settings: try spec.training.trainingSettings(stepsPerEpoch: plan.stepsPerEpoch))
        } catch {
            throw TaskFailure("student: \(error)")
        }
        // A replica assigned in ring generation > 1 joins a ring already training (docs/PROTOCOL.md
        // "Joining a ring"): it takes the ring's state and soft-label cache, then the teachers'
        // stream from the ring's step if they still stream (it connects to them then: after
        // offline epoch 0 some may be gone).
        let joins = plan.streaming != .everyEpoch && task.ringGeneration > 1
        var teachers: [any Connection] = []
        do {
            if !joins { for endpoint in task.teacherEndpoints { teachers.append(try await dataPlane.connect(endpoint)) } }
        } catch {
            throw TaskFailure("replica \(rank) cannot reach a teacher: \(error)")
        }
        let next: (any Connection)?
        do { next = replicas > 1 ? try await dataPlane.connect(task.peerEndpoints[(rank + 1) % replicas]) : nil } catch {
            throw TaskFailure("replica \(rank) cannot reach replica \((rank + 1) % replicas): \(error)")
        }
        // Runs are elastic (online ones since their teachers stream every step whole): a repeated
        // assignment with a new ring generation (a replica was lost) moves this replica to the
        // new ring (StudentReplica+Ring.swift).
        let taskID = assign.taskID, peers = self.peers
        let elastic = plan.streaming != .everyEpoch
            ? ElasticRing(latest: { peers.ring(taskID) }, connect: { try await dataPlane.connect($0) },
                          teachers: { peers.teacherEndpoints(taskID) }) : nil
        let inbox = dataPlane.inbox, runID = assign.runID
        if elastic != nil { peers.onRingChange(taskID) { inbox.wakeGradientWaiter(run: runID) } }
        let ring: RingAllReduce
        do {
            // An elastic ring may stand still while the run waits below elastic.min-replicas.
            let ringTimeout = elastic == nil ? dataTimeout : dataTimeout + .seconds(spec.elastic.waitTimeout)
            ring = try RingAllReduce(runID: assign.runID, generation: task.ringGeneration, rank: rank, ranks: replicas,
                                     count: trainer.model.parameterCount,
                                     source: dataPlane.inbox.gradientSource(run: assign.runID), next: next, timeout: ringTimeout,
                                     clock: clock, watch: elastic?.watch())
        } catch {
            throw TaskFailure("\(error)")
        }
        let replica = StudentReplica(runID: assign.runID, rank: rank, slot: Int(task.replicaSlot), trainer: trainer, plan: plan,
                                     kd: kd, rule: rule, codec: codec(spec, classes: bundle.train.classCount), train: bundle.train,
                                     teachers: teachers, teacherCount: spec.teachers.count,
                                     logits: dataPlane.inbox.logitsQueue(run: assign.runID), ring: ring,
                                     timeout: dataTimeout, elastic: elastic, joins: joins)
        replica.clock = clock
        replica.stopwatch = stopwatch
        replica.labelMask = bundle.train.labelMask(fraction: Double(spec.training.labelFraction), seed: spec.training.seed)
        if let mask = replica.labelMask, rank == 0 {
            logger.info("\(assign.taskID): the student sees the labels of \(Int(mask.reduce(0, +))) of \(mask.count) training images")
        }
        if joins { replica.streamStart = min(Int(clamping: task.fromStep), plan.streamedSteps) }
        let logger = self.logger
        replica.note = { [taskID] in logger.info("\(taskID): \($0)") }
        if !task.resumeHash.isEmpty && !joins { try resume(replica, assign, hash: task.resumeHash) }
        // Rank 0 sends a resume checkpoint every elastic.checkpoint-every steps (0: after each
        // epoch), but not after the last step (the student itself follows).
        let checkpointEvery = spec.elastic.checkpointEvery > 0 ? spec.elastic.checkpointEvery : plan.stepsPerEpoch
        var lastReport = clock.instant()
        var epochStarted = stopwatch.instant()
        var lossAtEpoch: (sum: Double, samples: Int) = (0, 0)
        var generationsSeen = 1
        if joins {
            let text = "\(assign.taskID): joins ring generation \(task.ringGeneration) as rank \(rank) of \(replicas); it takes "
                + "the ring's state and soft-label cache before its first step"
            logger.info("\(text)")
        }
        do throws(DataPlaneError) {
            try await replica.run(onStep: { [self] done, total in
                if replica.generations.count > generationsSeen {
                    generationsSeen = replica.generations.count
                    let latest = replica.generations.last!
                    let text = "\(assign.taskID): ring generation \(latest.generation) of \(latest.ranks) replica(s) from step "
                        + "\(latest.fromStep), this replica rank \(replica.rank)"
                    logger.info("\(text)")
                    if replica.rank == 0 {
                        metrics(assign, epoch: done / max(plan.stepsPerEpoch, 1), step: done,
                                [("student.ring_generation", Double(latest.generation)), ("student.replicas", Double(latest.ranks))])
                    }
                }
                if replica.rank == 0, done < total, done % checkpointEvery == 0 {
                    sendResumeCheckpoint(replica, assign, student: studentSpec.description)
                }
                let now = clock.instant()
                if (now - lastReport).inSeconds >= reportInterval || done == total {
                    lastReport = now
                    setCurrent(assign, "\(assign.taskID) step \(done)/\(total)")
                    report(assign, .running, done: UInt64(done), total: UInt64(total))
                }
            }, onEpoch: { [self] epoch in
                let seconds = stopwatch.elapsed(since: epochStarted).inSeconds
                epochStarted = stopwatch.instant()
                let t = replica.timing, steps = Double(max(t.steps, 1))
                // This epoch's mean loss over the replica's own micro-batches (the totals since the last epoch).
                let epochLoss = (t.lossSum - lossAtEpoch.sum) / Double(max(1, t.lossSamples - lossAtEpoch.samples))
                lossAtEpoch = (t.lossSum, t.lossSamples)
                guard replica.rank == 0 else { return }
                var figures: [(String, Double)] = [("student.samples_per_s", Double(plan.sampleCount) / max(seconds, 1e-9)),
                                                   ("student.compute_ms_per_step", t.compute / steps * 1000),
                                                   ("student.logits_wait_ms_per_step", t.logitsWait / steps * 1000),
                                                   ("student.allreduce_ms_per_step", t.allReduce / steps * 1000),
                                                   ("student.train_loss", epochLoss),
                                                   ("student.gradient_sent_bytes", Double(t.gradientBytesSent))]
                if let validation = bundle.validation {
                    let v = Evaluation.run(trainer.model, on: validation)
                    figures += [("student.val_accuracy", Double(v.accuracy)), ("student.val_loss", Double(v.loss))]
                }
                metrics(assign, epoch: epoch + 1, step: trainer.globalStep, figures)
            }, isCancelled: { [self] in isCancelled(runID) })
        } catch {
            throw TaskFailure("replica \(rank): \(error)")
        }
        if isCancelled(runID) { return }
        if replica.rank == 0 {
            var ensemblePredicted: [Int]?
            switch await replica.testSplitAccuracy(on: bundle.test, from: dataPlane.inbox.testSplitQueue(run: assign.runID),
                                                   timeout: dataTimeout) {
            case .success(let accuracy):
                if spec.distillation.mode == .online {
                    // Online teachers changed while serving: their final accuracy, from the logits
                    // they sent, goes out here — before this replica's completion, on the same
                    // connection, so the report written when the run ends has it.
                    metrics(assign, epoch: plan.epochs, step: trainer.globalStep,
                            accuracy.teachers.enumerated().map { ("teacher\($0.offset).test_accuracy", Double($0.element)) })
                }
                metrics(assign, epoch: plan.epochs, step: trainer.globalStep, [("ensemble.test_accuracy", Double(accuracy.ensemble))])
                ensemblePredicted = accuracy.ensemblePredicted
            case .failure(let why):
                logger.warning("\(assign.taskID): no ensemble accuracy for the report: \(why)")
            }
            let classes = trainer.model.outputFeatures
            var testLogits = [Float](repeating: 0, count: bundle.test.count * classes)
            let test = testLogits.withUnsafeMutableBufferPointer { Evaluation.run(trainer.model, on: bundle.test, logits: $0.baseAddress!) }
            metrics(assign, epoch: plan.epochs, step: trainer.globalStep, [("student.test_accuracy", Double(test.accuracy))])
            let studentPredicted = testLogits.withUnsafeBufferPointer { Rows.argmax($0.baseAddress!, rows: bundle.test.count, cols: classes) }
            reportConfusion(assign, epoch: plan.epochs, step: trainer.globalStep, classes: classes, labels: bundle.test.labels,
                            student: studentPredicted, ensemble: ensemblePredicted)
            metrics(assign, epoch: plan.epochs, step: trainer.globalStep,
                    [("student.parameters", Double(trainer.model.parameterCount)),
                     ("student.latency_us", latencyMicroseconds(trainer.model, on: bundle.test))])
            let out = "\(cacheDirectory)/students/\(assign.runID)/student.safetensors"
            try save(trainer.model, spec: studentSpec,
                     metadata: ["run": assign.runID, "test.accuracy": String(test.accuracy), "replicas": String(replica.ranks),
                                "normalization.mean": bundle.normalization.metadataText.mean,
                                "normalization.std": bundle.normalization.metadataText.std,
                                "preprocessing.scale": "\(bundle.scale)", "complete": "true"], to: out)
            // Sent until stored (bounded): a run is completed only with its student on the coordinator.
            guard let data = FileManager.default.contents(atPath: out) else { throw TaskFailure("cannot read back \(out)") }
            if let why = upload(assign, name: "student.safetensors", bytes: [UInt8](data)), !isCancelled(runID) {
                throw TaskFailure("student.safetensors was not stored within \(uploadWait.shortDescription) (\(why)); the "
                    + "student is kept at \(out) on \(workerName): make room or fix the permissions of the coordinator's "
                    + "artifacts directory and resubmit")
            }
            exportONNX(assign, trainer.model, spec: studentSpec, bundle: bundle, epoch: plan.epochs, step: trainer.globalStep)
            if spec.training.baseline { try trainBaseline(assign, spec: spec, studentSpec: studentSpec, bundle: bundle, plan: plan) }
            logger.info("\(assign.taskID): student test accuracy \(String(format: "%.2f%%", Double(test.accuracy) * 100)), saved \(out)")
        }
        report(assign, .completed)
    }
}

extension TaskRunner {
    /// Reports the confusion matrices of the student's and the ensemble's predictions on the
    /// test split (``ConfusionMatrix``): figures `student.classes`, `student.confusion.<t>.<p>`
    /// and `ensemble.confusion.<t>.<p>`, non-zero cells only (they are not curves: the run's
    /// history leaves them out). Data of more than ``ConfusionMatrix/maxClasses`` classes is not reported class
    /// by class.
    func reportConfusion(_ assign: AssignTask, epoch: Int, step: Int, classes: Int, labels: [Int32], student: [Int], ensemble: [Int]?) {
        guard classes <= ConfusionMatrix.maxClasses else {
            logger.info("\(assign.taskID): no per-class figures for \(classes) classes (at most \(ConfusionMatrix.maxClasses))")
            return
        }
        var figures = [("student.classes", Double(classes))]
        figures += ConfusionMatrix(predicted: student, labels: labels, classes: classes).figures(prefix: "student.confusion")
        if let ensemble { figures += ConfusionMatrix(predicted: ensemble, labels: labels, classes: classes).figures(prefix: "ensemble.confusion") }
        metrics(assign, epoch: epoch, step: step, figures)
    }

    /// Loads the resume checkpoint `hash` the coordinator offered (a resumed run's) into
    /// `replica`, which then trains from its step.
    func resume(_ replica: StudentReplica, _ assign: AssignTask, hash: String) throws(TaskFailure) {
        let what = "replica \(replica.rank): the resume checkpoint"
        let (checkpoint, path) = try shippedResumeCheckpoint(hash, assign, what: what)
        do throws(DataPlaneError) { try replica.resume(from: checkpoint) } catch {
            throw TaskFailure("\(what) \(path): \(error)")
        }
        logger.info("\(assign.taskID): resumes \(checkpoint.runID) from its checkpoint at step \(checkpoint.step) (epoch \(checkpoint.epoch))")
    }

    /// Sends `replica`'s resume checkpoint to the coordinator as artifact
    /// `checkpoint.safetensors` without waiting for its answer: training goes on, and a
    /// checkpoint that is not stored is replaced by the next one.
    func sendResumeCheckpoint(_ replica: StudentReplica, _ assign: AssignTask, student: String) {
        let bytes = replica.resumeCheckpoint(student: student).encoded()
        sendArtifact(assign, name: ResumeCheckpoint.artifactName, bytes: bytes)
        logger.debug("\(assign.taskID): sent a resume checkpoint at step \(replica.trainer.globalStep) (\(bytes.count) bytes)")
    }

    /// Name of the student's ONNX artifact, sent beside `student.safetensors`.
    static let studentONNXArtifact = "student.onnx"
    /// Name of the artifact that says why the student could not be exported as ONNX.
    static let studentONNXErrorArtifact = "student.onnx-error.txt"

    /// Sends the student as artifact `student.onnx` (opset 17, with the data's scale and
    /// normalisation as metadata) and reports its size and single-sample latency in our ONNX
    /// executor on the test split (`student.onnx_bytes`, `student.onnx_latency_us`). A failure
    /// never fails the run: it is logged, reported as `student.onnx_export_failed` = 1 and its
    /// reason sent as artifact `student.onnx-error.txt`.
    func exportONNX(_ assign: AssignTask, _ model: Sequential, spec: ModelSpec, bundle: DataBundle, epoch: Int, step: Int) {
        let preprocessing = ONNXExport.InputPreprocessing(scale: bundle.scale, mean: bundle.normalization.mean,
                                                          std: bundle.normalization.std)
        do {
            let bytes = try ONNXExport.model(model, spec: spec.description, normalization: preprocessing, opset: 17,
                                             producerVersion: DistilleryVersion.current)
            let program = try ONNXProgram(model: try ONNXModel(bytes: bytes, source: "\(assign.runID)/\(Self.studentONNXArtifact)"),
                                          sampleShape: bundle.test.sampleShape)
            sendArtifact(assign, name: Self.studentONNXArtifact, bytes: bytes)
            metrics(assign, epoch: epoch, step: step, [("student.onnx_bytes", Double(bytes.count)),
                                                       ("student.onnx_latency_us", latencyMicroseconds(program, on: bundle.test))])
        } catch {
            let why = "\(assign.taskID): the student was not exported as ONNX (\(error)); the run keeps student.safetensors only"
            logger.warning("\(why)")
            metrics(assign, epoch: epoch, step: step, [("student.onnx_export_failed", 1)])
            sendArtifact(assign, name: Self.studentONNXErrorArtifact, bytes: Array((why + "\n").utf8))
        }
    }
}
