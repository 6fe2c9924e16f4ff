import Datasets
import Distillation
import Foundation
import Logging
import NN
import RunSpec
import Synchronization
import Training
import Transport
import Wire

/// What tasks need of the worker's data plane: its inbox and a way to reach peers.
public struct DataPlaneContext: Sendable {
    public let inbox: DataInbox
    /// Opens (or reuses) a connection to a peer's data endpoint.
    public let connect: @Sendable (String) async throws -> any Connection

    public init(inbox: DataInbox, connect: @escaping @Sendable (String) async throws -> any Connection) {
        self.inbox = inbox
        self.connect = connect
    }
}

/// Runs a worker's tasks, each on a `ThreadExecutor` of its own — never on Swift's
/// cooperative pool, where CPU-bound training would starve heartbeats and timeouts — and
/// queues their `TaskStatus` and `Metrics` reports for the worker's loop to send.
///
/// - A teacher task prepares its teacher (trains it from its recipe on the run's data shard,
///   validation images held out with the run's seed as every node derives them — or reuses
///   the one an earlier run trained with the same key — or loads its checkpoint), keeps it under
///   `<cache>/teachers/trained/<key>.safetensors` and sends it to the coordinator, reports
///   `COMPLETED` (ready), then streams its logits to the replicas (`TeacherStreamer`: epoch 0
///   only in offline runs, every epoch while training on in online runs) and finally its
///   test-split logits to replica 0.
/// - A student task trains replica `rank` (`StudentReplica`): logits joined per step (or read
///   from the soft-label cache), KD loss, ring all-reduce. Rank 0 evaluates on the validation
///   split after every epoch and on the test split at the end, measures the ensemble on the
///   test split, reports the figures as `Metrics`, and keeps the student under
///   `<cache>/students/<run>/student.safetensors`, which it also sends to the coordinator.
/// Progress goes out at most every `reportInterval`; a failure is reported with its reason.
final class TaskRunner: Sendable {
    let workerName: String
    let cacheDirectory: String
    let cache: ShardCache
    let logger: Logger
    let dataPlane: DataPlaneContext?
    let reportInterval: Double = 0.5
    /// Waits on the data plane: logits, credits and gradient chunks.
    let dataTimeout: Duration = .seconds(30)
    private let reports = Mutex<[Outbound]>([])
    private let cancelled = Mutex<Set<String>>([])
    private let current = Mutex<[String: String]>([:])
    /// Shards or checkpoints whose transfer from the coordinator failed, with the reason.
    private let failedTransfers = Mutex<[String: String]>([:])
    /// Running tasks and their peers' current data endpoints.
    private let peers = TaskPeers()
    /// Longest wait for an offered teacher checkpoint (the transfer's own window retries fail sooner).
    let checkpointTimeout: Duration = .seconds(300)

    init(workerName: String, cacheDirectory: String, cache: ShardCache, dataPlane: DataPlaneContext?, logger: Logger) {
        self.workerName = workerName
        self.cacheDirectory = cacheDirectory
        self.cache = cache
        self.dataPlane = dataPlane
        self.logger = logger
    }

    /// What the worker is doing, for heartbeats ("run-3/teacher-1 epoch 2/10", or "").
    var currentTask: String { current.withLock { $0.values.sorted().joined(separator: "; ") } }

    /// A message for the coordinator: a body and its tensor frames.
    struct Outbound: Sendable {
        var body: Body
        var tensors: [TensorMeta] = []
        var frames: [Frame] = []
    }

    /// `TaskStatus`, `Metrics` and `ArtifactChunk` messages, in the order the tasks produced them.
    func drainReports() -> [Outbound] {
        reports.withLock { r in defer { r.removeAll() }; return r }
    }

    func cancel(runID: String) { cancelled.withLock { _ = $0.insert(runID) } }
    func cancelAll() { cancelled.withLock { _ = $0.insert("*") } }

    private func isCancelled(_ runID: String) -> Bool {
        cancelled.withLock { $0.contains(runID) || $0.contains("*") }
    }

