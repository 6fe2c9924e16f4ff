import Wire

/// What a worker's shell (`Worker`) needs of whatever runs its tasks — the data plane's
/// `TaskRunner` in a real worker. The control plane only starts, cancels and reports tasks;
/// how a teacher or a student replica works is the data plane's business, so this target
/// neither imports nor links the training code.
public protocol WorkerTasks: AnyObject, Sendable {
    /// What the tasks are doing, for heartbeats ("run-3/teacher-1 epoch 2/10", or "").
    var currentTask: String { get }
    /// The runs it holds tasks of (started, not yet ended), sorted, for heartbeats.
    var runs: [String] { get }
    /// Starts `assign`; false, starting nothing, when a task with its id runs already (its
    /// peers' endpoints are updated instead, docs/PROTOCOL.md "Tasks").
    @discardableResult func start(_ assign: AssignTask) -> Bool
    /// Stops the run's tasks at their next check.
    func cancel(runID: String)
    /// Stops every task (the worker leaves).
    func cancelAll()
    /// `TaskStatus`, `Metrics` and `ArtifactChunk` messages for the coordinator, in the order
    /// the tasks produced them; each is handed out once.
    func drainReports() -> [TaskReport]
    /// The transfer of shard or checkpoint `hash` from the coordinator failed, for `reason`.
    func transferFailed(_ hash: String, reason: String)
    /// A new transfer of `hash` started: an earlier failure no longer applies.
    func transferStarted(_ hash: String)
    /// Shard or checkpoint `hash` was received, verified and stored in the cache (a task
    /// waiting for it can go on).
    func transferCompleted(_ hash: String)
    /// The coordinator answered an artifact (stored, or refused with the reason).
    func artifactAcked(_ ack: ArtifactAck)
    /// The worker registered (again) with a coordinator: what waits for an answer from the
    /// previous one (an upload) is sent again.
    func registered()
}

extension WorkerTasks {
    public func transferCompleted(_ hash: String) {}
    public func artifactAcked(_ ack: ArtifactAck) {}
    public func registered() {}
}

/// A message a task sends the coordinator: a body and its tensor frames.
public struct TaskReport: Sendable {
    public var body: Body
    public var tensors: [TensorMeta]
    public var frames: [Frame]

    public init(body: Body, tensors: [TensorMeta] = [], frames: [Frame] = []) {
        self.body = body
        self.tensors = tensors
        self.frames = frames
    }
}
