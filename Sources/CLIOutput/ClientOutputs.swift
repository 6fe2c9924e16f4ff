import ClusterRuntime
import Wire

// The `--json` outputs of the commands that talk to the coordinator. Their keys are stable:
// tests and scripts read `status`'s nodes and states, `runs`' run ids and states, `report`'s
// figures (Scripts/bench-cluster). `report --json` prints a `RunReport`.

/// `distillery submit --json`.
public struct SubmitOutput: Codable, Sendable, Equatable {
    public var runID: String
    public var accepted: Bool
    /// `distillery resume`: the ended run continued, and the step the new run starts from.
    public var resumes: String?
    public var resumeStep: UInt64?

    public init(runID: String, accepted: Bool, resumes: String? = nil, resumeStep: UInt64? = nil) {
        self.runID = runID
        self.accepted = accepted
        self.resumes = resumes
        self.resumeStep = resumeStep
    }

    enum CodingKeys: String, CodingKey {
        case runID = "run_id"
        case accepted
        case resumes
        case resumeStep = "resume_step"
    }
}

/// `distillery status --json`: the coordinator's version and every node it knows.
public struct StatusOutput: Codable, Sendable, Equatable {
    public struct Node: Codable, Sendable, Equatable {
        public var name: String
        /// "teacher", "student".
        public var roles: [String]
        public var address: String
        /// "alive", "suspect", "dead", "left".
        public var state: String
        public var lastHeardMsAgo: UInt64
        public var cpuPercent: Double
        public var rssBytes: UInt64
        public var currentTask: String
        public var version: String

        enum CodingKeys: String, CodingKey {
            case name, roles, address, state, version
            case lastHeardMsAgo = "last_heard_ms_ago"
            case cpuPercent = "cpu_percent"
            case rssBytes = "rss_bytes"
            case currentTask = "current_task"
        }
    }

    /// A client key the coordinator refused.
    public struct Refused: Codable, Sendable, Equatable {
        /// Z85; "" for clients without CURVE.
        public var publicKey: String
        public var name: String
        public var reason: String
        public var count: UInt64
        public var lastMsAgo: UInt64

        enum CodingKeys: String, CodingKey {
            case name, reason, count
            case publicKey = "public_key"
            case lastMsAgo = "last_ms_ago"
        }
    }

    public var coordinatorVersion: String
    /// "curve", "loopback" (plaintext, this machine only), "insecure" (plaintext, --insecure),
    /// "unreported" (a coordinator older than 0.11).
    public var security: String
    public var nodes: [Node]
    public var refusedKeys: [Refused]

    public init(_ status: ClusterStatus) {
        coordinatorVersion = status.coordinatorVersion
        security = "\(status.security)"
        nodes = status.nodes.map { n in
            Node(name: n.name, roles: n.roles.map { "\($0)" }, address: n.address, state: "\(n.state)",
                 lastHeardMsAgo: n.lastHeardMsAgo, cpuPercent: Double(n.cpuPercent), rssBytes: n.rssBytes,
                 currentTask: n.currentTask, version: n.version)
        }
        refusedKeys = status.refusedKeys.map {
            Refused(publicKey: $0.publicKey, name: $0.name, reason: $0.reason, count: $0.count, lastMsAgo: $0.lastMsAgo)
        }
    }

    enum CodingKeys: String, CodingKey {
        case coordinatorVersion = "coordinator_version"
        case security, nodes
        case refusedKeys = "refused_keys"
    }
}

/// One run of `distillery runs --json` (which prints a list of them, newest first).
public struct RunOutput: Codable, Sendable, Equatable {
    public var runID: String
    public var name: String
    public var state: String
    public var reason: String
    public var submittedUnixMs: UInt64
    public var updatedUnixMs: UInt64

    public init(_ run: RunSummary) {
        runID = run.runID
        name = run.name
        state = run.state.text
        reason = run.reason
        submittedUnixMs = run.submittedUnixMs
        updatedUnixMs = run.updatedUnixMs
    }

    enum CodingKeys: String, CodingKey {
        case runID = "run_id"
        case name, state, reason
        case submittedUnixMs = "submitted_unix_ms"
        case updatedUnixMs = "updated_unix_ms"
    }
}

/// One update of `distillery watch --json` (and `submit --watch --json`): the run's state, its
/// current phase's progress and the latest figures by name.
public struct WatchOutput: Codable, Sendable, Equatable {
    public var runID: String
    public var state: String
    public var phase: String
    public var done: UInt64
    public var total: UInt64
    public var reason: String
    public var latest: [String: Double]

    public init(_ update: RunUpdate) {
        runID = update.run.runID
        state = update.run.state.text
        phase = update.phase
        done = update.phaseDone
        total = update.phaseTotal
        reason = update.run.reason
        latest = RunFigures.latest(update.latest)
    }

    enum CodingKeys: String, CodingKey {
        case runID = "run_id"
        case state, phase, done, total, reason, latest
    }
}

/// `distillery cancel --json`.
public struct CancelOutput: Codable, Sendable, Equatable {
    public var cancelled: Bool
    public var message: String

    public init(_ reply: CancelRunReply) {
        cancelled = reply.cancelled
        message = reply.message
    }
}

/// One event of `distillery logs --json` (which prints a list of them, oldest first).
public struct EventOutput: Codable, Sendable, Equatable {
    public var atUnixMs: UInt64
    public var kind: String
    public var message: String
    public var runID: String

    public init(_ event: EventEntry) {
        atUnixMs = event.atUnixMs
        kind = event.kind
        message = event.message
        runID = event.runID
    }

    enum CodingKeys: String, CodingKey {
        case atUnixMs = "at_unix_ms"
        case kind, message
        case runID = "run_id"
    }
}

extension RunReport {
    /// The report of a run from the coordinator's answer to `WatchRun` (its latest figures).
    public init(_ update: RunUpdate) {
        self.init(runID: update.run.runID, name: update.run.name, state: update.run.state.text, reason: update.run.reason,
                  figures: RunFigures.latest(update.latest))
    }
}
