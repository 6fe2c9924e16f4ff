// How long a run waits for workers before it gives up.

public struct RunTimeouts: Sendable, Equatable {
    /// An assigned task must be accepted within this (default 10 s).
    public var taskAcceptance: Duration
    /// A worker's shard transfer fails when no progress is reported for this long (default 30 s).
    public var shardStall: Duration

    public init(taskAcceptance: Duration = .seconds(10), shardStall: Duration = .seconds(30)) {
        self.taskAcceptance = taskAcceptance
        self.shardStall = shardStall
    }
}
