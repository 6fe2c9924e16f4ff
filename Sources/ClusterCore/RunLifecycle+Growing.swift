// While distilling, an elastic run that lost replicas takes workers back into its ring.

extension RunLifecycle {
    /// The lost replica slots worth giving to a worker now, by slot: the run distils, is
    /// elastic, slots can be taken back (``slotsCanBeTakenBack``), the ring may change once
    /// more (`elastic.max-restarts`), and the replicas still training have at least
    /// ``RunTimeouts/growthLead`` left at the slowest pace seen. Slots a worker is already
    /// taking back are not listed.
    public var regrowable: [TaskRef] {
        guard phase == .distilling, let elastic, !lostReplicas.isEmpty, slotsCanBeTakenBack,
              ringChanges < UInt64(elastic.maxRestarts), enoughLeftToGrow else { return [] }
        return lostReplicas.keys.filter { joining[$0] == nil }.sorted().map { TaskRef(.student, $0) }
    }

    /// A replica that joins can train: every replica holds epoch 0's targets (it takes the
    /// ring's cache and needs no teacher), or every teacher is placed and serving (it takes the
    /// ring's state and soft-label cache and, from the ring's step on, the teachers' whole
    /// batches, which they send every replica of an offline run's epoch 0 and of an online
    /// run; a teacher stays after its last step until every replica took it, and a step the
    /// ring took already is in the cache a joiner takes: docs/PROTOCOL.md "Joining a ring").
    /// Either way a replica that trained must be left to give it the ring's state.
    var slotsCanBeTakenBack: Bool {
        if teachersNoLongerNeeded { return true }
        guard elastic != nil, activeSlots.contains(where: { !recruits.contains($0) }) else { return false }
        return unplaced.isEmpty && teachersServing && teacherCatchingUp != true
    }

    /// The stream slot of replica slot `slot` (``streamSlots``).
    public func streamSlot(_ slot: Int) -> Int { streamSlots?[slot] ?? slot }

    /// The replicas still training have at least `growthLead` of steps left at the slowest
    /// pace seen (a replica that has not reported its total yet counts as having enough).
    var enoughLeftToGrow: Bool {
        let training = replicasTraining.compactMap { tasks[TaskRef(.student, $0)] }
        guard !training.isEmpty else { return false }
        let left = training.map { $0.total == 0 ? Int.max : Int($0.total - min($0.done, $0.total)) }.min()!
        guard left > 0 else { return false }
        if left == Int.max { return true }
        return slowestStep * left >= timeouts.growthLead
    }

    /// Distilling: a worker joined or came back, so a lost slot may be taken back.
    mutating func regrow(_ event: RunEvent) -> [RunDirective] {
        let parts = unplaced.keys.sorted() + regrowable  // teachers lost in epoch 0, lost replica slots
        guard !parts.isEmpty else {
            return ignore(event, lostReplicas.isEmpty && unplaced.isEmpty ? "no part of this run waits for a worker"
                : "no lost replica of this run can be taken back now")
        }
        return [.placeParts(parts)]
    }

    /// Distilling: the shell gave lost slots to workers. Each worker receives the shard first
    /// (`.sendShard`, stall timer from `now`; a cached shard is acknowledged at once); the
    /// slot joins the ring when it is delivered (``admitJoiners(at:)``).
    ///
    /// Rules: slots can be taken back now (``slotsCanBeTakenBack``: the answer may come after
    /// a teacher was lost); each named part must be a lost replica slot not already being
    /// taken back, and get a non-empty worker that hosts no replica of this run; else the answer is ignored.
    mutating func rejoin(_ answer: [TaskRef: String], _ event: RunEvent, at now: ClockTime) -> [RunDirective] {
        guard var placement else { return ignore(event, "the run has no placement") }
        guard !answer.isEmpty else { return ignore(event, "the answer places no part") }
        guard slotsCanBeTakenBack else { return ignore(event, "no lost replica of this run can be taken back now") }
        var taken = Set(placement.studentWorkers.filter { !$0.isEmpty })
        for (ref, worker) in answer.sorted(by: { $0.key < $1.key }) {
            guard ref.kind == .student, lostReplicas[ref.index] != nil, joining[ref.index] == nil else {
                return ignore(event, "\(ref) is not a lost replica waiting for a worker")
            }
            guard !worker.isEmpty else { return ignore(event, "\(ref) gets no worker name") }
            guard taken.insert(worker).inserted else {
                return ignore(event, "\(ref) cannot go to \(worker): it hosts another replica of this run")
            }
        }
        var directives: [RunDirective] = []
        for (ref, worker) in answer.sorted(by: { $0.key < $1.key }) {
            placement.studentWorkers[ref.index] = worker
            joining[ref.index] = worker
            shardsDelivered.remove(worker)
            shardActivity[worker] = now
            directives.append(.sendShard(worker: worker))
        }
        self.placement = placement
        return directives
    }

