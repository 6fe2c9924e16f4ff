// The rows of the coordinator's database, as plain Sendable values. The store maps them to
// SQL itself (ClusterStore+*.swift), so nothing of GRDB is visible outside this target.

/// A worker the coordinator has seen. Upserted by `name`.
public struct WorkerRecord: Sendable, Equatable {
    public var name: String
    /// e.g. ["student", "teacher"]; stored (and returned) sorted, without duplicates.
    public var roles: [String]
    /// The worker's advertised data endpoint.
    public var address: String
    public var cores: Int
    public var memoryBytes: Int64
    public var version: String
    /// "alive", "suspect", "dead", "left".
    public var state: String
    /// Wall-clock unix milliseconds.
    public var lastSeenMs: Int64
    public var reason: String

    public init(
        name: String, roles: [String], address: String, cores: Int, memoryBytes: Int64, version: String,
        state: String, lastSeenMs: Int64, reason: String = ""
    ) {
        self.name = name
        self.roles = roles
        self.address = address
        self.cores = cores
        self.memoryBytes = memoryBytes
        self.version = version
        self.state = state
        self.lastSeenMs = lastSeenMs
        self.reason = reason
    }
}

/// A submitted run. `id` is "run-N-xxxxxxxx" (``RunID``), allocated by `ClusterStore.insertRun`.
public struct RunRecord: Sendable, Equatable {
    public var id: String
    public var name: String
    public var specYAML: String
    /// RunPhase raw values, e.g. "pending", "preparing-teachers".
    public var state: String
    public var reason: String
    public var submittedAtMs: Int64
    public var updatedAtMs: Int64
    /// The key the client submitted the run with (`SubmitRun.idempotency_key`); nil when it
    /// sent none. At most one run has a given key.
    public var idempotencyKey: String?

    public init(
        id: String, name: String, specYAML: String, state: String, reason: String,
        submittedAtMs: Int64, updatedAtMs: Int64, idempotencyKey: String? = nil
    ) {
        self.id = id
        self.name = name
        self.specYAML = specYAML
        self.state = state
        self.reason = reason
        self.submittedAtMs = submittedAtMs
        self.updatedAtMs = updatedAtMs
        self.idempotencyKey = idempotencyKey
    }
}

/// One line of the append-only event log. `runID == nil` is a cluster-wide event.
public struct EventRecord: Sendable, Equatable {
    /// Increases with every appended event (the log's order), never reused.
    public var id: Int64
    public var runID: String?
    /// e.g. "state", "worker", "task", "shard".
    public var kind: String
    public var message: String
    public var atMs: Int64

    public init(id: Int64, runID: String?, kind: String, message: String, atMs: Int64) {
        self.id = id
        self.runID = runID
        self.kind = kind
        self.message = message
        self.atMs = atMs
    }
}

/// One metric value of a run at (epoch, step).
public struct MetricRecord: Sendable, Equatable {
    public var runID: String
    public var epoch: Int
    public var step: Int
    public var name: String
    /// Any Double, NaN and ±infinity included (a diverging loss is still recorded).
    public var value: Double
    public var atMs: Int64

    public init(runID: String, epoch: Int, step: Int, name: String, value: Double, atMs: Int64) {
        self.runID = runID
        self.epoch = epoch
        self.step = step
        self.name = name
        self.value = value
        self.atMs = atMs
    }
}

/// Metadata of a file a run produced; the bytes live under the state dir (written by the caller).
/// Upserted by (`runID`, `name`).
public struct ArtifactRecord: Sendable, Equatable {
    public var runID: String
    public var name: String
    public var sha256: String
    public var bytes: Int64
    /// Relative to the state dir.
    public var path: String
    public var atMs: Int64

    public init(runID: String, name: String, sha256: String, bytes: Int64, path: String, atMs: Int64) {
        self.runID = runID
        self.name = name
        self.sha256 = sha256
        self.bytes = bytes
        self.path = path
        self.atMs = atMs
    }
}

/// One `Metrics` message's values, to be appended with the others of a batch.
public struct MetricsReport: Sendable {
    public var runID: String
    public var epoch: Int
    public var step: Int
    public var values: [(name: String, value: Double)]
    public var atMs: Int64

    public init(runID: String, epoch: Int, step: Int, values: [(name: String, value: Double)], atMs: Int64) {
        self.runID = runID
        self.epoch = epoch
        self.step = step
        self.values = values
        self.atMs = atMs
    }
}
