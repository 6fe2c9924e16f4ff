// While distilling, an elastic run that loses a student replica goes on with the survivors.

/// How a run may lose student replicas while distilling (offline runs: every replica holds
/// every soft target once epoch 0 is cached, and the data-parallel arithmetic is exact, so the
/// survivors can take over the lost one's share of each batch).
public struct ElasticPolicy: Sendable, Equatable {
    /// Below this many replicas the run fails (≥ 1).
    public var minReplicas: Int

    public init(minReplicas: Int = 1) {
        self.minReplicas = max(1, minReplicas)
    }
}

extension RunLifecycle {
    /// The replica slots whose worker still holds them (all 0 ..< replicaCount unless some were
    /// lost while distilling), ascending: the ring's members in rank order.
    public var activeSlots: [Int] {
        (0..<replicaCount).filter { lostReplicas[$0] == nil }
    }

    /// The current ring of student replicas: generation ``ringGeneration``, the active slots'
    /// workers in slot order (nil before placement).
    public var ring: RingMembership? {
        guard let placement else { return nil }
        return RingMembership(generation: ringGeneration, members: activeSlots.map { placement.studentWorkers[$0] })
    }

    /// Distilling, elastic: `worker` is lost. Nil when the loss cannot be absorbed this way (the
    /// run is not elastic, or the worker held a teacher, which serves the students): the caller
    /// fails the run. Otherwise the answer:
    /// - a replica whose task had completed is simply dropped (nothing more to all-reduce);
    /// - fewer than `minReplicas` survivors, or survivors that have all completed while the lost
    ///   one had not (the student is kept by rank 0 after training: it was lost with it) → failed;
    /// - else the next ring generation: the survivors in slot order, renumbered from 0;
    ///   `.ringChanged` for the shell's log, then `.refreshPeers` for every unfinished replica
    ///   (its new rank and peers) and every teacher (it stops serving the lost slot).
    mutating func shrinkRing(losing worker: String, at now: ClockTime) -> [RunDirective]? {
        guard let elastic, var placement, !placement.teacherWorkers.contains(worker) else { return nil }
        let slots = activeSlots.filter { placement.studentWorkers[$0] == worker }
        guard !slots.isEmpty else { return nil }
        let lostRefs = slots.map { TaskRef(.student, $0) }
        let survivors = activeSlots.filter { !slots.contains($0) }
        let unfinished = lostRefs.filter { tasks[$0]?.state != .completed }
        for slot in slots {
            placement.studentWorkers[slot] = ""
            lostReplicas[slot] = LostPart(worker: worker, since: now)
        }
        self.placement = placement
        guard !unfinished.isEmpty else { return completeIfDone() }
        let parts = Placement.listed(unfinished.map(\.description))
        if survivors.count < elastic.minReplicas {
            let left = survivors.count == 1 ? "1 replica is left" : "\(survivors.count) replicas are left"
            return end(.failed, because: "worker \(worker) was lost while distilling with \(parts); \(left), fewer than "
                + "elastic.min-replicas (\(elastic.minReplicas)): start student workers and resubmit the run", sparing: worker)
        }
        if survivors.allSatisfy({ tasks[TaskRef(.student, $0)]?.state == .completed }) {
            return end(.failed, because: "worker \(worker) was lost with \(parts) after training, before the student was "
                + "stored: resubmit the run", sparing: worker)
        }
        for ref in lostRefs { tasks[ref] = nil }
        ringGeneration += 1
        var directives: [RunDirective] = [.ringChanged(ring!, lost: worker)]
        for slot in survivors where tasks[TaskRef(.student, slot)]?.state != .completed {
            directives.append(.refreshPeers(TaskRef(.student, slot), worker: placement.studentWorkers[slot]))
        }
        for ref in tasks.keys.sorted() where ref.kind == .teacher {
            directives.append(.refreshPeers(ref, worker: tasks[ref]!.worker))
        }
        return directives
    }

    /// Every active replica's task is completed: the run is completed.
    mutating func completeIfDone() -> [RunDirective] {
        guard allCompleted(.student) else { return [] }
        let teachers = teacherCount == 1 ? "1 teacher" : "\(teacherCount) teachers"
        let count = activeSlots.count
        var replicas = count == 1 ? "1 replica" : "\(count) replicas"
        if !lostReplicas.isEmpty {
            let lost = lostReplicas.sorted { $0.key < $1.key }.map { "student \($0.key) with \($0.value.worker)" }
            replicas += " (\(replicaCount) at the start; lost \(Placement.listed(lost)))"
        }
        phase = .completed
        reason = "the student was distilled from \(teachers) on \(replicas)"
        return []
    }
}
