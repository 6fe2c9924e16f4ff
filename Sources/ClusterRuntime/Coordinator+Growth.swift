import ClusterCore

// While a run distils, parts lost with their workers go to other workers: teachers lost in
// epoch 0, and lost replica slots taken back into an elastic ring (RunLifecycle+Growing,
// RunLifecycle+TeacherReplacing); a run with lost slots looks again every few seconds.
extension Coordinator {
    /// `.placeParts` while distilling: teachers lost in epoch 0 go to the least loaded teacher
    /// workers; lost replica slots go to available student workers that
    /// hold no task of the run (a worker cut off and back may still run its old one until told
    /// to stop); the run hears `.partsPlaced` for those placed. Nothing is logged when no worker
    /// fits: the run tries again when workers change, and every few seconds (``tick()``).
    func regrowRing(_ parts: [TaskRef], runID: String, placement: Placement) {
        let all = placementCandidates()
        let free = all.filter { heldRunsByWorker[$0.name]?.contains(runID) != true }
        // A teacher may share a worker with the run's other teachers; a replica needs one of its own.
        var placed = Placer.replace(parts.filter { $0.kind == .teacher }, in: placement, on: all)
        placed.merge(Placer.replace(parts.filter { $0.kind == .student }, in: placement, on: free)) { a, _ in a }
        guard !placed.isEmpty, let lifecycle = runs[runID]?.lifecycle else { return }
        for (ref, worker) in placed.sorted(by: { $0.key < $1.key }) {
            let lost = (ref.kind == .teacher ? lifecycle.unplaced[ref]?.worker : lifecycle.lostReplicas[ref.index]?.worker) ?? "its worker"
            let how = switch lifecycle.elastic?.lostTeachers {
            case .trainAgain?: "it goes on from the teacher's last stored state, training again through the steps it had served since"
            case .trainAgainWithPeers?: "it goes on from the teacher's last stored state, training again through the steps it had "
                + "served since on the other teachers' logits of those steps"
            default: "it streams epoch 0 again from its stored checkpoint"
            }
            let text = ref.kind == .teacher
                ? "\(ref) (lost with \(lost)) re-placed on \(worker): \(how)"
                : lost.isEmpty ? "\(ref) (not placed at the start) joins the ring on \(worker) once it has the shard"
                : "\(ref) (lost with \(lost)) goes back into the ring on \(worker) once it has the shard"
            logger.info("run \(runID): \(text)")
            event(runID, "placement", text)
        }
        drive(runID, .partsPlaced(placed))
    }

    /// A worker joined, registered again or recovered: runs waiting for workers try again
    /// (parts lost before distilling, or an elastic ring's lost replicas).
    func workersChanged() { lookForWorkers(at: clock.now(), everyWaitingRun: true) }

    /// How often an elastic run with lost replicas looks for a worker to take them back
    /// (besides every change of workers: a worker becomes free when its old task stops).
    static let growthRetry: Duration = .seconds(2)

    /// The elastic runs due to look again for workers to take back their lost replicas.
    func retryGrowth(at now: ClockTime) { lookForWorkers(at: now, everyWaitingRun: false) }

    /// Drives `.workersChanged` for the runs with lost replica slots to give back (those last
    /// tried ``growthRetry`` ago or more, unless `everyWaitingRun`) and, with `everyWaitingRun`,
    /// for the runs with unplaced parts too.
    private func lookForWorkers(at now: ClockTime, everyWaitingRun: Bool) {
        for id in runs.keys.sorted() {
            guard let lifecycle = runs[id]?.lifecycle else { continue }
            if everyWaitingRun {
                guard !lifecycle.unplaced.isEmpty || !lifecycle.regrowable.isEmpty else { continue }
            } else {
                guard !lifecycle.regrowable.isEmpty else { continue }
                if let tried = growthTried[id], now - tried < Self.growthRetry { continue }
            }
            growthTried[id] = now
            drive(id, .workersChanged)
        }
    }

    /// When ``retryGrowth(at:)`` next has something to do, nil when no run waits to grow.
    var nextGrowthRetry: ClockTime? {
        runs.filter { !$0.value.lifecycle.regrowable.isEmpty }.map { (growthTried[$0.key] ?? .zero) + Self.growthRetry }.min()
    }
}
