// sharding → preparingTeachers: each placement worker receives its shard (and, while
// preparing teachers, each worker that took a part of a lost one).

extension RunLifecycle {
    /// Progress from a worker whose shard is on its way restarts its stall timer.
    mutating func shardProgress(from worker: String, _ event: RunEvent, at now: ClockTime) -> [RunDirective] {
        if let why = shardMisfit(worker) { return ignore(event, why) }
        shardActivity[worker] = max(shardActivity[worker] ?? now, now)
        return []
    }

    /// A delivered shard stops its worker's stall timer. While preparing teachers, re-placed
    /// teachers on that worker are assigned (`.assign` by index). When every part is placed
    /// and every placement worker has its shard, the run moves on: sharding → preparingTeachers
    /// (`.assign` per teacher, in index order, acceptance timers from `now`), or
    /// preparingTeachers → distilling when all teachers are completed.
    mutating func shardDelivered(by worker: String, _ event: RunEvent, at now: ClockTime) -> [RunDirective] {
        if let why = shardMisfit(worker) { return ignore(event, why) }
        shardsDelivered.insert(worker)
        shardActivity[worker] = nil
        if phase == .distilling { return admitJoiners(at: now) + assignReplacedTeachers(at: now) }
        return assignWaitingTeachers(at: now) + advanceIfReady(at: now)
    }

    /// A failed transfer to a worker still waiting for its shard fails the run.
    mutating func shardFailed(on worker: String, because why: String, _ event: RunEvent) -> [RunDirective] {
        if let misfit = shardMisfit(worker) { return ignore(event, misfit) }
        let detail = why.isEmpty ? "no reason given" : why
        if phase == .distilling && joining.values.contains(worker) {
            return abandonJoin(of: worker, because: "its shard transfer failed: \(detail)")
        }
        return end(.failed, because: "the shard transfer to \(worker) failed: \(detail)")
    }

    /// Whether the run waits for `worker`'s shard (the shell routes shard messages by this).
    public func awaitsShard(from worker: String) -> Bool {
        shardMisfit(worker) == nil
    }

    /// Why a shard event from `worker` does not fit now, nil when it does: only while sharding,
    /// or while preparing teachers for a worker that took a lost part and is receiving its
    /// shard; only from a placement worker whose shard is not delivered yet.
    func shardMisfit(_ worker: String) -> String? {
        guard let placement, phase == .sharding || ((phase == .preparingTeachers || phase == .distilling) && shardActivity[worker] != nil) else {
            return notNow("shard events are expected only while sharding, or from a worker that took a lost part")
        }
        guard placement.workers.contains(worker) else { return "\(worker) holds no part of this run" }
        guard !shardsDelivered.contains(worker) else { return "the shard for \(worker) is already delivered" }
        return nil
    }
}