    /// Slots whose worker has the shard join the ring: the next generation is the ring so far
    /// and them, last, in slot order. `.ringChanged` for the shell's log, `.assign` for each
    /// (a replica assigned in generation > 1 takes the ring's state and soft-label cache before
    /// its first step: docs/PROTOCOL.md "Elastic rings"), then `.refreshPeers` for every other
    /// replica still training. When nothing trains any more, or the ring may not change again,
    /// the joins are abandoned instead.
    mutating func admitJoiners(at now: ClockTime) -> [RunDirective] {
        let ready = joining.filter { shardsDelivered.contains($0.value) }.keys.sorted()
        guard !ready.isEmpty, let elastic else { return [] }
        let training = replicasTraining
        if training.isEmpty || ringChanges >= UInt64(elastic.maxRestarts) {
            let why = training.isEmpty ? "the replicas finished training meanwhile" : "the ring may not change again (elastic.max-restarts)"
            return ready.flatMap { abandonJoin(of: joining[$0]!, because: why) }
        }
        if pausedSince != nil && ringOrder.count + ready.count < elastic.minReplicas { return [] }  // not enough yet
        pausedSince = nil
        var joined: [String] = []
        for slot in ready {
            let worker = joining.removeValue(forKey: slot)!
            let lost = lostReplicas.removeValue(forKey: slot)
            ringOrder.append(slot)
            recruits.insert(slot)
            if let lost, lost.worker.isEmpty {
                rejoins.append("student \(slot) joined on \(worker)")
                joined.append("\(worker) joined as student \(slot)")
            } else {
                rejoins.append("student \(slot) taken back by \(worker)" + (lost.map { " (lost with \($0.worker))" } ?? ""))
                joined.append("\(worker) took back student \(slot)")
            }
        }
        ringGeneration += 1
        ringProgressAt = now
        let streaming = !teachersNoLongerNeeded  // the newcomers need the teachers from the ring's step on
        if streaming {
            var slots = streamSlots ?? [:]
            for slot in ready { slots[slot] = max(replicaCount - 1, slots.values.max() ?? 0) + 1 }
            streamSlots = slots
        }
        var directives: [RunDirective] = [.ringChanged(ring!, why: Placement.listed(joined))]
        for slot in ready {
            let ref = TaskRef(.student, slot)
            tasks[ref] = TaskProgress(ref: ref, worker: placement!.studentWorkers[slot], assignedAt: now)
            directives.append(.assign(ref, worker: placement!.studentWorkers[slot]))
        }
        directives += refreshPeers(ofReplicas: training)
        if streaming, let placement {  // the teachers serve the newcomers' stream slots too
            for ref in tasks.keys.sorted() where ref.kind == .teacher && !placement.teacherWorkers[ref.index].isEmpty {
                directives.append(.refreshPeers(ref, worker: tasks[ref]!.worker))
            }
        }
        return directives
    }

    /// `worker` no longer takes back the slot it was given (it was lost, its shard failed or
    /// stalled): the slot is lost again, free for another worker. `.noted` says why.
    mutating func abandonJoin(of worker: String, because why: String) -> [RunDirective] {
        guard let slot = joining.first(where: { $0.value == worker })?.key, var placement else { return [] }
        joining[slot] = nil
        placement.studentWorkers[slot] = ""
        self.placement = placement
        shardActivity[worker] = nil
        return [.noted("\(worker) did not take back student \(slot): \(why); the ring goes on without it")]
    }

    /// A recruit's task failed, or was not accepted in time: the ring shrinks again (it held
    /// only the ring's copy of the state, so nothing is lost).
    mutating func loseRecruit(_ slot: Int, because why: String, at now: ClockTime) -> [RunDirective] {
        guard let worker = placement?.studentWorkers[slot], let elastic else { return [] }
        let note: RunDirective = .noted("student \(slot) on \(worker) could not join the ring: \(why)")
        return [note] + (shrinkReplicas([slot], of: worker, elastic, at: now) ?? [])
    }

    /// While distilling: the first join to give up at `now` (its shard stalled, or its task
    /// was not accepted in time), as directives; nil when none is due.
    mutating func joinsGivenUp(at now: ClockTime) -> [RunDirective]? {
        for (_, worker) in joining.sorted(by: { $0.key < $1.key }) {
            if let since = shardActivity[worker], now >= since + timeouts.shardStall {
                return abandonJoin(of: worker, because: "its shard transfer stalled for \(timeouts.shardStall.secondsText)")
            }
        }
        for slot in recruits.sorted() {
            guard let task = tasks[TaskRef(.student, slot)], task.state == .assigned,
                  now >= task.assignedAt + timeouts.taskAcceptance else { continue }
            return loseRecruit(slot, because: "its task was not accepted within \(timeouts.taskAcceptance.secondsText)", at: now)
        }
        return nil
    }

    /// The earliest time a join may give up (``joinsGivenUp(at:)``), nil when none waits.
    var joinDeadline: ClockTime? {
        let shards = joining.values.compactMap { shardActivity[$0].map { $0 + timeouts.shardStall } }
        let accepts = recruits.compactMap { slot -> ClockTime? in
            guard let task = tasks[TaskRef(.student, slot)], task.state == .assigned else { return nil }
            return task.assignedAt + timeouts.taskAcceptance
        }
        return (shards + accepts).min()
    }
}
