import ClusterCore
import ClusterStore
import Datasets
import Foundation
import RunSpec
import Transport
import Wire

/// A run in flight, as the coordinator holds it.
struct ActiveRun: Sendable {
    var id: String
    var spec: RunSpec
    /// The canonical spec text every task receives, so all nodes derive the same plan.
    var specYAML: String
    var submittedMs: Int64
    var updatedMs: Int64
    var lifecycle: RunLifecycle
    /// The data set selection its shard is packed from, and the shard's hash once packed.
    var shardKey: ShardKey
    var shardHash: String = ""
    /// The latest metrics reported (for `watch`).
    var latest: [MetricValue] = []
    /// Its curves (`RunUpdate.history`).
    var history = RunHistory()
    /// The epoch and global step of the latest metrics report (for monitoring).
    var epoch: UInt32 = 0
    var step: UInt64 = 0
    /// A resumed run's checkpoint (docs/PROTOCOL.md "Resume"); nil for a run from step 0.
    var resume: ResumePoint?
}

/// A CLI following a run: it gets a `RunUpdate` (answering its `WatchRun`) on every change.
struct Watcher: Sendable {
    var peer: PeerID
    var requestID: UInt64
    var lastSent: ClockTime
}

extension Coordinator {
    /// Alive (or suspect) workers with the work they already hold, for the placer.
    func placementCandidates() -> [PlacementCandidate] {
        var load: [String: Int] = [:]
        for run in runs.values {
            for w in run.lifecycle.placement?.teacherWorkers ?? [] { load[w, default: 0] += 1 }
            for w in run.lifecycle.placement?.studentWorkers ?? [] { load[w, default: 0] += 1 }
        }
        return membership.members.filter { $0.liveness == .alive }.map {
            PlacementCandidate(name: $0.name, roles: $0.info.roles, cores: $0.info.cores, activeTasks: load[$0.name] ?? 0)
        }
    }

    // MARK: the lifecycle's directives

    /// Feeds `event` to the run's lifecycle, records a phase change, performs the directives.
    func drive(_ id: String, _ event: RunEvent) {
        guard var run = runs[id], !stashed(id, event) else { return }
        let before = run.lifecycle.phase
        let previous = run.lifecycle
        let directives = run.lifecycle.handle(event, at: clock.now())
        if run.lifecycle.phase == .completed, let problem = resultProblem(id) { run.lifecycle.resultsNotStored(problem) }
        run.updatedMs = clock.wallMs()
        runs[id] = run
        let after = run.lifecycle.phase
        if after != before { phaseChanged(id, from: before, to: after) }
        for d in directives { perform(d, runID: id) }
        if after.isTerminal {
            finish(id)
        } else {
            if run.lifecycle != previous { saveSnapshot(id, now: !event.isProgress) }
            notifyWatchers(id)
        }
    }

    private func perform(_ directive: RunDirective, runID: String) {
        guard let run = runs[runID] else { return }
        switch directive {
        case .place:
            switch Placer.place(teachers: run.lifecycle.teacherCount, replicas: run.lifecycle.replicaCount,
                                atLeast: run.lifecycle.elastic?.minReplicas, on: placementCandidates()) {
            case .success(let placement):
                let waiting = placement.studentWorkers.indices.filter { placement.studentWorkers[$0].isEmpty }
                event(runID, "placement", "teachers on \(placement.teacherWorkers.joined(separator: ", ")); "
                    + "replicas on \(placement.studentWorkers.filter { !$0.isEmpty }.joined(separator: ", "))"
                    + (waiting.isEmpty ? "" : "; \(Placement.listed(waiting.map { "student \($0)" })) "
                        + "\(waiting.count == 1 ? "waits" : "wait") for a student worker (taken when one comes)"))
                drive(runID, .placed(placement))
            case .failure(let refusal):
                drive(runID, .placementRefused(refusal.description))
            }
        case .sendShard(let worker):
            offerShard(of: runID, to: worker)
        case .assign(let ref, let worker):
            event(runID, "task", "\(ref) assigned to \(worker)")
            if !sendAssignment(ref, of: runID, to: worker) {
                drive(runID, .task(ref, .failed(reason: "worker \(worker) is not connected")))
            }
        case .placeParts(let parts):
            placeParts(parts, runID: runID)
        case .refreshPeers(let ref, let worker):
            // The same assignment again, with the peers' current endpoints: the worker updates
            // the running task and starts nothing (docs/PROTOCOL.md "Tasks").
            let assign = AssignTask(runID: runID, taskID: ref.id(runID: runID), runSpecYaml: run.specYAML,
                                    shardHash: run.shardHash, task: taskSpec(ref, run: run))
            event(runID, "task", "\(ref) on \(worker) sent its peers' new endpoints")
            send(.assignTask(withPeerKeys(assign)), toWorker: worker)
        case .noted(let text):
            logger.warning("run \(runID): \(text)")
            event(runID, "placement", text)
        case .ringChanged(let ring, let why):
            let text = "\(why): the replicas go on as \(ring) (the global batch split over \(ring.ranks))"
            logger.warning("run \(runID): \(text)")
            event(runID, "ring", text)
        case .stopWork(let workers):
            for w in workers { send(.cancelRun(CancelRun(runID: runID)), toWorker: w) }
        case .ignored(let text):
            logger.debug("run \(runID): ignored: \(text)")
        }
    }

