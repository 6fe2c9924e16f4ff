// While distilling, an elastic run that loses a student replica goes on with the survivors.

/// How a run may lose student replicas while distilling (every replica holds the soft targets
/// of the whole global batch — offline runs cache every sample's in epoch 0, online teachers
/// stream every step whole — and the data-parallel arithmetic is exact, so the survivors can
/// take over the lost one's share of each batch).
public struct ElasticPolicy: Sendable, Equatable, Codable {
    /// Below this many replicas the run fails (≥ 1).
    public var minReplicas: Int
    /// Ring changes (replicas lost, stalled rings renewed) the run absorbs; the next fails it.
    public var maxRestarts: Int
    /// Below `minReplicas` once every replica holds epoch 0's targets, the run pauses this long
    /// for workers to take the lost slots back (`RunLifecycle+Growing`), then fails; `.zero`
    /// fails it at once (as before epoch 0, when no slot can be taken back).
    public var waitTimeout: Duration
    /// What a teacher lost while the replicas still need its logits becomes.
    public var lostTeachers: LostTeachers

    /// What a teacher lost while the replicas still need its logits becomes.
    public enum LostTeachers: String, Sendable, Equatable, Codable {
        /// Placed again: it loads its stored checkpoint and streams epoch 0 again (offline runs,
        /// whose teachers are frozen).
        case streamAgain
        /// Placed again: it loads its last stored state (or its checkpoint, the teacher as the
        /// run started) and trains again through the steps it had served since, the same
        /// arithmetic on the same batches, then streams on (online runs without a mutual term).
        case trainAgain
        /// As `trainAgain`, on the other teachers' logits of those steps too, which they keep
        /// for the current and the previous epoch and give it as it asks (online runs with a
        /// mutual term): the other teachers are told where it is (`.refreshPeers`), and stopped
        /// when the run completes (they stay to answer until then).
        case trainAgainWithPeers

        /// Whether a lost teacher trains again (an online run's): it goes on from its last state.
        public var trainsAgain: Bool { self != .streamAgain }

        /// A policy stored before 0.10 may say `failRun` (an online run with a mutual term,
        /// which failed on a teacher's loss): such a run now trains its teacher again with its peers.
        public init(from decoder: any Decoder) throws {
            let raw = try decoder.singleValueContainer().decode(String.self)
            guard let value = raw == "failRun" ? .trainAgainWithPeers : LostTeachers(rawValue: raw) else {
                throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                                                        debugDescription: "unknown lostTeachers \(raw)"))
            }
            self = value
        }
    }

    public init(minReplicas: Int = 1, maxRestarts: Int = 10, waitTimeout: Duration = .seconds(300),
                lostTeachers: LostTeachers = .streamAgain) {
        self.minReplicas = max(1, minReplicas)
        self.maxRestarts = max(0, maxRestarts)
        self.waitTimeout = max(.zero, waitTimeout)
        self.lostTeachers = lostTeachers
    }

    private enum CodingKeys: String, CodingKey { case minReplicas, maxRestarts, waitTimeout, lostTeachers }

    /// A snapshot stored before `lostTeachers` existed is an offline run's (`.streamAgain`).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(minReplicas: try c.decode(Int.self, forKey: .minReplicas), maxRestarts: try c.decode(Int.self, forKey: .maxRestarts),
                  waitTimeout: try c.decode(Duration.self, forKey: .waitTimeout),
                  lostTeachers: try c.decodeIfPresent(LostTeachers.self, forKey: .lostTeachers) ?? .streamAgain)
    }
}

extension RunLifecycle {
    /// The replica slots in the ring (all 0 ..< replicaCount unless some were lost while
    /// distilling), in rank order (``ringOrder``).
    public var activeSlots: [Int] { ringOrder }

    /// The current ring of student replicas: generation ``ringGeneration``, the active slots'
    /// workers in rank order (nil before placement).
    public var ring: RingMembership? {
        guard let placement else { return nil }
        return RingMembership(generation: ringGeneration, members: activeSlots.map { placement.studentWorkers[$0] })
    }

