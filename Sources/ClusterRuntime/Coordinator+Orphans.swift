import Wire

/// Every task belongs to a run the coordinator still has in flight, or it stops
/// (docs/PROTOCOL.md "Liveness"): workers list the runs they hold tasks of in each heartbeat
/// (`Heartbeat.runs`), and a run not in flight here — it ended, it was in flight when this
/// coordinator started (interrupted), or it was never known — is an orphan; so is a
/// distilling run that no longer counts on the worker (its replica was replaced: the worker
/// was declared dead and came back). Its worker is told
/// to stop it (`CancelRun`) at every such heartbeat until its tasks end, and it is logged
/// once per worker and run. Without this, a coordinator restart left workers computing runs it
/// had marked interrupted, busy for new runs, and uploading into runs that had ended.
extension Coordinator {
    /// A member's heartbeat (answered by the liveness lane) listed `held`.
    public func heldRuns(_ held: [String], by worker: String) -> [Outgoing] {
        heldRunsByWorker[worker] = Set(held)
        recoveryHeard(from: worker, holding: Set(held))
        stopOrphans(held, on: worker)
        return drainOutbox()
    }

    /// Sends `CancelRun` to `worker` for each run of `held` that is not in flight here, or
    /// that distils without it.
    func stopOrphans(_ held: [String], on worker: String) {
        for run in held {
            let text: String
            if let active = runs[run] {
                // Before distilling a lost worker's parts may come back to it: only a distilling
                // run has no part to give it again.
                guard active.lifecycle.phase == .distilling, !active.lifecycle.involvedWorkers.contains(worker) else { continue }
                text = "worker \(worker) holds tasks of run \(run), which goes on without it (it was replaced while "
                    + "distilling): told to stop them"
            } else {
                text = "worker \(worker) holds tasks of run \(run), which is not in flight here (it ended, or the "
                    + "coordinator restarted): told to stop them"
            }
            if orphansTold.insert("\(worker) \(run)").inserted {
                logger.warning("\(text)")
                event(runs[run] == nil ? nil : run, "worker", text)
            }
            _ = send(.cancelRun(CancelRun(runID: run)), toWorker: worker)
        }
    }
}