    /// Sends `ref`'s assignment to `worker`; false when the worker has no route. A teacher
    /// starts from a checkpoint when there is one: offered first, so the worker is fetching it
    /// (or has it) when the assignment arrives on the same pipe. Sent again while unanswered
    /// (``resendUnanswered(at:)``): a worker accepts a repeat at once and starts nothing twice.
    @discardableResult
    func sendAssignment(_ ref: TaskRef, of runID: String, to worker: String) -> Bool {
        guard let run = runs[runID] else { return false }
        var task = taskSpec(ref, run: run)
        if case .teacher(var teacher) = task,
           let hash = teacherCheckpoint(run.spec.teachers[ref.index], runID: runID, shardHash: run.shardHash, spec: run.spec) {
            teacher.checkpointHash = hash
            task = .teacher(teacher)
            offerCheckpoint(hash, what: "teacher \(ref.index) checkpoint", of: runID, to: worker)
        }
        // An online teacher placed again goes on from its predecessor's last state (not when the
        // assignment is repeated to a teacher serving already: its task is then completed).
        if case .teacher = task { teacherProgress(in: runID) }
        if case .teacher(var teacher) = task, run.lifecycle.elastic?.lostTeachers.trainsAgain == true,
           run.lifecycle.tasks[ref]?.state == .assigned, let hash = offerTeacherState(ref.index, of: runID, to: worker) {
            teacher.stateHash = hash
            task = .teacher(teacher)
        }
        if case .student(let student) = task, !student.resumeHash.isEmpty, student.ringGeneration <= 1 {
            offerResumeCheckpoint(of: runID, to: worker)
        }
        let assign = AssignTask(runID: runID, taskID: ref.id(runID: runID), runSpecYaml: run.specYAML,
                                shardHash: run.shardHash, task: task)
        return send(.assignTask(withPeerKeys(assign)), toWorker: worker)
    }

    /// `.placeParts`: parts whose worker was lost before distilling go to other available
    /// workers (``Placer/replace(_:in:on:)``); the run hears `.partsPlaced` for those placed,
    /// and keeps waiting (bounded by its replacement wait) for the others.
    private func placeParts(_ parts: [TaskRef], runID: String) {
        guard let run = runs[runID], let placement = run.lifecycle.placement else { return }
        if run.lifecycle.phase == .distilling { return regrowRing(parts, runID: runID, placement: placement) }
        let placed = Placer.replace(parts, in: placement, on: placementCandidates())
        let waiting = parts.filter { placed[$0] == nil }
        if !waiting.isEmpty {
            let text = "no available worker can take \(waiting.map(\.description).joined(separator: ", ")) now; "
                + "waiting up to \(run.lifecycle.timeouts.replacementWait.shortDescription) for one"
            logger.warning("run \(runID): \(text)")
            event(runID, "placement", text)
        }
        guard !placed.isEmpty else { return }
        for (ref, worker) in placed.sorted(by: { $0.key < $1.key }) {
            let lost = run.lifecycle.unplaced[ref]?.worker ?? "its worker"
            logger.info("run \(runID): \(ref) re-placed on \(worker) (\(lost) was lost)")
            event(runID, "placement", "\(ref) re-placed on \(worker) (\(lost) was lost)")
        }
        drive(runID, .partsPlaced(placed))
    }

