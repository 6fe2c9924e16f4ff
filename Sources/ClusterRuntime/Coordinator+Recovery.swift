import Clocks
import ClusterCore
import ClusterStore
import Foundation
import Logging
import RunSpec

// The coordinator is lost (docs/OPERATIONS.md "The coordinator is lost"): the data plane does
// not need it per step, so the workers keep training, hold their reports and register again
// with backoff. The restarted coordinator takes each run in flight back from its database (the
// lifecycle stored as JSON whenever it changes, RunSnapshot) and waits — its deadlines frozen,
// what happens to it kept for later — until every worker holding a part of it has registered
// again and said in a heartbeat whether it still holds the run, or ``CoordinatorSettings/
// recoveryGrace`` has passed. Then the run goes on as if nothing had happened: the time the
// coordinator was away counts for no deadline, a holder that no longer holds it (or never came
// back) is lost to the run as a dead worker would be, and a run no holder reported is
// interrupted.

/// What the coordinator stores of a run in flight whenever its lifecycle changes.
struct RunSnapshot: Codable, Sendable {
    /// The storing coordinator's clock (ms, monotonic) when the snapshot was taken.
    var savedAtMs: UInt64
    var shardHash: String
    var lifecycle: RunLifecycle
    /// A resumed run's checkpoint (nil: none; absent in snapshots of older coordinators).
    var resume: ResumePoint?
}

/// A run taken back after a restart, until its holders have reported or the grace has passed.
struct Recovery: Sendable {
    /// When this coordinator took the run back.
    var since: ClockTime
    /// The previous coordinator's clock when it stored the run (its times are on that clock).
    var savedAt: ClockTime
    /// The holders that have not reported yet.
    var waitingFor: Set<String>
    var holding: Set<String> = []
    /// Holders whose first heartbeat did not list the run (restarted, or their task ended).
    var notHolding: Set<String> = []
    /// Events for the run that arrived meanwhile, in order: applied once it goes on.
    var stash: [RunEvent] = []
    /// What the run waits for, as `runs` and `watch` show it meanwhile (its reason).
    var note = ""
}

extension Coordinator {
    /// Reads the runs a previous coordinator left in flight: each with a readable snapshot
    /// comes back (its `Recovery` starts at `now`); a run without one, or whose spec or
    /// snapshot no longer reads, is marked interrupted with the reason.
    static func takeBack(from store: ClusterStore, settings: CoordinatorSettings, now: ClockTime, wallMs: Int64,
                         logger: Logger) throws(ClusterStoreError) -> (runs: [String: ActiveRun], recovering: [String: Recovery]) {
        let terminal = Set(RunPhase.allCases.filter(\.isTerminal).map(\.rawValue))
        var runs: [String: ActiveRun] = [:], recovering: [String: Recovery] = [:]
        for (record, text) in try store.unfinishedRuns(terminalStates: terminal) {
            let why: String
            do {
                guard let text else {
                    throw TakeBackFailure("the coordinator stopped before it stored any state of this run")
                }
                let snapshot: RunSnapshot
                do { snapshot = try JSONDecoder().decode(RunSnapshot.self, from: Data(text.utf8)) } catch {
                    throw TakeBackFailure("its stored state does not read (\(error)); was it stored by another version?")
                }
                let spec: RunSpec
                do { spec = try CheckedSpec.parse(record.specYAML, fileName: "run \(record.id)") } catch {
                    throw TakeBackFailure("its stored spec no longer reads: \(error)")
                }
                var run = ActiveRun(id: record.id, spec: spec, specYAML: record.specYAML, submittedMs: record.submittedAtMs,
                                    updatedMs: record.updatedAtMs, lifecycle: snapshot.lifecycle, shardKey: ShardKey(spec.dataset))
                run.shardHash = snapshot.shardHash
                run.resume = snapshot.resume
                run.history = RunHistory(records: (try? store.metrics(runID: record.id)) ?? [])
                runs[record.id] = run
                let holders = snapshot.lifecycle.holders
                let note = "the coordinator restarted while the run was \(snapshot.lifecycle.phase.rawValue): waiting up to "
                    + "\(settings.recoveryGrace.shortDescription) for "
                    + (holders.isEmpty ? "workers" : "\(Placement.listed(holders)) to report it")
                recovering[record.id] = Recovery(since: now, savedAt: ClockTime(milliseconds: snapshot.savedAtMs),
                                                 waitingFor: Set(holders), note: note)
                logger.info("run \(record.id): \(note)")
                try store.appendEvent(runID: record.id, kind: "state", message: note, atMs: wallMs)
                // `runs` shows what it waits for (cleared when it goes on).
                try store.updateRun(id: record.id, state: record.state, reason: note, atMs: wallMs)
                continue
            } catch let failure as TakeBackFailure {
                why = failure.reason
            } catch {
                why = "\(error)"
            }
            let reason = "the coordinator stopped while this run was in flight and cannot take it back: \(why); submit it again"
            try store.updateRun(id: record.id, state: RunPhase.interrupted.rawValue, reason: reason, atMs: wallMs)
            try store.appendEvent(runID: record.id, kind: "state", message: "interrupted: \(reason)", atMs: wallMs)
            logger.warning("run \(record.id) interrupted: \(reason)")
        }
        return (runs, recovering)
    }