    private func report(_ assign: AssignTask, _ state: TaskState, reason: String = "", done: UInt64 = 0, total: UInt64 = 0) {
        let status = TaskStatus(runID: assign.runID, taskID: assign.taskID, state: state, reason: reason, done: done, total: total)
        reports.withLock { $0.append(Outbound(body: .taskStatus(status))) }
    }

    /// Figures of a task, named `teacher<i>.<figure>` or `student.<figure>` so the coordinator
    /// can show the latest of each side by side.
    private func metrics(_ assign: AssignTask, epoch: Int, step: Int, _ values: [(String, Double)]) {
        let m = Metrics(runID: assign.runID, epoch: UInt32(epoch), step: UInt64(step),
                        values: values.filter { $0.1.isFinite }.map { MetricValue(name: $0.0, value: $0.1) })
        reports.withLock { $0.append(Outbound(body: .metrics(m))) }
    }

    /// Queues `bytes` as artifact `name` of the run for the coordinator, in chunks of 1 MiB
    /// (docs/PROTOCOL.md "Results"): `ArtifactChunk{name, sha256, total_bytes, offset, last}` + U8.
    private func sendArtifact(_ assign: AssignTask, name: String, bytes: [UInt8], sha256: String? = nil) {
        let hash = sha256 ?? SHA256.hex(bytes)
        let chunk = 1 << 20
        var offset = 0
        repeat {
            let end = min(bytes.count, offset + chunk)
            let piece = Array(bytes[offset..<end])
            let body = ArtifactChunk(runID: assign.runID, name: name, sha256: hash, totalBytes: UInt64(bytes.count),
                                     offset: UInt64(offset), last: end == bytes.count)
            let out = Outbound(body: .artifactChunk(body), tensors: [TensorMeta(name: "bytes", dtype: .u8, shape: [UInt64(piece.count)])],
                               frames: [Frame(bytes: piece)])
            reports.withLock { $0.append(out) }
            offset = end
        } while offset < bytes.count
    }

    /// Mean time of a single-sample forward pass, in microseconds (inference latency).
    private func latencyMicroseconds(_ model: Sequential, on data: LabeledImages, samples: Int = 200) -> Double {
        let n = min(samples, data.count)
        guard n > 0 else { return 0 }
        var x = [Float](repeating: 0, count: data.features)
        var label: Int32 = 0
        let started = DispatchTime.now().uptimeNanoseconds
        for i in 0..<n {
            x.withUnsafeMutableBufferPointer { px in
                data.gather(indices: [i][...], into: px.baseAddress!, labels: &label)
                _ = model.forward(px.baseAddress!, batch: 1, mode: .inference)
            }
        }
        return Double(DispatchTime.now().uptimeNanoseconds - started) / 1e3 / Double(n)
    }

    private func setCurrent(_ assign: AssignTask, _ text: String?) {
        current.withLock { $0[assign.taskID] = text }
    }

    /// Starts `assign` on a thread of its own; returns false, starting nothing, when a task
    /// with its id runs already: that task's peers' endpoints are updated instead (and a ready
    /// teacher reports `COMPLETED` again), see ``TaskPeers``.
    @discardableResult
    func start(_ assign: AssignTask) -> Bool {
        guard peers.begin(assign) else {
            logger.info("\(assign.taskID) runs already: its peers' endpoints were updated")
            if peers.isReady(assign.taskID) { report(assign, .completed) }
            return false
        }
        let executor = ThreadExecutor(name: "distillery-task")
        Task(executorPreference: executor) { [self] in
            setCurrent(assign, assign.taskID)
            defer {
                setCurrent(assign, nil)
                peers.end(assign.taskID)
                executor.stop()
            }
            do throws(TaskFailure) {
                switch assign.task {
                case .teacher(let teacher): try await teacherTask(assign, teacher)
                case .student(let student): try await studentTask(assign, student)
                case nil: throw TaskFailure("the assignment carries no task")
                }
            } catch {
                if !isCancelled(assign.runID) {
                    logger.error("\(assign.taskID) failed: \(error)")
                    report(assign, .failed, reason: error.description)
                }
            }
        }
        return true
    }