    /// Distilling, elastic: `worker` is lost. Nil when the loss cannot be absorbed this way (the
    /// run is not elastic, or the worker held a teacher the replicas still need — before every
    /// replica has trained epoch 0, whose targets they cache): the caller fails the run. A
    /// teacher no longer needed is dropped from the placement (`.noted` for the shell's log).
    /// For the worker's replicas, if any:
    /// - a replica whose task had completed is simply dropped (nothing more to all-reduce);
    /// - fewer than `minReplicas` survivors, or survivors that have all completed while the lost
    ///   one had not (the student is kept by rank 0 after training: it was lost with it) → failed;
    /// - else the next ring generation: the survivors in slot order, renumbered from 0;
    ///   `.ringChanged` for the shell's log, then `.refreshPeers` for every unfinished replica
    ///   (its new rank and peers) and every teacher (it stops serving the lost slot).
    mutating func shrinkRing(losing worker: String, at now: ClockTime) -> [RunDirective]? {
        guard let elastic, var placement else { return nil }
        var notes = abandonJoin(of: worker, because: "it was lost")
        placement = self.placement!
        let teachers = placement.teacherWorkers.indices.filter { placement.teacherWorkers[$0] == worker }
        let slots = activeSlots.filter { placement.studentWorkers[$0] == worker }
        var replacing: [RunDirective] = []
        if !teachers.isEmpty && !teachersNoLongerNeeded {
            // When replicas are lost too, the new ring's refreshes tell the survivors.
            replacing = replaceTeachers(teachers, of: worker, at: now, refreshingReplicas: slots.isEmpty)
            placement = self.placement!
        } else if !teachers.isEmpty {
            for t in teachers { placement.teacherWorkers[t] = "" }
            self.placement = placement
            let lost = Placement.listed(teachers.map { "teacher \($0)" })
            notes.append(.noted("\(worker) was lost with \(lost) after epoch 0: the replicas train on from their cached "
                + "targets and need no teacher"))
        }
        guard !slots.isEmpty else { return notes + replacing }
        guard let directives = shrinkReplicas(slots, of: worker, elastic, at: now) else { return nil }
        return notes + directives + (phase.isTerminal ? [] : replacing)
    }

    /// Every active replica has reported a whole epoch of steps (`studentEpochs` known): in an
    /// elastic (offline) run the teachers streamed only epoch 0, whose targets every replica
    /// now holds.
    var teachersNoLongerNeeded: Bool {
        let trained = activeSlots.filter { !recruits.contains($0) }  // a recruit takes the ring's cache
        guard studentEpochs > 0, !trained.isEmpty else { return false }
        return trained.allSatisfy { slot in
            guard let task = tasks[TaskRef(.student, slot)] else { return false }
            if task.state == .completed { return true }
            return task.total > 0 && task.done * UInt64(studentEpochs) >= task.total
        }
    }

