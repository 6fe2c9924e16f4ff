// sharding → preparingTeachers: each placement worker receives its shard.

extension RunLifecycle {
    /// While sharding, progress from a worker whose shard is on its way restarts its stall timer.
    mutating func shardProgress(from worker: String, _ event: RunEvent, at now: ClockTime) -> [RunDirective] {
        if let why = shardMisfit(worker) { return ignore(event, why) }
        shardActivity[worker] = max(shardActivity[worker] ?? now, now)
        return []
    }

    /// While sharding, a delivered shard stops its worker's stall timer; when every placement
    /// worker has its shard, the run moves to preparingTeachers and each teacher is assigned
    /// (`.assign` in index order, acceptance timers start at `now`).
    mutating func shardDelivered(by worker: String, _ event: RunEvent, at now: ClockTime) -> [RunDirective] {
        if let why = shardMisfit(worker) { return ignore(event, why) }
        shardsDelivered.insert(worker)
        shardActivity[worker] = nil
        guard let placement, shardsDelivered.count == placement.workers.count else { return [] }
        phase = .preparingTeachers
        return assign(.teacher, on: placement.teacherWorkers, at: now)
    }

    /// While sharding, a failed transfer to a worker still waiting for its shard fails the run.
    mutating func shardFailed(on worker: String, because why: String, _ event: RunEvent) -> [RunDirective] {
        if let misfit = shardMisfit(worker) { return ignore(event, misfit) }
        let detail = why.isEmpty ? "no reason given" : why
        return end(.failed, because: "the shard transfer to \(worker) failed: \(detail)")
    }

    /// Why a shard event from `worker` does not fit now, nil when it does.
    func shardMisfit(_ worker: String) -> String? {
        guard phase == .sharding, let placement else { return notNow("shard events are expected only while sharding") }
        guard placement.workers.contains(worker) else { return "\(worker) holds no part of this run" }
        guard !shardsDelivered.contains(worker) else { return "the shard for \(worker) is already delivered" }
        return nil
    }
}
