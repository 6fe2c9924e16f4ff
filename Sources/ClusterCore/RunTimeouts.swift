// How long a run waits for workers before it gives up.

public struct RunTimeouts: Sendable, Equatable, Codable {
    /// An assigned task must be accepted within this (default 10 s).
    public var taskAcceptance: Duration
    /// A worker's shard transfer fails when no progress is reported for this long (default 30 s).
    public var shardStall: Duration
    /// A part whose worker was lost before distilling began waits at most this long for
    /// another worker to take it (default 5 min); then the run fails.
    public var replacementWait: Duration
    /// While an elastic run distils: no replica finishing a step for this long (or 5 steps at
    /// the slowest pace seen, if longer) renews the ring (default 10 s; the coordinator raises
    /// it to 2 s past its dead window, so a dead replica is removed first; the replicas' own
    /// wait for a gradient chunk gives up after 30 s).
    public var ringStall: Duration
    /// While an elastic run distils: a lost replica's slot is given to a worker again (the
    /// ring grows back) only while the replicas have at least this much training left at the
    /// slowest pace seen (default 20 s): a newcomer needs time to get the shard, build the
    /// student and join before the others finish.
    public var growthLead: Duration

    public init(taskAcceptance: Duration = .seconds(10), shardStall: Duration = .seconds(30),
                replacementWait: Duration = .seconds(300), ringStall: Duration = .seconds(10),
                growthLead: Duration = .seconds(20)) {
        self.growthLead = growthLead
        self.taskAcceptance = taskAcceptance
        self.shardStall = shardStall
        self.replacementWait = replacementWait
        self.ringStall = ringStall
    }
}