    /// The replica part of ``shrinkRing(losing:at:)``: `slots` were on `worker`.
    mutating func shrinkReplicas(_ slots: [Int], of worker: String, _ elastic: ElasticPolicy,
                                         at now: ClockTime) -> [RunDirective]? {
        guard var placement else { return nil }
        let lostRefs = slots.map { TaskRef(.student, $0) }
        let survivors = activeSlots.filter { !slots.contains($0) }
        // A recruit (taken back, not trained yet) holds only the ring's copy: losing it loses nothing.
        let waitedFor = lostRefs.filter { tasks[$0]?.state != .completed }
        let unfinished = waitedFor.filter { !recruits.contains($0.index) }
        for slot in slots {
            placement.studentWorkers[slot] = ""
            lostReplicas[slot] = LostPart(worker: worker, since: now)
            recruits.remove(slot)
        }
        ringOrder.removeAll { slots.contains($0) }
        self.placement = placement
        guard !waitedFor.isEmpty else { return completeIfDone() }
        let parts = Placement.listed(waitedFor.map(\.description))
        if unfinished.isEmpty && !survivors.contains(where: { tasks[TaskRef(.student, $0)]?.state != .completed }) {
            for ref in lostRefs { tasks[ref] = nil }
            return completeIfDone()  // a recruit lost after the others finished: nothing waits for it
        }
        if !unfinished.isEmpty && survivors.count < elastic.minReplicas {
            let left = survivors.count == 1 ? "1 replica is left" : "\(survivors.count) replicas are left"
            guard elastic.waitTimeout > .zero && slotsCanBeTakenBack else {
                return end(.failed, because: "worker \(worker) was lost while distilling with \(parts); \(left), fewer than "
                    + "elastic.min-replicas (\(elastic.minReplicas)): start student workers and resubmit the run", sparing: worker)
            }
            // Slots can be taken back: the survivors stand still in their ring
            // (no new generation) until workers bring it back to min-replicas (RunLifecycle+Growing).
            for ref in lostRefs { tasks[ref] = nil }
            pausedSince = pausedSince ?? now
            return [.noted("\(worker) was lost while distilling with \(parts); \(left), fewer than elastic.min-replicas "
                + "(\(elastic.minReplicas)): the run pauses up to \(elastic.waitTimeout.secondsText) (elastic.wait-timeout) for "
                + "student workers to take the lost slots back")]
        }
        if !unfinished.isEmpty && survivors.allSatisfy({ tasks[TaskRef(.student, $0)]?.state == .completed }) {
            return end(.failed, because: "worker \(worker) was lost with \(parts) after training, before the student was "
                + "stored: resubmit the run", sparing: worker)
        }
        for ref in lostRefs { tasks[ref] = nil }
        if let over = overRestarts("\(worker) was lost while distilling with \(parts)") { return end(.failed, because: over, sparing: worker) }
        ringGeneration += 1
        ringProgressAt = now
        var directives: [RunDirective] = [.ringChanged(ring!, why: "\(worker) was lost while distilling")]
        directives += refreshPeers(ofReplicas: survivors.filter { tasks[TaskRef(.student, $0)]?.state != .completed })
        for ref in tasks.keys.sorted() where ref.kind == .teacher && !placement.teacherWorkers[ref.index].isEmpty {
            directives.append(.refreshPeers(ref, worker: tasks[ref]!.worker))
        }
        return directives
    }

    /// `.refreshPeers` for each of `slots`' replica tasks (their ring or teachers changed), in order.
    func refreshPeers(ofReplicas slots: [Int]) -> [RunDirective] {
        guard let placement else { return [] }
        return slots.map { .refreshPeers(TaskRef(.student, $0), worker: placement.studentWorkers[$0]) }
    }

    /// The replicas still training (an active slot whose task has not reported its last step).
    var replicasTraining: [Int] {
        activeSlots.filter { slot in
            guard let task = tasks[TaskRef(.student, slot)], task.state != .completed else { return false }
            return task.total == 0 || task.done < task.total
        }
    }

    /// When a ring that made no progress is renewed: ``RunTimeouts/ringStall`` (at least 5 steps
    /// at the slowest pace seen) after the last step any replica reported, while at least two
    /// replicas still train; nil otherwise.
    var ringStallDeadline: ComputedDeadline? {
        guard phase == .distilling, elastic != nil, let since = ringProgressAt, replicasTraining.count >= 2,
              teachersServing, pausedSince == nil else { return nil }  // replicas waiting for a re-placed teacher are not stalled
        let window = max(timeouts.ringStall, slowestStep * 5)
        return ComputedDeadline(at: since + window, window: window)
    }

    struct ComputedDeadline {
        var at: ClockTime
        var window: Duration
    }

