import ClusterCore

/// How a coordinator behaves; the defaults are the ones docs/PROTOCOL.md states.
public struct CoordinatorSettings: Sendable {
    /// The `sender` of every message the coordinator sends.
    public var name: String
    /// Software version; workers must share its major.minor.
    public var version: String
    /// Heartbeat interval and the silences after which a worker is suspect, then dead.
    public var liveness: LivenessSettings
    public var runTimeouts: RunTimeouts
    /// A watcher gets a `RunUpdate` on every change and at least this often.
    public var watchInterval: Duration
    /// Bytes per `ShardChunk` frame.
    public var shardChunkBytes: Int
    /// Watchers kept per run (the oldest is dropped beyond this).
    public var maxWatchersPerRun: Int
    /// Lateness of the liveness lane's loop that counts as scheduling noise; beyond it the
    /// lateness is a stall of the coordinator's own, excused to every worker (`LocalHealth`).
    /// nil never excuses (in-memory tests that move a manual clock in jumps on purpose).
    public var stallTolerance: Duration?
    /// Metrics are written in one transaction per this interval (per-step traffic never costs
    /// one fsync per message).
    public var metricsFlushInterval: Duration
    /// How often the liveness lane logs its heartbeat-answer latencies (median, p99, max).
    public var latencyLogInterval: Duration
    /// After a restart, how long a run that was in flight waits for the workers holding it to
    /// register again and report it (Coordinator+Recovery); a run none of them reports by then
    /// is interrupted, and a holder that does not report it is lost to the run.
    public var recoveryGrace: Duration

    public init(name: String = "coordinator", version: String = DistilleryVersion.current,
                liveness: LivenessSettings = LivenessSettings(), runTimeouts: RunTimeouts = RunTimeouts(),
                watchInterval: Duration = .seconds(2), shardChunkBytes: Int = 1 << 20, maxWatchersPerRun: Int = 32,
                stallTolerance: Duration? = .milliseconds(500), metricsFlushInterval: Duration = .seconds(1),
                latencyLogInterval: Duration = .seconds(60), recoveryGrace: Duration = .seconds(60)) {
        self.recoveryGrace = recoveryGrace
        self.name = name
        self.version = version
        self.liveness = liveness
        self.runTimeouts = runTimeouts
        self.watchInterval = watchInterval
        self.shardChunkBytes = shardChunkBytes
        self.maxWatchersPerRun = maxWatchersPerRun
        self.stallTolerance = stallTolerance
        self.metricsFlushInterval = metricsFlushInterval
        self.latencyLogInterval = latencyLogInterval
    }
}