    /// The run's spec and data as every node derives them: the shard's splits, normalised,
    /// with the validation images held out by the run's seed.
    private func runData(_ assign: AssignTask) throws(TaskFailure) -> (RunSpec, DataBundle) {
        let spec: RunSpec
        do { spec = try RunSpec(yaml: assign.runSpecYaml, fileName: "run \(assign.runID)") } catch {
            throw TaskFailure("the run spec sent by the coordinator does not parse here: \(error)")
        }
        do {
            let (train, test) = try DatasetShard.unpack(try cache.load(assign.shardHash))
            return (spec, DataBundle.split(train: train, test: test, validationCount: spec.dataset.validation,
                                           seed: spec.training.seed))
        } catch {
            throw TaskFailure("data shard \(assign.shardHash.prefix(12)): \(error)")
        }
    }

    private func stepPlan(_ spec: RunSpec, _ bundle: DataBundle) -> StepPlan {
        StepPlan(sampleCount: bundle.train.count, batchSize: spec.training.batch, seed: spec.training.seed,
                 epochs: spec.training.epochs, replicas: spec.replicas, window: spec.prefetch,
                 streaming: spec.distillation.mode == .offline ? .firstEpochCached : .everyEpoch)
    }

    /// How the run's logits travel (its top-k, float16 and temperature).
    private func codec(_ spec: RunSpec, classes: Int) -> LogitsCodec {
        LogitsCodec(classes: classes, topK: spec.distillation.topK, float16: spec.distillation.float16,
                    temperature: spec.distillation.temperature)
    }

    // MARK: teachers

    private func teacherTask(_ assign: AssignTask, _ task: TeacherTask) async throws(TaskFailure) {
        let (spec, bundle) = try runData(assign)
        let index = Int(task.teacherIndex)
        guard index < spec.teachers.count else {
            throw TaskFailure("teacher \(index) does not exist: the run has \(spec.teachers.count) teachers")
        }
        let model = try prepareTeacher(assign, task, spec: spec, bundle: bundle, index: index)
        metrics(assign, epoch: 0, step: 0, [("teacher\(index).parameters", Double(model.parameterCount)),
                                            ("teacher\(index).latency_us", latencyMicroseconds(model, on: bundle.test))])
        if case .checkpoint = spec.teachers[index].source {
            metrics(assign, epoch: 0, step: 0, [("teacher\(index).test_accuracy", Double(Evaluation.run(model, on: bundle.test).accuracy))])
        }
        report(assign, .completed)
        peers.markReady(assign.taskID)
        guard let dataPlane, !task.replicaEndpoints.isEmpty, !isCancelled(assign.runID) else { return }
        setCurrent(assign, "\(assign.taskID) serving logits")
        // Peers are looked up when sending: a repeated AssignTask may have moved them.
        let taskID = assign.taskID, peers = self.peers
        let replicas = PeerRoute { rank in
            guard let endpoint = peers.replicaEndpoint(taskID, rank) else {
                throw TaskFailure("teacher \(index) has no endpoint for replica \(rank)")
            }
            return try await dataPlane.connect(endpoint)
        }
        let plan = stepPlan(spec, bundle)
        let online = try onlineTrainer(spec, index: index, model: model, plan: plan)
        var mutual: TeacherStreamer.Mutual?
        if online != nil, spec.distillation.mutual > 0 {
            guard task.teacherEndpoints.count == spec.teachers.count else {
                throw TaskFailure("teacher \(index): the run's mutual term needs every teacher's endpoint; the task lists "
                    + "\(task.teacherEndpoints.count) of \(spec.teachers.count)")
            }
            let others = (0..<spec.teachers.count).filter { $0 != index }
            let route = PeerRoute { peer in
                guard let endpoint = peers.teacherEndpoint(taskID, peer) else {
                    throw TaskFailure("teacher \(index) has no endpoint for teacher \(peer)")
                }
                return try await dataPlane.connect(endpoint)
            }
            mutual = TeacherStreamer.Mutual(weight: spec.distillation.mutual, temperature: spec.distillation.temperature,
                                            peers: others, route: route,
                                            arrivals: dataPlane.inbox.peerLogitsQueue(run: assign.runID, teacher: index))
        }
        let streamer = TeacherStreamer(runID: assign.runID, teacher: index, model: model, train: bundle.train,
                                       plan: plan, codec: codec(spec, classes: model.outputFeatures), online: online,
                                       test: bundle.test, replicaRoute: replicas,
                                       credits: dataPlane.inbox.creditQueue(run: assign.runID, teacher: index),
                                       timeout: dataTimeout, startTimeout: .seconds(3600), mutual: mutual)
        let runID = assign.runID
        do throws(DataPlaneError) { try await streamer.run(isCancelled: { [self] in isCancelled(runID) }) } catch {
            throw TaskFailure("teacher \(index) serving the students: \(error)")
        }
        logger.info("\(assign.taskID) sent \(plan.streamedSteps) steps' logits (\(streamer.bytesSent) bytes)")
        if online != nil, !isCancelled(assign.runID) {
            // The teacher trained on alongside the student: keep what it became.
            let accuracy = streamer.finalTestAccuracy ?? Evaluation.run(model, on: bundle.test).accuracy
            let out = "\(cacheDirectory)/teachers/\(assign.runID)/teacher-\(index)-online.safetensors"
            do {
                try save(model, spec: try ModelSpec(parsing: spec.teachers[index].model),
                         metadata: ["run": assign.runID, "teacher": String(index), "mode": "online",
                                    "test.accuracy": String(accuracy), "complete": "true"], to: out)
                sendCheckpoint(assign, index: index, path: out, name: "teacher-\(index)-online.safetensors")
            } catch {
                logger.warning("\(assign.taskID): could not keep the online teacher: \(error)")
            }
        }
    }