    private func taskSpec(_ ref: TaskRef, run: ActiveRun) -> TaskSpec {
        let placement = run.lifecycle.placement
        switch ref.kind {
        case .teacher:
            // The model and the recipe travel in the AssignTask's run spec only. The replicas are
            // the slots not lost while distilling (an unplaced one's endpoint is "" for now) that
            // still train: a teacher placed again after they finished waits for none of them.
            let held = heldCompletions[run.id]?.ref
            let slots = run.lifecycle.activeSlots.filter { slot in
                let ref = TaskRef(.student, slot)
                return run.lifecycle.tasks[ref]?.state != .completed && ref != held
            }
            let replicaEndpoints = slots.map { slot in
                placement.flatMap { membership.member($0.studentWorkers[slot])?.info.dataEndpoint } ?? ""
            }
            // A slot taken back while the teachers stream has a fresh stream slot (RunLifecycle.streamSlots).
            var task = TeacherTask(teacherIndex: UInt32(ref.index), replicas: slots.map { UInt32(run.lifecycle.streamSlot($0)) },
                                   replicaEndpoints: replicaEndpoints, fromStep: UInt64(run.resume?.step ?? 0))
            if run.spec.distillation.mode == .online && run.spec.distillation.mutual > 0 {
                // The teachers send each other their logits every step (the mutual term).
                task.teacherEndpoints = (placement?.teacherWorkers ?? []).map { membership.member($0)?.info.dataEndpoint ?? "" }
            }
            return .teacher(task)
        case .student:
            // The current ring (RingMembership): generation 1 is the placement's student workers
            // in slot order; a lost replica's survivors are renumbered from 0. The slot stays.
            let ring = run.lifecycle.ring
            let worker = placement?.studentWorkers[ref.index] ?? ""
            let members = ring?.members ?? placement?.studentWorkers ?? []
            let endpoints = members.map { membership.member($0)?.info.dataEndpoint ?? "" }
            let teachers = (placement?.teacherWorkers ?? []).map { membership.member($0)?.info.dataEndpoint ?? "" }
            return .student(StudentTask(rank: UInt32(ring?.rank(of: worker) ?? ref.index), replicas: UInt32(members.count),
                                        ringGeneration: ring?.generation ?? 1,
                                        peerEndpoints: endpoints, teacherEndpoints: teachers,
                                        replicaSlot: UInt32(run.lifecycle.streamSlot(ref.index)),
                                        resumeHash: run.resume?.sha256 ?? "", fromStep: UInt64(run.resume?.step ?? 0)))
        }
    }

    private func phaseChanged(_ id: String, from before: RunPhase, to after: RunPhase) {
        guard let run = runs[id] else { return }
        let reason = run.lifecycle.reason
        let text = reason.isEmpty ? "\(before.rawValue) → \(after.rawValue)" : "\(before.rawValue) → \(after.rawValue): \(reason)"
        logger.info("run \(id): \(text)")
        event(id, "state", text)
        let at = run.updatedMs
        persist("run \(id) state") { store throws(ClusterStoreError) in
            try store.updateRun(id: id, state: after.rawValue, reason: reason, atMs: at)
        }
    }

    /// Whether `worker` holds (or held, until the run ends) a task of run `id` in flight: only
    /// those send its metrics and artifacts (docs/PROTOCOL.md "Security").
    func isMember(_ worker: String, of id: String) -> Bool {
        guard let run = runs[id] else { return false }
        return run.lifecycle.holders.contains(worker) || run.lifecycle.tasks.values.contains { $0.worker == worker }
    }

    /// A terminal run: last update to its watchers, then it leaves memory (history is in the store).
    private func finish(_ id: String) {
        guard let run = runs[id] else { return }
        flushMetrics(at: clock.now())  // its history is complete once it has ended
        writeReport(run)
        releaseCheckpoints(of: id)
        snapshotDue[id] = nil
        artifactRefusals[id] = nil
        storedCheckpointSteps[id] = nil
        growthTried[id] = nil
        heldCompletions[id] = nil
        let update = update(for: run)
        for w in watchers[id] ?? [] { send(.runUpdate(update), to: w.peer, replyTo: w.requestID) }
        watchers[id] = nil
        runs[id] = nil
    }

    func notifyWatchers(_ id: String) {
        guard let run = runs[id], let list = watchers[id] else { return }
        let update = update(for: run)
        let now = clock.now()
        for (i, w) in list.enumerated() {
            send(.runUpdate(update), to: w.peer, replyTo: w.requestID)
            watchers[id]?[i].lastSent = now
        }
    }

