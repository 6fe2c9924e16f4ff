// Run messages between the CLI and the coordinator (proto section "runs").

/// CLI → coordinator: start a run (proto `distillery.v1.SubmitRun`).
///
/// Rules: `spec_yaml` non-empty; `idempotency_key` at most ``maxIdempotencyKeyBytes``
/// bytes; no tensors. (The spec's size limit is the coordinator's to enforce: it answers an
/// oversized spec with a `SubmitRunReply` naming the limit.)
public struct SubmitRun: Sendable, Equatable {
    /// The run spec exactly as the user wrote it.
    public var specYaml: String
    /// For error messages.
    public var fileName: String
    /// Chosen by the client (a random UUID per `distillery submit` invocation) and sent
    /// unchanged with every retry of one submission: the coordinator creates one run per key
    /// and answers a retry with that run (`SubmitRunReply.duplicate`). Empty = no deduplication.
    public var idempotencyKey: String
    /// Resume: an ended run to continue from its last checkpoint as a new run with its spec
    /// (docs/PROTOCOL.md "Resume"); `specYaml` and `fileName` are then empty.
    public var resumeRunID: String

    /// Longest `idempotency_key`, in UTF-8 bytes.
    public static let maxIdempotencyKeyBytes = 128
    /// Longest `resume_run_id`, in UTF-8 bytes.
    public static let maxResumeRunIDBytes = 128

    public init(specYaml: String = "", fileName: String = "", idempotencyKey: String = "", resumeRunID: String = "") {
        self.specYaml = specYaml
        self.fileName = fileName
        self.idempotencyKey = idempotencyKey
        self.resumeRunID = resumeRunID
    }
}

/// One problem with a submitted spec (proto `distillery.v1.FieldError`).
///
/// Rules: `message` non-empty (`field` may be empty for whole-file problems).
public struct FieldError: Sendable, Equatable {
    /// Dotted path, e.g. "training.epochs".
    public var field: String
    /// What is wrong and what is allowed.
    public var message: String

    public init(field: String = "", message: String = "") {
        self.field = field
        self.message = message
    }
}

/// coordinator → CLI: answer to `SubmitRun` (proto `distillery.v1.SubmitRunReply`).
///
/// Rules: accepted ⇒ `run_id` non-empty and no `errors`; rejected ⇒ at least one error and
/// not `duplicate`; no tensors.
public struct SubmitRunReply: Sendable, Equatable {
    public var accepted: Bool
    public var runID: String
    public var errors: [FieldError]
    /// The submission's idempotency key had been used already: `runID` is the run its first
    /// submission created, and nothing new was created.
    public var duplicate: Bool
    /// A resumption's first global step (its checkpoint's; 0: from the beginning).
    public var resumeStep: UInt64

    public init(accepted: Bool = false, runID: String = "", errors: [FieldError] = [], duplicate: Bool = false,
                resumeStep: UInt64 = 0) {
        self.accepted = accepted
        self.runID = runID
        self.errors = errors
        self.duplicate = duplicate
        self.resumeStep = resumeStep
    }
}

/// CLI → coordinator: "show the cluster" (proto `distillery.v1.StatusRequest`). Rules: no tensors.
public struct StatusRequest: Sendable, Equatable {
    public init() {}
}

/// One node in `ClusterStatus` (proto `distillery.v1.NodeStatus`).
///
/// Rules: `node_id` non-empty; `state` and `roles` known values; `cpu_percent` finite and ≥ 0.
public struct NodeStatus: Sendable, Equatable {
    public var nodeID: String
    public var name: String
    public var roles: [Role]
    public var address: String
    public var state: NodeState
    public var lastHeardMsAgo: UInt64
    public var cpuPercent: Float
    public var rssBytes: UInt64
    public var currentTask: String
    public var version: String

    public init(nodeID: String = "", name: String = "", roles: [Role] = [], address: String = "",
                state: NodeState = .alive, lastHeardMsAgo: UInt64 = 0, cpuPercent: Float = 0,
                rssBytes: UInt64 = 0, currentTask: String = "", version: String = "") {
        self.nodeID = nodeID
        self.name = name
        self.roles = roles
        self.address = address
        self.state = state
        self.lastHeardMsAgo = lastHeardMsAgo
        self.cpuPercent = cpuPercent
        self.rssBytes = rssBytes
        self.currentTask = currentTask
        self.version = version
    }
}

/// coordinator → CLI: answer to `StatusRequest` (proto `distillery.v1.ClusterStatus`).
/// Rules: every node valid (see ``NodeStatus``); no tensors.
public struct ClusterStatus: Sendable, Equatable {
    public var nodes: [NodeStatus]
    public var coordinatorVersion: String
    public var security: ListenerSecurity
    /// At most ``maxRefusedKeys``, the most recent first.
    public var refusedKeys: [RefusedKey]

    public static let maxRefusedKeys = 64

    public init(nodes: [NodeStatus] = [], coordinatorVersion: String = "", security: ListenerSecurity = .unreported,
                refusedKeys: [RefusedKey] = []) {
        self.nodes = nodes
        self.coordinatorVersion = coordinatorVersion
        self.security = security
        self.refusedKeys = refusedKeys
    }
}

