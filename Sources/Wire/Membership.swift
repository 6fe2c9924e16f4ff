// Membership messages: join, liveness, leave (proto section "membership").

/// worker → coordinator: join the cluster (proto `distillery.v1.Register`).
/// Answered by `RegisterAck` or `ErrorReply(code: .version)`.
///
/// Rules: `name` non-empty; `roles` non-empty, known and without repeats; no tensors.
public struct Register: Sendable, Equatable {
    public var name: String
    public var roles: [Role]
    /// Where this worker's data socket is bound, e.g. `tcp://B:7879`.
    public var dataEndpoint: String
    public var cores: UInt32
    public var memoryBytes: UInt64
    /// Software version, for the status table.
    public var version: String
    /// Content hashes of shards already on disk.
    public var cachedShards: [String]
    /// A random id the worker process picks when it starts (at most 64 bytes); the same name
    /// registering with another one is a restarted process whose earlier work is gone.
    public var incarnation: String

    public init(name: String = "", roles: [Role] = [], dataEndpoint: String = "", cores: UInt32 = 0,
                memoryBytes: UInt64 = 0, version: String = "", cachedShards: [String] = [], incarnation: String = "") {
        self.name = name
        self.roles = roles
        self.dataEndpoint = dataEndpoint
        self.cores = cores
        self.memoryBytes = memoryBytes
        self.version = version
        self.cachedShards = cachedShards
        self.incarnation = incarnation
    }
}

/// coordinator → worker: welcome (proto `distillery.v1.RegisterAck`).
///
/// Rules: `node_id` non-empty; `heartbeat_interval_ms` ≥ 1; `liveness_timeout_ms` greater
/// than `heartbeat_interval_ms`; no tensors.
public struct RegisterAck: Sendable, Equatable {
    /// Id the coordinator assigned (stable across reconnects by name).
    public var nodeID: String
    public var heartbeatIntervalMs: UInt32
    /// Silence after which the peer is considered dead.
    public var livenessTimeoutMs: UInt32

    public init(nodeID: String = "", heartbeatIntervalMs: UInt32 = 0, livenessTimeoutMs: UInt32 = 0) {
        self.nodeID = nodeID
        self.heartbeatIntervalMs = heartbeatIntervalMs
        self.livenessTimeoutMs = livenessTimeoutMs
    }
}

/// Either direction: "still here" (proto `distillery.v1.Heartbeat`). Any inbound message
/// also counts as a heartbeat.
///
/// Rules: `cpu_percent` finite and ≥ 0; no tensors.
public struct Heartbeat: Sendable, Equatable {
    public var sentUnixMs: UInt64
    public var cpuPercent: Float
    public var rssBytes: UInt64
    public var currentTask: String
    /// The runs the worker holds tasks of (started, not yet ended), each once.
    public var runs: [String]

    public init(sentUnixMs: UInt64 = 0, cpuPercent: Float = 0, rssBytes: UInt64 = 0, currentTask: String = "",
                runs: [String] = []) {
        self.sentUnixMs = sentUnixMs
        self.cpuPercent = cpuPercent
        self.rssBytes = rssBytes
        self.currentTask = currentTask
        self.runs = runs
    }
}

/// worker → coordinator on clean shutdown (proto `distillery.v1.Deregister`). Rules: no tensors.
public struct Deregister: Sendable, Equatable {
    public var reason: String

    public init(reason: String = "") {
        self.reason = reason
    }
}