    /// Online mode: a trainer that keeps training the teacher on the run's global batches with
    /// its recipe's optimizer and learning rate (a checkpoint teacher gets the run's training
    /// settings). Nil in offline mode, where teachers are frozen.
    private func onlineTrainer(_ spec: RunSpec, index: Int, model: Sequential, plan: StepPlan) throws(TaskFailure) -> Trainer? {
        guard spec.distillation.mode == .online else { return nil }
        do {
            let settings: TrainingSettings
            if case .train(let recipe) = spec.teachers[index].source {
                settings = try recipe.trainingSettings(stepsPerEpoch: plan.stepsPerEpoch)
            } else {
                settings = try spec.training.trainingSettings(stepsPerEpoch: plan.stepsPerEpoch)
            }
            return Trainer(model: model, settings: settings)
        } catch {
            throw TaskFailure("teacher \(index) online training settings: \(error)")
        }
    }

    /// Trains the teacher from its recipe, or loads its checkpoint; returns it.
    private func prepareTeacher(_ assign: AssignTask, _ task: TeacherTask, spec: RunSpec, bundle: DataBundle,
                                index: Int) throws(TaskFailure) -> Sequential {
        let teacher = spec.teachers[index]
        switch teacher.source {
        case .checkpoint(let path):
            // The file itself when it is on this machine, else the copy the coordinator sent.
            if let data = FileManager.default.contents(atPath: path), SHA256.hex([UInt8](data)) == task.checkpointHash {
                do { return try ModelCheckpoint.read(from: path).model } catch { throw TaskFailure("checkpoint \(path): \(error)") }
            }
            guard task.checkpointHash != "unreadable" else {
                throw TaskFailure("the coordinator cannot read checkpoint \(path); put the file there (or on worker \(workerName))")
            }
            let shipped: String
            switch awaitCheckpoint(task.checkpointHash, runID: assign.runID) {
            case .success(let p): shipped = p
            case .failure(let failure): throw TaskFailure("teacher \(index): checkpoint \(path): \(failure.reason)")
            }
            do { return try ModelCheckpoint.read(from: shipped).model } catch {
                throw TaskFailure("checkpoint \(path) as sent by the coordinator: \(error)")
            }
        case .train(let recipe):
            let key = TrainedTeacherKey.of(model: teacher.model, recipe: recipe, shardHash: assign.shardHash,
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
                sendCheckpoint(assign, index: index, path: out, keepByHash: true)
                return reused
            }
            let net = try train(assign, index: index, model: teacher.model, recipe: recipe, bundle: bundle, out: out, key: key)
            sendCheckpoint(assign, index: index, path: out, keepByHash: true)
            return net
        }
    }

