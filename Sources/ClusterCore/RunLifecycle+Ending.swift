// How a run ends early: a lost worker, a cancel, an interrupt, or any failure.

extension RunLifecycle {
    /// A worker that holds work of this run (a placement worker, from sharding on) is lost.
    /// Before distilling its parts are placed again (``replaceParts(of:at:)``); while
    /// distilling the run fails and the other workers are told to stop. Other workers are ignored.
    mutating func workerLost(_ worker: String, _ event: RunEvent, at now: ClockTime) -> [RunDirective] {
        guard let placement, involvedWorkers.contains(worker) else {
            return ignore(event, "\(worker) holds no part of this run")
        }
        if phase == .sharding || phase == .preparingTeachers { return replaceParts(of: worker, at: now) }
        if phase == .distilling, let directives = shrinkRing(losing: worker, at: now) { return directives }
        let why = "worker \(worker) was lost while the run was \(phase.text); it held \(placement.parts(on: worker)), "
            + "so the run cannot go on: resubmit it once the cluster has enough workers"
        return end(.failed, because: why, sparing: worker)
    }

    /// Ends the run in `terminal` with `why`. Workers still holding its work (but `sparing`,
    /// the lost one) are told to stop; no directive when there are none.
    mutating func end(_ terminal: RunPhase, because why: String, sparing lost: String? = nil) -> [RunDirective] {
        let holders = involvedWorkers.filter { $0 != lost }
        phase = terminal
        reason = why
        shardActivity = [:]
        return holders.isEmpty ? [] : [.stopWork(workers: holders)]
    }

    /// The shell found, as the run completed, that results it must keep could not be stored
    /// (an artifact refused: a full disk, an unwritable directory, over the size cap): the run
    /// is failed with `why` instead, since a completed run promises its student is stored.
    /// Only right after the lifecycle completed the run; otherwise nothing changes.
    public mutating func resultsNotStored(_ why: String) {
        guard phase == .completed else { return }
        phase = .failed
        reason = why
    }
}