    /// No replica finished a step within the stall window although all are alive: a gradient
    /// chunk was lost (a connection that dropped and came back loses what was in flight), or a
    /// replica is stuck. The next ring generation with the same members makes every replica
    /// abandon the step in flight and run it again (docs/PROTOCOL.md "Elastic rings"); a
    /// replica that is really gone is declared dead by liveness and removed as usual.
    mutating func renewStalledRing(at now: ClockTime, window: Duration) -> [RunDirective] {
        if teacherCatchingUp == true {
            excusedRenewals = (excusedRenewals ?? 0) + 1
            ringGeneration += 1
            ringProgressAt = now
            let why = "no replica finished a step for \(window.secondsText) while a teacher placed again catches up (not "
                + "counted toward elastic.max-restarts)"
            return [.ringChanged(ring!, why: why)] + refreshPeers(ofReplicas: replicasTraining)
        }
        let why = "no replica finished a step for \(window.secondsText) (a message lost on a dropped connection, or a "
            + "stuck replica)"
        if let over = overRestarts(why) { return end(.failed, because: over) }
        ringGeneration += 1
        ringProgressAt = now
        return [.ringChanged(ring!, why: why)] + refreshPeers(ofReplicas: replicasTraining)
    }

    /// A replica reported `done` steps at `now` (it had `before`): the ring made progress, and
    /// the pace sets how long a step may take before the ring counts as stalled.
    mutating func studentProgressed(from before: UInt64, to done: UInt64, at now: ClockTime) {
        guard done > before else { return }
        if teacherCatchingUp == true {  // the wait was the teacher's, not a step's pace
            teacherCatchingUp = nil
            ringProgressAt = now
            return
        }
        if let last = ringProgressAt, before > 0 {
            let perStep = (now - last) / Int(done - before)
            if perStep > slowestStep { slowestStep = perStep }
        }
        ringProgressAt = now
    }

    /// The ring changes counted toward `elastic.max-restarts` (all but the first generation and
    /// the excused renewals).
    var ringChanges: UInt64 { ringGeneration - 1 - (excusedRenewals ?? 0) }

    /// The failure when the ring has already changed `elastic.max-restarts` times, nil otherwise.
    func overRestarts(_ why: String) -> String? {
        guard let elastic, ringChanges >= UInt64(elastic.maxRestarts) else { return nil }
        return "\(why), and the ring has already changed \(ringChanges) time(s), elastic.max-restarts: look for "
            + "the cause in `distillery logs \(runID)` (events `ring`), then resubmit the run"
    }

    /// Every active replica's task is completed: the run is completed.
    mutating func completeIfDone() -> [RunDirective] {
        guard allCompleted(.student) else { return [] }
        let teachers = teacherCount == 1 ? "1 teacher" : "\(teacherCount) teachers"
        let count = activeSlots.count
        var replicas = count == 1 ? "1 replica" : "\(count) replicas"
        var changes: [String] = []
        if !lostReplicas.isEmpty {
            let lost = lostReplicas.sorted { $0.key < $1.key }.filter { !$0.value.worker.isEmpty }
                .map { "student \($0.key) with \($0.value.worker)" }
            let never = lostReplicas.keys.sorted().filter { lostReplicas[$0]!.worker.isEmpty }.map { "student \($0)" }
            if !lost.isEmpty { changes.append("lost \(Placement.listed(lost))") }
            if !never.isEmpty { changes.append("\(Placement.listed(never)) never placed") }
        }
        changes += rejoins
        if !changes.isEmpty { replicas += " (\(ringAtStart) at the start; \(changes.joined(separator: "; ")))" }
        phase = .completed
        reason = "the student was distilled from \(teachers) on \(replicas)"
        // Teachers with a mutual term stay to answer a peer placed again until the run ends.
        guard elastic?.lostTeachers == .trainAgainWithPeers, let placement else { return [] }
        let serving = Array(Set(placement.teacherWorkers.filter { !$0.isEmpty })).sorted()
        return serving.isEmpty ? [] : [.stopWork(workers: serving)]
    }
}
