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

    public init(name: String = "coordinator", version: String = DistilleryVersion.current,
                liveness: LivenessSettings = LivenessSettings(), runTimeouts: RunTimeouts = RunTimeouts(),
                watchInterval: Duration = .seconds(2), shardChunkBytes: Int = 1 << 20, maxWatchersPerRun: Int = 32) {
        self.name = name
        self.version = version
        self.liveness = liveness
        self.runTimeouts = runTimeouts
        self.watchInterval = watchInterval
        self.shardChunkBytes = shardChunkBytes
        self.maxWatchersPerRun = maxWatchersPerRun
    }
}