/// A client key the coordinator refused (proto `distillery.v1.RefusedKey`). Rules: `public_key`
/// empty or 40 characters; `reason` not empty.
public struct RefusedKey: Sendable, Equatable {
    /// Z85; "" for clients without CURVE.
    public var publicKey: String
    /// Its name in authorized_keys; "" when not listed.
    public var name: String
    public var reason: String
    public var count: UInt64
    public var lastMsAgo: UInt64

    public init(publicKey: String, name: String = "", reason: String, count: UInt64, lastMsAgo: UInt64 = 0) {
        self.publicKey = publicKey
        self.name = name
        self.reason = reason
        self.count = count
        self.lastMsAgo = lastMsAgo
    }
}

/// CLI → coordinator: list runs (proto `distillery.v1.ListRuns`). Rules: no tensors.
public struct ListRuns: Sendable, Equatable {
    /// 0 = all.
    public var limit: UInt32

    public init(limit: UInt32 = 0) {
        self.limit = limit
    }
}

/// One run in `RunList` / `RunUpdate` (proto `distillery.v1.RunSummary`).
///
/// Rules: `run_id` non-empty; `state` a known value; terminal state ⇒ `reason` non-empty.
public struct RunSummary: Sendable, Equatable {
    public var runID: String
    public var name: String
    public var state: RunState
    /// Why it is in this state (always set for terminal states).
    public var reason: String
    public var submittedUnixMs: UInt64
    public var updatedUnixMs: UInt64

    public init(runID: String = "", name: String = "", state: RunState = .pending, reason: String = "",
                submittedUnixMs: UInt64 = 0, updatedUnixMs: UInt64 = 0) {
        self.runID = runID
        self.name = name
        self.state = state
        self.reason = reason
        self.submittedUnixMs = submittedUnixMs
        self.updatedUnixMs = updatedUnixMs
    }
}

/// coordinator → CLI: answer to `ListRuns` (proto `distillery.v1.RunList`).
/// Rules: every run valid (see ``RunSummary``); no tensors.
public struct RunList: Sendable, Equatable {
    public var runs: [RunSummary]

    public init(runs: [RunSummary] = []) {
        self.runs = runs
    }
}

/// CLI → coordinator: stream updates of a run (proto `distillery.v1.WatchRun`).
/// Rules: `run_id` non-empty; no tensors.
public struct WatchRun: Sendable, Equatable {
    public var runID: String

    public init(runID: String = "") {
        self.runID = runID
    }
}

/// coordinator → watcher, repeated until the run is terminal (proto `distillery.v1.RunUpdate`).
///
/// Rules: `run` present and valid (the proto field is a message that could be absent on the
/// wire; decode refuses that, so it is not optional here); `phase_total` > 0 ⇒
/// `phase_done` ≤ `phase_total`; every `latest` value and `history` point has a name; a
/// point's epoch is ≥ 1; at most ``maxHistory`` points; at most ``maxTeacherWorkers`` teacher
/// and ``maxStudentWorkers`` student workers; no tensors.
public struct RunUpdate: Sendable, Equatable {
    public var run: RunSummary
    /// E.g. "teachers", "distil".
    public var phase: String
    public var phaseDone: UInt64
    public var phaseTotal: UInt64
    public var latest: [MetricValue]
    /// The run's curves: each per-epoch figure's last value in each epoch, by name then epoch.
    public var history: [EpochPoint]
    /// The worker hosting teacher i (index i) and student replica slot r (index r); "" for a
    /// part waiting to be placed again; empty lists before placement and after the run.
    public var teacherWorkers: [String]
    public var studentWorkers: [String]

    /// Most `history` points in one update (the newest epochs are kept).
    public static let maxHistory = 4096
    /// Most entries of `teacher_workers` / `student_workers` (the run spec's limits).
    public static let maxTeacherWorkers = 32
    public static let maxStudentWorkers = 64

    public init(run: RunSummary = RunSummary(), phase: String = "", phaseDone: UInt64 = 0,
                phaseTotal: UInt64 = 0, latest: [MetricValue] = [], history: [EpochPoint] = [],
                teacherWorkers: [String] = [], studentWorkers: [String] = []) {
        self.run = run
        self.phase = phase
        self.phaseDone = phaseDone
        self.phaseTotal = phaseTotal
        self.latest = latest
        self.history = history
        self.teacherWorkers = teacherWorkers
        self.studentWorkers = studentWorkers
    }
}

/// One point of a curve (proto `distillery.v1.EpochPoint`): figure `name` at the end of `epoch`.
public struct EpochPoint: Sendable, Equatable, Hashable {
    public var name: String
    /// 1-based.
    public var epoch: UInt32
    public var value: Double

    public init(name: String = "", epoch: UInt32 = 0, value: Double = 0) {
        self.name = name
        self.epoch = epoch
        self.value = value
    }
}

/// CLI → coordinator: cancel a run (proto `distillery.v1.CancelRun`).
/// Rules: `run_id` non-empty; no tensors.
public struct CancelRun: Sendable, Equatable {
    public var runID: String

    public init(runID: String = "") {
        self.runID = runID
    }
}

/// coordinator → CLI: answer to `CancelRun` (proto `distillery.v1.CancelRunReply`).
/// Rules: no tensors.
public struct CancelRunReply: Sendable, Equatable {
    public var cancelled: Bool
    public var message: String

    public init(cancelled: Bool = false, message: String = "") {
        self.cancelled = cancelled
        self.message = message
    }
}