    /// Records that the transfer of shard or checkpoint `hash` failed (the worker gave up on it).
    func transferFailed(_ hash: String, reason: String) {
        failedTransfers.withLock { $0[hash] = reason }
    }

    /// A new transfer of `hash` started: an earlier failure no longer applies.
    func transferStarted(_ hash: String) {
        _ = failedTransfers.withLock { $0.removeValue(forKey: hash) }
    }

    /// Why a teacher checkpoint did not arrive.
    struct CheckpointWaitFailure: Error { var reason: String }

    /// Waits until the coordinator's checkpoint `hash` is in this worker's cache (its
    /// `ShardOffer` came before the assignment, so the transfer is under way); returns its path.
    /// Bounded by `checkpointTimeout`, a failed transfer, and the run being cancelled.
    private func awaitCheckpoint(_ hash: String, runID: String) -> Result<String, CheckpointWaitFailure> {
        let deadline = ContinuousClock.now + checkpointTimeout
        while !cache.contains(hash) {
            if let reason = failedTransfers.withLock({ $0[hash] }) {
                return .failure(CheckpointWaitFailure(reason: "the transfer from the coordinator failed: \(reason)"))
            }
            if isCancelled(runID) { return .failure(CheckpointWaitFailure(reason: "cancelled while waiting for it")) }
            if ContinuousClock.now >= deadline {
                return .failure(CheckpointWaitFailure(
                    reason: "it did not arrive from the coordinator within \(checkpointTimeout.shortDescription)"))
            }
            Thread.sleep(forTimeInterval: 0.01)
        }
        return .success(cache.path(for: hash))
    }