    func update(for run: ActiveRun) -> RunUpdate {
        let progress = run.lifecycle.phaseProgress
        let summary = RunSummary(runID: run.id, name: run.spec.name, state: run.lifecycle.phase.wire,
                                 reason: recovering[run.id]?.note ?? run.lifecycle.reason,
                                 submittedUnixMs: UInt64(max(0, run.submittedMs)),
                                 updatedUnixMs: UInt64(max(0, run.updatedMs)))
        // Where its parts are, while it has any (docs/PROTOCOL.md "Watch").
        let placement = run.lifecycle.phase.isTerminal ? nil : run.lifecycle.placement
        return RunUpdate(run: summary, phase: run.lifecycle.phase.rawValue, phaseDone: min(progress.done, progress.total),
                         phaseTotal: progress.total, latest: run.latest, history: run.history.points(),
                         teacherWorkers: placement?.teacherWorkers ?? [], studentWorkers: placement?.studentWorkers ?? [])
    }

    // MARK: requests about runs

    func listRuns(_ m: ListRuns, _ request: Request) {
        do {
            let records = try store.runs(limit: Int(m.limit))
            reply(.runList(RunList(runs: records.map { summary(of: $0) })), to: request)
        } catch {
            refuse(.internal, "could not read the run history: \(error)", to: request)
        }
    }

    func listEvents(_ m: ListEvents, _ request: Request) {
        let runID: String? = m.runID.isEmpty ? nil : m.runID
        do {
            if let runID, try store.run(id: runID) == nil {
                return refuse(.notFound, "there is no run '\(runID)'; `distillery runs` lists them", to: request)
            }
            let events = try store.events(runID: runID, limit: Int(m.limit)).map {
                EventEntry(atUnixMs: UInt64(max(0, $0.atMs)), kind: $0.kind, message: $0.message, runID: $0.runID ?? "")
            }
            reply(.eventList(EventList(events: events)), to: request)
        } catch {
            refuse(.internal, "could not read the event log: \(error)", to: request)
        }
    }

    func summary(of record: RunRecord) -> RunSummary {
        var summary = RunSummary(runID: record.id, name: record.name, state: RunPhase(stored: record.state).wire,
                                 reason: record.reason, submittedUnixMs: UInt64(max(0, record.submittedAtMs)),
                                 updatedUnixMs: UInt64(max(0, record.updatedAtMs)))
        if summary.state.isTerminal && summary.reason.isEmpty { summary.reason = "no reason recorded" }
        return summary
    }

    /// `WatchRun`: an update now, then on every change and every `watchInterval` until the
    /// run ends. A run that already ended gets one final update.
    func watch(_ m: WatchRun, _ request: Request) {
        if let run = runs[m.runID] {
            var list = watchers[m.runID] ?? []
            list.removeAll { $0.peer == request.peer }
            list.append(Watcher(peer: request.peer, requestID: request.id, lastSent: clock.now()))
            if list.count > settings.maxWatchersPerRun { list.removeFirst(list.count - settings.maxWatchersPerRun) }
            watchers[m.runID] = list
            reply(.runUpdate(update(for: run)), to: request)
            return
        }
        do {
            guard let record = try store.run(id: m.runID) else {
                return refuse(.notFound, "there is no run '\(m.runID)'; `distillery runs` lists them", to: request)
            }
            let summary = summary(of: record)
            // The last value of every figure the run reported.
            if pendingMetrics.contains(where: { $0.runID == record.id }) { flushMetrics(at: clock.now()) }
            var latest: [String: Double] = [:]
            let records = (try? store.metrics(runID: record.id)) ?? []
            for m in records where m.value.isFinite { latest[m.name] = m.value }
            reply(.runUpdate(RunUpdate(run: summary, phase: record.state,
                                       latest: latest.sorted { $0.key < $1.key }.map { MetricValue(name: $0.key, value: $0.value) },
                                       history: RunHistory(records: records).points())),
                  to: request)
        } catch {
            refuse(.internal, "could not read run \(m.runID): \(error)", to: request)
        }
    }

    /// `CancelRun` from a CLI.
    func cancel(_ m: CancelRun, _ request: Request) {
        if runs[m.runID] != nil {
            recovering[m.runID] = nil  // cancelled while it waits for its workers: it ends now
            drive(m.runID, .cancel(reason: "cancelled by \(request.sender)"))
            reply(.cancelRunReply(CancelRunReply(cancelled: true, message: "run \(m.runID) cancelled")), to: request)
            return
        }
        do {
            guard let record = try store.run(id: m.runID) else {
                return refuse(.notFound, "there is no run '\(m.runID)'; `distillery runs` lists them", to: request)
            }
            reply(.cancelRunReply(CancelRunReply(cancelled: false,
                                                 message: "run \(m.runID) already ended: \(record.state) (\(record.reason))")),
                  to: request)
        } catch {
            refuse(.internal, "could not read run \(m.runID): \(error)", to: request)
        }
    }

