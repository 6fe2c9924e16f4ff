import Clocks
import ClusterCore
import ClusterRuntime
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
    /// CURVE clusters: the run's peers' endpoints and keys to connect with, and every key the
    /// data endpoint is to admit now (`Transport.trustServer`, `Transport.admit`).
    public let secure: (@Sendable (_ peers: [PeerKey], _ admitted: Set<String>) -> Void)?

    public init(inbox: DataInbox, connect: @escaping @Sendable (String) async throws -> any Connection,
                secure: (@Sendable (_ peers: [PeerKey], _ admitted: Set<String>) -> Void)? = nil) {
        self.inbox = inbox
        self.connect = connect
        self.secure = secure
    }

    /// An assignment's peer keys (docs/PROTOCOL.md "Security"): who may send to the task's
    /// queues here, and the keys to connect with and to admit.
    func apply(_ assign: AssignTask) {
        guard !assign.peerKeys.isEmpty else { return }
        inbox.allow(DataInbox.senders(of: assign), run: assign.runID)
        secure?(assign.peerKeys, inbox.admittedKeys)
    }

    /// The run's last task here ended: its queues and its senders go.
    func forget(run: String) {
        let before = inbox.admittedKeys
        inbox.forget(run: run)
        if !before.isEmpty { secure?([], inbox.admittedKeys) }
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
public final class TaskRunner: WorkerTasks {
    let workerName: String
    let cacheDirectory: String
    let cache: ShardCache
    let logger: Logger
    let dataPlane: DataPlaneContext?
    let reportInterval: Double = 0.5
    /// Waits on the data plane: logits, credits and gradient chunks.
    let dataTimeout: Duration = .seconds(30)
    let reports = Mutex<[TaskReport]>([])
    let cancelled = Mutex<Set<String>>([])
    /// Teacher tasks that served to their end here (the last 1,000): a repeated assignment of one
    /// (the coordinator refreshing a teacher's peers) is not run again.
    let servedTeachers = Mutex<[String]>([])
    let current = Mutex<[String: String]>([:])
    /// Shards or checkpoints whose transfer from the coordinator failed, with the reason.
    let failedTransfers = Mutex<[String: String]>([:])
    /// Running tasks and their peers' current data endpoints.
    let peers = TaskPeers()
    /// Longest wait for an offered teacher checkpoint (the transfer's own window retries fail sooner).
    let checkpointTimeout: Duration = .seconds(300)
    /// The clock every wait, timeout and report interval of the tasks reads (the worker's).
    let clock: any RuntimeClock
    /// The clock the tasks' figures of compute cost are measured on (latency, samples/s, the
    /// step-time split, epoch seconds): the real one by default, so they stay real figures in
    /// tests whose cluster time is a `ManualClock`.
    let stopwatch: any RuntimeClock
    /// Signalled when a transfer from the coordinator ends (stored or failed), waking a task
    /// that waits for a checkpoint.
    let transfers = WakeSignal()
    /// The coordinator's answers to artifacts (`ArtifactAck`) by "run/name", and their signal.
    let artifactAcks = Mutex<[String: ArtifactAck]>([:])
    let acks = WakeSignal()
    /// How often the worker has registered with a coordinator (an upload in flight is sent
    /// again when this changes: the coordinator it was sent to may be gone).
    let registrations = Mutex(0)
    /// How long an upload that must be stored (the student) is sent again while refused.
    let uploadWait: Duration

    public init(workerName: String, cacheDirectory: String, cache: ShardCache, dataPlane: DataPlaneContext?,
                clock: any RuntimeClock = SystemRuntimeClock(), stopwatch: any RuntimeClock = SystemRuntimeClock(),
                uploadWait: Duration = .seconds(300), logger: Logger) {
        self.uploadWait = uploadWait
        self.clock = clock
        self.stopwatch = stopwatch
        self.workerName = workerName
        self.cacheDirectory = cacheDirectory
        self.cache = cache
        self.dataPlane = dataPlane
        self.logger = logger
    }

    /// What the worker is doing, for heartbeats ("run-3/teacher-1 epoch 2/10", or "").
    public var currentTask: String { current.withLock { $0.values.sorted().joined(separator: "; ") } }
    public var runs: [String] { peers.runs }


    /// `TaskStatus`, `Metrics` and `ArtifactChunk` messages, in the order the tasks produced them.
    public func drainReports() -> [TaskReport] {
        reports.withLock { r in defer { r.removeAll() }; return r }
    }

    /// Stops the run's tasks: they see it at their next check, and waits on the run's data
    /// (logits, credits, gradient chunks) end at once, its queues closed (`DataInbox.forget`).
    public func cancel(runID: String) {
        cancelled.withLock { _ = $0.insert(runID) }
        dataPlane?.forget(run: runID)
    }
    public func cancelAll() { cancelled.withLock { _ = $0.insert("*") } }

    func isCancelled(_ runID: String) -> Bool {
        cancelled.withLock { $0.contains(runID) || $0.contains("*") }
    }

    func report(_ assign: AssignTask, _ state: TaskState, reason: String = "", done: UInt64 = 0, total: UInt64 = 0) {
        let status = TaskStatus(runID: assign.runID, taskID: assign.taskID, state: state, reason: reason, done: done, total: total)
        reports.withLock { $0.append(TaskReport(body: .taskStatus(status))) }
    }

    /// Figures of a task, named `teacher<i>.<figure>` or `student.<figure>` so the coordinator
    /// can show the latest of each side by side.
    func metrics(_ assign: AssignTask, epoch: Int, step: Int, _ values: [(String, Double)]) {
        let m = Metrics(runID: assign.runID, epoch: UInt32(epoch), step: UInt64(step),
                        values: values.filter { $0.1.isFinite }.map { MetricValue(name: $0.0, value: $0.1) })
        reports.withLock { $0.append(TaskReport(body: .metrics(m))) }
    }

    /// Queues `bytes` as artifact `name` of the run for the coordinator, in chunks of 1 MiB
    /// (docs/PROTOCOL.md "Results"): `ArtifactChunk{name, sha256, total_bytes, offset, last}` + U8.
    func sendArtifact(_ assign: AssignTask, name: String, bytes: [UInt8], sha256: String? = nil) {
        let hash = sha256 ?? SHA256.hex(bytes)
        let chunk = ArtifactChunk.chunkBytes
        var offset = 0
        repeat {
            let end = min(bytes.count, offset + chunk)
            let piece = Array(bytes[offset..<end])
            let body = ArtifactChunk(runID: assign.runID, name: name, sha256: hash, totalBytes: UInt64(bytes.count),
                                     offset: UInt64(offset), last: end == bytes.count)
            let out = TaskReport(body: .artifactChunk(body), tensors: [TensorMeta(name: "bytes", dtype: .u8, shape: [UInt64(piece.count)])],
                               frames: [Frame(bytes: piece)])
            reports.withLock { $0.append(out) }
            offset = end
        } while offset < bytes.count
    }

    /// Mean time of a single-sample forward pass, in microseconds (inference latency).
    func latencyMicroseconds(_ model: any InferenceModel, on data: LabeledImages, samples: Int = 200) -> Double {
        let n = min(samples, data.count)
        guard n > 0 else { return 0 }
        var x = [Float](repeating: 0, count: data.features)
        var label: Int32 = 0
        let started = stopwatch.instant()
        for i in 0..<n {
            x.withUnsafeMutableBufferPointer { px in
                data.gather(indices: [i][...], into: px.baseAddress!, labels: &label)
                _ = model.infer(px.baseAddress!, batch: 1)
            }
        }
        return stopwatch.elapsed(since: started).inSeconds * 1e6 / Double(n)
    }

    func setCurrent(_ assign: AssignTask, _ text: String?) {
        current.withLock { $0[assign.taskID] = text }
    }

    /// Starts `assign` on a thread of its own; returns false, starting nothing, when a task
    /// with its id runs already: that task's peers' endpoints are updated instead (and a ready
    /// teacher reports `COMPLETED` again), see ``TaskPeers``.
    @discardableResult
    public func start(_ assign: AssignTask) -> Bool {
        // A run cancelled here earlier (this worker was replaced in it) may give it a part
        // again (an elastic ring grows back): once none of its old tasks runs, it is welcome.
        if !peers.runs.contains(assign.runID) { cancelled.withLock { _ = $0.remove(assign.runID) } }
        dataPlane?.apply(assign)
        if case .teacher = assign.task, servedTeachers.withLock({ $0.contains(assign.taskID) }) {
            logger.info("\(assign.taskID) has served its last step here: the repeated assignment is not run again")
            report(assign, .completed)
            return false
        }
        guard peers.begin(assign) else {
            logger.info("\(assign.taskID) runs already: its peers' endpoints were updated")
            if peers.isReady(assign.taskID) { report(assign, .completed) }
            return false
        }
        dataPlane?.inbox.open(run: assign.runID)
        let executor = ThreadExecutor(name: "distillery-task")
        Task(executorPreference: executor) { [self] in
            setCurrent(assign, assign.taskID)
            defer {
                setCurrent(assign, nil)
                // The run's last task here ended: its queues go (DataInbox "Lifetime").
                if peers.end(assign.taskID) { dataPlane?.forget(run: assign.runID) }
                executor.stop()
            }
            do throws(TaskFailure) {
                let spec = try runSpec(assign)
                switch assign.task {
                case .teacher(let teacher): try await teacherTask(assign, teacher, spec: spec)
                case .student(let student): try await studentTask(assign, student, spec: spec)
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

    /// The task's run spec, typed: the one place a worker parses `run_spec_yaml` (once per
    /// task, as it starts); everything the task does gets this value, never the text.
    func runSpec(_ assign: AssignTask) throws(TaskFailure) -> RunSpec {
        do { return try RunSpec(yaml: assign.runSpecYaml, fileName: "run \(assign.runID)") } catch {
            throw TaskFailure("the run spec sent by the coordinator does not parse here: \(error)")
        }
    }

    /// The run's data as every node derives it: the shard's splits, pre-processed as the shard
    /// says, with the validation samples held out by the run's seed.
    func runData(_ assign: AssignTask, _ spec: RunSpec) throws(TaskFailure) -> DataBundle {
        do {
            let contents = try DatasetShard.unpack(try cache.load(assign.shardHash))
            return DataBundle.split(train: contents.train, test: contents.test, validationCount: spec.dataset.validation,
                                    seed: spec.training.seed, normalization: contents.normalization,
                                    scale: contents.header.preprocessing.scale)
        } catch {
            throw TaskFailure("data shard \(assign.shardHash.prefix(12)): \(error)")
        }
    }

    func stepPlan(_ spec: RunSpec, _ bundle: DataBundle) -> StepPlan {
        StepPlan(sampleCount: bundle.train.count, batchSize: spec.training.batch, seed: spec.training.seed,
                 epochs: spec.training.epochs, replicas: spec.replicas, window: spec.prefetch,
                 streaming: spec.distillation.mode == .offline ? .firstEpochCached : .everyEpochWholeBatch)
    }

    /// How the run's logits travel (its top-k, float16 and temperature).
    func codec(_ spec: RunSpec, classes: Int) -> LogitsCodec {
        LogitsCodec(classes: classes, topK: spec.distillation.topK, float16: spec.distillation.float16,
                    temperature: spec.distillation.temperature)
    }

    /// Records that the transfer of shard or checkpoint `hash` failed (the worker gave up on it).
    public func transferFailed(_ hash: String, reason: String) {
        failedTransfers.withLock { $0[hash] = reason }
        transfers.signal()
    }

    /// Shard or checkpoint `hash` is now in the cache: wakes a task waiting for it.
    public func transferCompleted(_ hash: String) { transfers.signal() }

    /// A new transfer of `hash` started: an earlier failure no longer applies.
    public func transferStarted(_ hash: String) {
        _ = failedTransfers.withLock { $0.removeValue(forKey: hash) }
    }

    /// Saves `net` as a complete checkpoint at `out` (its directory made first).
    func save(_ net: Sequential, spec: ModelSpec, metadata: [String: String], to out: String) throws(TaskFailure) {
        do {
            try FileManager.default.createDirectory(atPath: (out as NSString).deletingLastPathComponent,
                                                    withIntermediateDirectories: true)
            try ModelCheckpoint(model: net, spec: spec, metadata: metadata).write(to: out)
        } catch {
            throw TaskFailure("could not save \(out): \(error)")
        }
    }
}

/// A task's failure, said as a sentence.
struct TaskFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Turns the trainer's per-step callbacks into progress reports, at most one per `interval` seconds
/// on `clock`.
final class ProgressReporter: TrainingObserver {
    let interval: Double
    let report: (UInt64, Int) -> Void
    let clock: any RuntimeClock
    private var done: UInt64 = 0
    private var lastReport: ClockInstant

    init(interval: Double, clock: any RuntimeClock, report: @escaping (UInt64, Int) -> Void) {
        self.interval = interval
        self.clock = clock
        self.lastReport = clock.instant()
        self.report = report
    }

    func stepCompleted(epoch: Int, step: Int, of steps: Int, loss: Float) {
        done += 1
        let now = clock.instant()
        if (now - lastReport).inSeconds >= interval {
            lastReport = now
            report(done, epoch)
        }
    }

    func epochCompleted(_ report: EpochReport) {}
}
