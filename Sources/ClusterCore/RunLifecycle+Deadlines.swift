// Timeouts: every wait of a run has one (zguide Paranoid Pirate: no hangs on a silent worker).

extension RunLifecycle {
    /// Checks the deadlines at `now`: while sharding, a worker whose shard shows no progress
    /// for `shardStall` fails the run; while preparing teachers or distilling, a task not
    /// accepted within `taskAcceptance` fails it. A deadline is due at exactly its time. When
    /// several are due, the earliest one (then the first worker or task) is the reason.
    mutating func tick(at now: ClockTime) -> [RunDirective] {
        switch phase {
        case .sharding:
            let stalled = shardActivity
                .map { (worker: $0.key, since: $0.value) }
                .filter { now >= $0.since + timeouts.shardStall }
                .min { ($0.since, $0.worker) < ($1.since, $1.worker) }
            guard let stalled else { return [] }
            return end(.failed, because: "the shard transfer to \(stalled.worker) stalled: no progress for "
                + "\((now - stalled.since).secondsText); check that \(stalled.worker) is running and its data "
                + "endpoint is reachable, then resubmit the run")
        case .preparingTeachers, .distilling:
            let late = tasks.values
                .filter { $0.state == .assigned && now >= $0.assignedAt + timeouts.taskAcceptance }
                .min { ($0.assignedAt, $0.ref) < ($1.assignedAt, $1.ref) }
            guard let late else { return [] }
            return end(.failed, because: "\(late.ref) on \(late.worker) was not accepted within "
                + "\(timeouts.taskAcceptance.secondsText); check that \(late.worker) is running and can reach "
                + "the coordinator, then resubmit the run")
        case .pending, .placing, .completed, .failed, .cancelled, .interrupted:
            return []
        }
    }

    /// Earliest deadline (task acceptance, shard stall), nil if none.
    public func nextDeadline() -> ClockTime? {
        switch phase {
        case .sharding:
            return shardActivity.values.map { $0 + timeouts.shardStall }.min()
        case .preparingTeachers, .distilling:
            return tasks.values.filter { $0.state == .assigned }.map { $0.assignedAt + timeouts.taskAcceptance }.min()
        case .pending, .placing, .completed, .failed, .cancelled, .interrupted:
            return nil
        }
    }
}
