// Timeouts: every wait of a run has one (zguide Paranoid Pirate: no hangs on a silent worker).

extension RunLifecycle {
    /// Checks the deadlines at `now` and fails the run when one is due:
    /// - sharding, and preparing teachers for workers that took a lost part: a worker whose
    ///   shard shows no progress for `shardStall`;
    /// - preparing teachers or distilling: a task not accepted within `taskAcceptance`;
    /// - sharding or preparing teachers: a part unplaced for `replacementWait` (the reason
    ///   names every unplaced part).
    /// A deadline is due at exactly its time. When several are due, the earliest one (then the
    /// first worker or task; shard before task before placement) is the reason.
    ///
    /// Not a failure: while an elastic run distils, a ring that made no progress for its stall
    /// window is renewed (``renewStalledRing(at:window:)``).
    mutating func tick(at now: ClockTime) -> [RunDirective] {
        if phase == .distilling, let givenUp = joinsGivenUp(at: now) { return givenUp }
        let due = deadlines().filter { now >= $0.at }.min { $0.at < $1.at }
        if let due { return end(.failed, because: due.reason(now)) }
        if let stall = ringStallDeadline, now >= stall.at { return renewStalledRing(at: now, window: stall.window) }
        return []
    }

    /// Earliest deadline (shard stall, task acceptance, replacement wait, ring stall), nil if none.
    public func nextDeadline() -> ClockTime? {
        (deadlines().map(\.at) + [ringStallDeadline?.at, joinDeadline].compactMap { $0 }).min()
    }

    /// The run's pending deadlines and the failure each one would give, in tie-break order.
    private func deadlines() -> [(at: ClockTime, reason: (ClockTime) -> String)] {
        var list: [(at: ClockTime, reason: (ClockTime) -> String)] = []
        guard phase == .sharding || phase == .preparingTeachers || phase == .distilling else { return list }
        // A worker taking back a lost slot while distilling gives up without failing the run
        // (RunLifecycle+Growing), and so does its task.
        let joiners = Set(joining.values)
        let stalled = shardActivity
            .filter { !joiners.contains($0.key) }
            .map { (worker: $0.key, since: $0.value) }
            .min { ($0.since, $0.worker) < ($1.since, $1.worker) }
        if let stalled {
            list.append((stalled.since + timeouts.shardStall, { now in
                "the shard transfer to \(stalled.worker) stalled: no progress for "
                    + "\((now - stalled.since).secondsText); check that \(stalled.worker) is running and its data "
                    + "endpoint is reachable, then resubmit the run"
            }))
        }
        let late = tasks.values
            .filter { $0.state == .assigned && !($0.ref.kind == .student && recruits.contains($0.ref.index)) }
            .min { ($0.assignedAt, $0.ref) < ($1.assignedAt, $1.ref) }
        if let late {
            let acceptance = timeouts.taskAcceptance
            list.append((late.assignedAt + acceptance, { _ in
                "\(late.ref) on \(late.worker) was not accepted within \(acceptance.secondsText); check that "
                    + "\(late.worker) is running and can reach the coordinator, then resubmit the run"
            }))
        }
        if let since = pausedSince, let elastic {
            let lost = Placement.listed(lostReplicas.sorted { $0.key < $1.key }.map {
                $0.value.worker.isEmpty ? "student \($0.key) (never placed)" : "student \($0.key) with \($0.value.worker)"
            })
            let left = ringOrder.count
            list.append((since + elastic.waitTimeout, { _ in
                "the run waited \(elastic.waitTimeout.secondsText) (elastic.wait-timeout) with \(left) replica(s), fewer than "
                    + "elastic.min-replicas (\(elastic.minReplicas)), and no student worker took the lost slots back (lost: \(lost)); "
                    + "start student workers (--roles student) and resubmit the run"
            }))
        }
        if let deadline = replacementDeadline {
            let reason = replacementGivenUp
            list.append((deadline, { _ in reason }))
        }
        return list
    }
}