    /// `TaskStatus` from a registered worker. Dropped and counted (`ignored`, kind
    /// "task-status-stale") when the run is not in flight, the task id is not one of its tasks,
    /// or the task is assigned to another worker: normal after a cancel or a re-placement.
    func taskStatus(_ m: TaskStatus, _ request: Request) {
        guard let run = runs[m.runID], let ref = TaskRef.parse(m.taskID, runID: m.runID) else {
            ignored.record("task-status-stale", detail: "status of \(m.taskID) from \(request.sender): no such task in flight")
            return
        }
        if let task = run.lifecycle.tasks[ref], task.worker != request.sender {
            // A worker that was lost and came back may still report a part that moved on.
            ignored.record("task-status-stale", detail: "status of \(m.taskID) from \(request.sender): the task is on \(task.worker)")
            return
        }
        // A repeated assignment (new peers' endpoints) is acknowledged again: log news only.
        let known = run.lifecycle.tasks[ref]?.state
        switch m.state {
        case .accepted where known == .assigned: event(m.runID, "task", "\(ref) accepted by \(request.sender)")
        case .completed where known != .completed: event(m.runID, "task", "\(ref) completed on \(request.sender)")
        case .accepted, .completed: break
        case .failed: event(m.runID, "task", "\(ref) failed on \(request.sender): \(m.reason)")
        case .running: break
        }
        recoveryReported(m.runID, by: request.sender)
        if holdCompletion(m.runID, ref, TaskUpdate(m)) { return }
        drive(m.runID, .task(ref, TaskUpdate(m)))
    }

    /// Writes the metrics received since the last flush, in one transaction.
    func flushMetrics(at now: ClockTime) {
        lastMetricsFlush = now
        guard !pendingMetrics.isEmpty else { return }
        let batch = pendingMetrics
        pendingMetrics.removeAll(keepingCapacity: true)
        let logger = logger
        persist("\(batch.count) metrics report(s)") { store throws(ClusterStoreError) in
            let skipped = try store.appendMetrics(batch)
            if !skipped.isEmpty { logger.debug("metrics of unknown runs dropped: \(Set(skipped).sorted())") }
        }
    }

    /// `Metrics` from a worker: stored (batched), and shown to watchers.
    func metrics(_ m: Metrics, _ request: Request) {
        guard runs[m.runID] != nil || (try? store.run(id: m.runID)) != nil else {
            return ignored.record("metrics-unknown-run", detail: "metrics of run '\(m.runID)' from \(request.sender): no such run")
        }
        guard isMember(request.sender, of: m.runID) else {
            return ignored.record("metrics-not-member", detail: "metrics of run '\(m.runID)' from \(request.sender), which holds no task of it")
        }
        // Batched: per-step traffic is written once per `metricsFlushInterval`, in one
        // transaction, never one fsync per message (docs/OPERATIONS.md "Liveness").
        pendingMetrics.append(MetricsReport(runID: m.runID, epoch: Int(m.epoch), step: Int(m.step),
                                            values: m.values.map { (name: $0.name, value: $0.value) }, atMs: clock.wallMs()))
        if var run = runs[m.runID] {
            // The latest value of every figure, whoever sent it (each teacher names its own).
            var latest = Dictionary(run.latest.map { ($0.name, $0.value) }, uniquingKeysWith: { _, b in b })
            for v in m.values { latest[v.name] = v.value }
            run.latest = latest.sorted { $0.key < $1.key }.map { MetricValue(name: $0.key, value: $0.value) }
            run.history.record(m)
            if m.values.contains(where: { $0.name.hasPrefix("student.") }) || run.lifecycle.phase != .distilling {
                (run.epoch, run.step) = (m.epoch, m.step)
            }
            runs[m.runID] = run
            notifyWatchers(m.runID)
        }
    }
}

extension FieldError {
    /// A spec problem as a wire field error (the line, when known, goes into the message).
    init(_ e: RunSpecError) {
        self.init(field: e.field, message: e.line.map { "line \($0): \(e.message)" } ?? e.message)
    }
}

extension PlacementRefusal {
    /// The spec field a refusal is about.
    var field: String {
        switch self {
        case .noTeacherWorkers: "teachers"
        case .notEnoughStudentWorkers, .nothingToPlace: "replicas"
        case .belowMinimumReplicas: "elastic.min-replicas"
        }
    }
}