    /// Stores the run's lifecycle (RunSnapshot) now, or — for a change that sent nothing and
    /// moved no phase, such as progress — within ``snapshotInterval`` (``saveDueSnapshots(at:)``).
    func saveSnapshot(_ id: String, now urgent: Bool) {
        guard recovering[id] == nil else { return }  // its times are the previous coordinator's
        if !urgent {
            if snapshotDue[id] == nil { snapshotDue[id] = clock.now() + Self.snapshotInterval }
            return
        }
        snapshotDue[id] = nil
        guard let run = runs[id] else { return }
        let snapshot = RunSnapshot(savedAtMs: clock.now().milliseconds, shardHash: run.shardHash, lifecycle: run.lifecycle,
                                   resume: run.resume)
        guard let data = try? JSONEncoder().encode(snapshot), let text = String(data: data, encoding: .utf8) else {
            return logger.error("run \(id): its state could not be encoded; a coordinator restart would interrupt it")
        }
        persist("run \(id) snapshot") { store throws(ClusterStoreError) in try store.saveSnapshot(runID: id, text) }
    }

    /// A change that sent nothing is stored at most this late.
    static let snapshotInterval: Duration = .seconds(1)

    /// Stores the snapshots whose time has come (ticks).
    func saveDueSnapshots(at now: ClockTime) {
        for (id, due) in snapshotDue where due <= now { saveSnapshot(id, now: true) }
    }

    // MARK: waiting for the holders

    /// `worker`'s heartbeat listed `held`: each run taken back that waits for it hears whether
    /// it still holds it.
    func recoveryHeard(from worker: String, holding held: Set<String>) {
        for id in recovering.keys.sorted() where recovering[id]?.waitingFor.contains(worker) == true {
            recovering[id]?.waitingFor.remove(worker)
            if held.contains(id) {
                recovering[id]?.holding.insert(worker)
                event(id, "worker", "\(worker) registered again and still holds its part of the run")
            } else if runs[id].map({ !hasLiveTask(worker, in: $0.lifecycle) }) ?? true {
                // A part with no task yet (a replica before distilling): being back is enough.
                recovering[id]?.holding.insert(worker)
                event(id, "worker", "\(worker) registered again")
            } else {
                recovering[id]?.notHolding.insert(worker)
                event(id, "worker", "\(worker) registered again without the run (it restarted, or its task ended)")
            }
            if recovering[id]?.waitingFor.isEmpty == true { goOn(id) }
        }
    }

    /// Whether `worker` runs a task of the run that should still be running: one not completed,
    /// or a teacher while the replicas distil (it streams their targets).
    func hasLiveTask(_ worker: String, in lifecycle: RunLifecycle) -> Bool {
        lifecycle.tasks.values.contains { task in
            task.worker == worker && (task.state != .completed || (task.ref.kind == .teacher && lifecycle.phase == .distilling))
        }
    }

    /// `worker` reported on a task of run `id` (a `TaskStatus`): it held the run, whatever its
    /// heartbeats say later (a task that completed meanwhile is no longer listed).
    func recoveryReported(_ id: String, by worker: String) {
        guard recovering[id]?.waitingFor.remove(worker) != nil else { return }
        recovering[id]?.holding.insert(worker)
        event(id, "worker", "\(worker) registered again and reported its part of the run")
        if recovering[id]?.waitingFor.isEmpty == true { goOn(id) }
    }

