import ClusterCore

/// How a worker joins and talks to the cluster; defaults are docs/PROTOCOL.md's.
public struct WorkerSettings: Sendable {
    /// Unique in the cluster; the coordinator knows the worker by it.
    public var name: String
    public var roles: Set<WorkerRole>
    /// The coordinator's control endpoint, e.g. tcp://A:7878.
    public var coordinator: String
    /// Where to bind the data endpoint, e.g. `tcp://0.0.0.0:7879` or `tcp://127.0.0.1:*`.
    public var dataBind: String
    /// The host peers use to reach the data endpoint (`--advertise`); nil: the bound address.
    public var advertiseHost: String?
    /// Shards and teacher checkpoints are cached here.
    public var cacheDirectory: String
    public var version: String
    public var cores: Int
    public var memoryBytes: UInt64
    /// A `Register` not answered within this is sent again after a backoff.
    public var registerTimeout: Duration
    /// First and longest backoff between registration attempts (doubling in between).
    public var backoffInitial: Duration
    public var backoffMax: Duration
    /// Shard chunks requested at once, and how long a window may take before it is asked
    /// for again (`shardRetries` times, then the transfer fails).
    public var shardWindow: UInt32
    public var shardWindowTimeout: Duration
    public var shardRetries: Int
    /// Lateness of the worker's loop that counts as scheduling noise; beyond it the lateness is
    /// a stall of its own, not the coordinator's silence (`LocalHealth`). nil never excuses.
    public var stallTolerance: Duration?
    /// How long rank 0 keeps sending the student again while the coordinator refuses to store
    /// it (a full disk, an unwritable directory) before its task fails (default 5 min).
    public var uploadWait: Duration

    public init(name: String, roles: Set<WorkerRole>, coordinator: String, dataBind: String = "tcp://127.0.0.1:*",
                advertiseHost: String? = nil, cacheDirectory: String, version: String = DistilleryVersion.current,
                cores: Int = 1, memoryBytes: UInt64 = 0, registerTimeout: Duration = .seconds(2),
                backoffInitial: Duration = .seconds(2), backoffMax: Duration = .seconds(30), shardWindow: UInt32 = 8,
                shardWindowTimeout: Duration = .seconds(10), shardRetries: Int = 3, stallTolerance: Duration? = .milliseconds(500),
                uploadWait: Duration = .seconds(300)) {
        self.name = name
        self.roles = roles
        self.coordinator = coordinator
        self.dataBind = dataBind
        self.advertiseHost = advertiseHost
        self.cacheDirectory = cacheDirectory
        self.version = version
        self.cores = cores
        self.memoryBytes = memoryBytes
        self.registerTimeout = registerTimeout
        self.backoffInitial = backoffInitial
        self.backoffMax = backoffMax
        self.shardWindow = shardWindow
        self.shardWindowTimeout = shardWindowTimeout
        self.shardRetries = shardRetries
        self.stallTolerance = stallTolerance
        self.uploadWait = uploadWait
    }

    /// The data endpoint to advertise for a listener bound at `bound` (e.g.
    /// tcp://0.0.0.0:40123 with advertise host B → tcp://B:40123).
    public func advertisedEndpoint(bound: String) -> String {
        guard let host = advertiseHost, bound.hasPrefix("tcp://"), let colon = bound.lastIndex(of: ":") else { return bound }
        return "tcp://\(host):\(bound[bound.index(after: colon)...])"
    }
}

/// Why a worker stopped for good.
public enum WorkerError: Error, Sendable, CustomStringConvertible {
    /// The coordinator refused it (e.g. an incompatible version); retrying would not help.
    case refused(String)
    case setup(String)

    public var description: String {
        switch self {
        case .refused(let text): "the coordinator refused this worker: \(text)"
        case .setup(let text): text
        }
    }
}
