import NN
import Wire

/// What a worker's tasks report while the coordinator is away (docs/OPERATIONS.md "The
/// coordinator is lost"): the tasks keep training, and their `TaskStatus` and `Metrics`
/// reports are held — at most ``Worker/maxHeldReports``, the oldest dropped first and counted —
/// until the worker is registered again, then sent in order. Artifact chunks are not held: an
/// upload is sent whole again until the coordinator acknowledges it (TaskRunner+Uploads) — except
/// each run's latest resume checkpoint (docs/PROTOCOL.md "Resume"), which is kept and sent first
/// on registering (one per run: a newer one replaces it). After
/// every registration the last status of each task this worker ran is sent again, since a status
/// sent just before the coordinator went away was refused by its successor ("register first").
struct HeldReports: Sendable {
    var held: [TaskReport] = []
    /// Reports dropped because the buffer was full, since the last registration.
    var dropped = 0
    /// The last `TaskStatus` of each task, oldest first (at most ``Worker/maxRememberedStatuses``).
    var lastStatus: [TaskStatus] = []
    /// A "register first" answer was logged since the last registration.
    var notFoundLogged = false
    /// The chunks of each run's latest resume checkpoint sent while unregistered.
    var checkpoints: [String: [TaskReport]] = [:]
}

extension Worker {
    /// Reports held while the coordinator is away, at most.
    static let maxHeldReports = 10_000
    /// Tasks whose last status is remembered, at most.
    static let maxRememberedStatuses = 64

    /// Sends the tasks' new reports, or holds them while this worker is not registered.
    func forwardReports() async {
        let reports = tasks.drainReports()
        for report in reports {
            guard case .taskStatus(let status) = report.body else { continue }
            reportsHeld.lastStatus.removeAll { $0.taskID == status.taskID }
            reportsHeld.lastStatus.append(status)
            if reportsHeld.lastStatus.count > Self.maxRememberedStatuses { reportsHeld.lastStatus.removeFirst() }
        }
        guard session.registered else {
            for report in reports {
                guard case .artifactChunk(let chunk) = report.body else {
                    reportsHeld.held.append(report)
                    continue
                }
                // An upload is sent again whole; a resume checkpoint is not, so the latest is kept.
                guard chunk.name == ResumeCheckpoint.artifactName else { continue }
                if chunk.offset == 0 { reportsHeld.checkpoints[chunk.runID] = [] }
                reportsHeld.checkpoints[chunk.runID]?.append(report)
            }
            let excess = reportsHeld.held.count - Self.maxHeldReports
            if excess > 0 {
                if reportsHeld.dropped == 0 {
                    logger.warning("the coordinator is away and \(Self.maxHeldReports) reports are held: the oldest are dropped from now on (counted)")
                }
                reportsHeld.held.removeFirst(excess)
                reportsHeld.dropped += excess
            }
            return
        }
        for report in reports { await send(report.body, tensors: report.tensors, frames: report.frames) }
    }

    /// Registered (again): the last status of every task, then the reports held meanwhile.
    func sendHeldReports() async {
        let held = reportsHeld
        reportsHeld.held = []
        reportsHeld.checkpoints = [:]
        reportsHeld.dropped = 0
        reportsHeld.notFoundLogged = false
        if !held.held.isEmpty || held.dropped > 0 {
            let note = held.dropped > 0 ? " (\(held.dropped) older ones were dropped)" : ""
            logger.info("sending \(held.held.count) report(s) held while the coordinator was away\(note)")
        }
        // Checkpoints first: a task's completion among the statuses may end the run.
        for run in held.checkpoints.keys.sorted() {
            for report in held.checkpoints[run]! { await send(report.body, tensors: report.tensors, frames: report.frames) }
        }
        for status in held.lastStatus { await send(.taskStatus(status)) }
        for report in held.held { await send(report.body, tensors: report.tensors, frames: report.frames) }
        tasks.registered()
    }
}