    /// Runs whose grace has passed go on (ticks).
    func endRecoveryGrace(at now: ClockTime) {
        for (id, r) in recovering.sorted(by: { $0.key < $1.key }) where now >= r.since + settings.recoveryGrace { goOn(id) }
    }

    /// When the next grace ends.
    var nextRecoveryDeadline: ClockTime? { recovering.values.map { $0.since + settings.recoveryGrace }.min() }

    /// Whether events for the run are kept for later (it waits for its holders).
    func stashed(_ id: String, _ event: RunEvent) -> Bool {
        guard recovering[id] != nil else { return false }
        switch event {
        case .tick, .workersChanged: break  // its deadlines are frozen; it looks for workers once it goes on
        default: recovering[id]?.stash.append(event)
        }
        return true
    }

    /// The run goes on: its times move past the gap, holders that did not report it are lost
    /// to it, the events kept meanwhile are applied, and what its workers may not have had is
    /// sent again. Interrupted when none of its holders reported it.
    func goOn(_ id: String) {
        guard let r = recovering.removeValue(forKey: id), var run = runs[id] else { return }
        let now = clock.now()
        let gap = now - r.since
        run.lifecycle = run.lifecycle.resumed(savedAt: r.savedAt, at: now)
        runs[id] = run
        let silent = r.waitingFor.sorted(), gone = r.notHolding.sorted()
        if r.holding.isEmpty && !(silent.isEmpty && gone.isEmpty) {
            let why = silent.isEmpty
                ? "none of its workers still held it (\(Placement.listed(gone)) registered again without it)"
                : "none of its workers reported it within \(gap.shortDescription) of the coordinator's restart "
                    + "(\(Placement.listed(silent + gone)))"
            return drive(id, .interrupt(reason: "the coordinator restarted and \(why); submit it again"))
        }
        let text = r.holding.isEmpty ? "goes on after the coordinator's restart"
            : "goes on after the coordinator's restart: \(Placement.listed(r.holding.sorted())) reported it within \(gap.shortDescription)"
        logger.info("run \(id) \(text)")
        event(id, "state", text)
        for e in r.stash { drive(id, e) }
        for worker in silent + gone {
            // A replica that completed needs nothing more; a teacher may still be needed (the
            // lifecycle decides: not at all once the replicas cache every target).
            let parts = runs[id]?.lifecycle.tasks.values.filter { $0.worker == worker } ?? []
            if !parts.isEmpty && parts.allSatisfy({ $0.ref.kind == .student && $0.state == .completed }) { continue }
            let why = silent.contains(worker) ? "did not report the run within \(gap.shortDescription) of the coordinator's restart"
                : "registered again without the run"
            logger.warning("run \(id): \(worker) \(why): it is lost to the run")
            event(id, "worker", "\(worker) \(why): it is lost to the run")
            drive(id, .workerLost(worker))
        }
        guard let lifecycle = runs[id]?.lifecycle, !lifecycle.phase.isTerminal else { return }
        if lifecycle.phase == .pending || lifecycle.phase == .placing {
            // Nothing was placed yet: it is placed now, on the workers that came back.
            runs[id]?.lifecycle = RunLifecycle(runID: id, teacherCount: lifecycle.teacherCount, replicaCount: lifecycle.replicaCount,
                                               timeouts: lifecycle.timeouts, elastic: lifecycle.elastic,
                                               studentEpochs: lifecycle.studentEpochs)
            return drive(id, .start)
        }
        // What was sent just before the restart may never have arrived.
        for worker in lifecycle.workersAwaitingShard { offerShard(of: id, to: worker) }
        for task in lifecycle.tasks.values.sorted(by: { $0.ref < $1.ref }) where task.state == .assigned {
            sendAssignment(task.ref, of: id, to: task.worker)
        }
        saveSnapshot(id, now: true)
        let (phase, reason, at) = (lifecycle.phase.rawValue, lifecycle.reason, clock.wallMs())
        persist("run \(id) state") { store throws(ClusterStoreError) in try store.updateRun(id: id, state: phase, reason: reason, atMs: at) }
        drive(id, .workersChanged)
    }
}

/// Why a run left in flight cannot be taken back.
private struct TakeBackFailure: Error {
    var reason: String
    init(_ reason: String) { self.reason = reason }
}