    /// Copies the checkpoint the coordinator sent into `out` (this worker's trained-teacher
    /// cache) if it is the teacher of recipe `key`; on any problem the teacher is trained instead.
    private func adoptShipped(_ hash: String, runID: String, index: Int, key: String, to out: String) {
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
                try? FileManager.default.removeItem(atPath: out + ".part")
                try FileManager.default.copyItem(atPath: path, toPath: out + ".part")
                guard rename(out + ".part", out) == 0 else { throw TaskFailure("rename: errno \(errno)") }
                logger.info("teacher \(index): received trained teacher \(key.prefix(12)) from the coordinator")
            } catch {
                logger.warning("teacher \(index): could not keep the received teacher at \(out) (\(error)); training it")
            }
        }
    }

    /// The cached teacher at `path` if it is there, complete and readable (else nil: train it).
    private func reuse(_ path: String, index: Int, key: String) -> Sequential? {
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
    private func sendCheckpoint(_ assign: AssignTask, index: Int, path: String, name: String? = nil, keepByHash: Bool = false) {
        guard let data = FileManager.default.contents(atPath: path) else {
            logger.warning("teacher \(index): \(path) vanished before it could be sent to the coordinator")
            return
        }
        let bytes = [UInt8](data)
        let hash = SHA256.hex(bytes)
        sendArtifact(assign, name: name ?? "teacher-\(index).safetensors", bytes: bytes, sha256: hash)
        if keepByHash && !cache.contains(hash) && link(path, cache.path(for: hash)) != 0 {
            do { try cache.store(bytes, sha256: hash) } catch {
                logger.warning("could not keep \(path) in the cache by its hash: \(error)")
            }
        }
    }

    private func train(_ assign: AssignTask, index: Int, model: String, recipe: TeacherRecipe, bundle: DataBundle,
                       out: String, key: String) throws(TaskFailure) -> Sequential {
        var bundle = bundle
        if recipe.bootstrap { bundle.train = bundle.train.subset(bundle.train.bootstrapIndices(seed: recipe.seed)) }
        let stepsPerEpoch = (bundle.train.count + recipe.batch - 1) / recipe.batch
        let settings: TrainingSettings
        let net: Sequential
        let modelSpec: ModelSpec
        do {
            modelSpec = try ModelSpec(parsing: model)
            settings = try recipe.trainingSettings(stepsPerEpoch: stepsPerEpoch)
            net = try modelSpec.build(dataShape: bundle.train.sampleShape, seed: recipe.seed)
        } catch {
            throw TaskFailure("teacher \(index): \(error)")
        }
        let total = UInt64(recipe.epochs * stepsPerEpoch)
        let observer = ProgressReporter(interval: reportInterval) { [self] done, epoch in
            setCurrent(assign, "\(assign.taskID) epoch \(epoch + 1)/\(recipe.epochs)")
            report(assign, .running, done: done, total: total)
        }
        report(assign, .running, done: 0, total: total)
        let trainer = Trainer(model: net, settings: settings, observer: observer)
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
                        "normalization.mean": String(bundle.normalization.mean),
                        "normalization.std": String(bundle.normalization.std), "key": key, "complete": "true"]
        if let v = last?.validation { metadata["validation.accuracy"] = String(v.accuracy) }
        try save(net, spec: modelSpec, metadata: metadata, to: out)
        metrics(assign, epoch: recipe.epochs, step: trainer.globalStep, [("teacher\(index).test_accuracy", Double(test.accuracy))])
        logger.info("\(assign.taskID) trained: test accuracy \(String(format: "%.2f%%", Double(test.accuracy) * 100)), saved \(out)")
        report(assign, .running, done: total, total: total)
        return net
    }

    private func save(_ net: Sequential, spec: ModelSpec, metadata: [String: String], to out: String) throws(TaskFailure) {
        do {
            try FileManager.default.createDirectory(atPath: (out as NSString).deletingLastPathComponent,
                                                    withIntermediateDirectories: true)
            try ModelCheckpoint(model: net, spec: spec, metadata: metadata).write(to: out)
        } catch {
            throw TaskFailure("could not save \(out): \(error)")
        }
    }

    // MARK: students

    private func studentTask(_ assign: AssignTask, _ task: StudentTask) async throws(TaskFailure) {
        guard let dataPlane else { throw TaskFailure("this worker has no data endpoint") }
        let (spec, bundle) = try runData(assign)
        let rank = Int(task.rank), replicas = Int(task.replicas)
        guard task.teacherEndpoints.count == spec.teachers.count, task.peerEndpoints.count == replicas else {
            throw TaskFailure("the assignment lists \(task.teacherEndpoints.count) teacher and \(task.peerEndpoints.count) "
                + "replica endpoints for \(spec.teachers.count) teachers and \(replicas) replicas")
        }
        let plan = stepPlan(spec, bundle)
        let trainer: Trainer
        let studentSpec: ModelSpec
        let kd = KDLoss(temperature: spec.distillation.temperature, alpha: spec.distillation.alpha)
        let rule: EnsembleRule
        do {
            studentSpec = try spec.student.modelSpec()
            let model = try studentSpec.build(dataShape: bundle.train.sampleShape, seed: spec.training.seed)
            trainer = Trainer(model: model, settings: try spec.training.trainingSettings(stepsPerEpoch: plan.stepsPerEpoch))
            rule = try spec.distillation.ensembleRule()
        } catch {
            throw TaskFailure("student: \(error)")
        }
        var teachers: [any Connection] = []
        do {
            for endpoint in task.teacherEndpoints { teachers.append(try await dataPlane.connect(endpoint)) }
        } catch {
            throw TaskFailure("replica \(rank) cannot reach a teacher: \(error)")
        }
        let next: (any Connection)?
        do { next = replicas > 1 ? try await dataPlane.connect(task.peerEndpoints[(rank + 1) % replicas]) : nil } catch {
            throw TaskFailure("replica \(rank) cannot reach replica \((rank + 1) % replicas): \(error)")
        }
        let ring: RingAllReduce
        do {
            ring = try RingAllReduce(runID: assign.runID, generation: task.ringGeneration, rank: rank, ranks: replicas,
                                     count: trainer.model.parameterCount,
                                     source: dataPlane.inbox.gradientSource(run: assign.runID), next: next, timeout: dataTimeout)
        } catch {
            throw TaskFailure("\(error)")
        }
        let replica = StudentReplica(runID: assign.runID, rank: rank, trainer: trainer, plan: plan, kd: kd, rule: rule,
                                     codec: codec(spec, classes: bundle.train.classCount), train: bundle.train, teachers: teachers,
                                     logits: dataPlane.inbox.logitsQueue(run: assign.runID), ring: ring, timeout: dataTimeout)
        let runID = assign.runID
        var lastReport = DispatchTime.now().uptimeNanoseconds
        var epochStarted = DispatchTime.now().uptimeNanoseconds
        do throws(DataPlaneError) {
            try await replica.run(onStep: { [self] done, total in
                let now = DispatchTime.now().uptimeNanoseconds
                if Double(now - lastReport) / 1e9 >= reportInterval || done == total {
                    lastReport = now
                    setCurrent(assign, "\(assign.taskID) step \(done)/\(total)")
                    report(assign, .running, done: UInt64(done), total: UInt64(total))
                }
            }, onEpoch: { [self] epoch in
                let seconds = Double(DispatchTime.now().uptimeNanoseconds - epochStarted) / 1e9
                epochStarted = DispatchTime.now().uptimeNanoseconds
                guard rank == 0 else { return }
                let t = replica.timing, steps = Double(max(t.steps, 1))
                var figures: [(String, Double)] = [("student.samples_per_s", Double(plan.sampleCount) / max(seconds, 1e-9)),
                                                   ("student.compute_ms_per_step", t.compute / steps * 1000),
                                                   ("student.logits_wait_ms_per_step", t.logitsWait / steps * 1000),
                                                   ("student.allreduce_ms_per_step", t.allReduce / steps * 1000)]
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
        if rank == 0 {
            switch await replica.testSplitAccuracy(on: bundle.test, timeout: dataTimeout) {
            case .success(let accuracy):
                if spec.distillation.mode == .online {
                    // Online teachers changed while serving: their final accuracy, from the logits
                    // they sent, goes out here — before this replica's completion, on the same
                    // connection, so the report written when the run ends has it.
                    metrics(assign, epoch: plan.epochs, step: trainer.globalStep,
                            accuracy.teachers.enumerated().map { ("teacher\($0.offset).test_accuracy", Double($0.element)) })
                }
                metrics(assign, epoch: plan.epochs, step: trainer.globalStep, [("ensemble.test_accuracy", Double(accuracy.ensemble))])
            case .failure(let why):
                logger.warning("\(assign.taskID): no ensemble accuracy for the report: \(why)")
            }
            let test = Evaluation.run(trainer.model, on: bundle.test)
            metrics(assign, epoch: plan.epochs, step: trainer.globalStep, [("student.test_accuracy", Double(test.accuracy))])
            metrics(assign, epoch: plan.epochs, step: trainer.globalStep,
                    [("student.parameters", Double(trainer.model.parameterCount)),
                     ("student.latency_us", latencyMicroseconds(trainer.model, on: bundle.test))])
            let out = "\(cacheDirectory)/students/\(assign.runID)/student.safetensors"
            try save(trainer.model, spec: studentSpec,
                     metadata: ["run": assign.runID, "test.accuracy": String(test.accuracy), "replicas": String(replicas),
                                "normalization.mean": String(bundle.normalization.mean),
                                "normalization.std": String(bundle.normalization.std), "complete": "true"], to: out)
            if let data = FileManager.default.contents(atPath: out) {
                sendArtifact(assign, name: "student.safetensors", bytes: [UInt8](data))
            }
            logger.info("\(assign.taskID): student test accuracy \(String(format: "%.2f%%", Double(test.accuracy) * 100)), saved \(out)")
        }
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
