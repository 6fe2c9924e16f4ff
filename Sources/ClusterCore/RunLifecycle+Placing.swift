// pending → placing → sharding: starting a run and placing its parts on workers.

extension RunLifecycle {
    /// pending → placing with `.place`. A run without teachers or replicas fails right here,
    /// since nothing could ever place it.
    mutating func start(_ event: RunEvent) -> [RunDirective] {
        guard phase == .pending else { return ignore(event, notNow("a run starts only when pending")) }
        guard teacherCount > 0, replicaCount > 0 else {
            return end(.failed, because: "the run has \(teacherCount) teachers and \(replicaCount) student replicas, "
                + "but needs at least 1 of each; fix teachers and replicas in the run spec")
        }
        phase = .placing
        return [.place]
    }

    /// placing → sharding: remember the placement, start each worker's stall timer, and send
    /// one shard per distinct worker (in the order of ``Placement/workers``). A placement that
    /// does not fit the run (wrong counts, empty names, two replicas on one worker) fails it.
    mutating func placed(_ placement: Placement, _ event: RunEvent, at now: ClockTime) -> [RunDirective] {
        guard phase == .placing else { return ignore(event, notNow("a placement is expected only while placing")) }
        if let problem = misfit(placement) {
            return end(.failed, because: "the placement does not fit the run: \(problem); "
                + "this is a bug in the coordinator, please report it")
        }
        self.placement = placement
        phase = .sharding
        // An elastic run placed on fewer student workers than replicas: the other slots wait
        // for workers like lost ones, and are taken once epoch 0 is cached (RunLifecycle+Growing).
        for (slot, worker) in placement.studentWorkers.enumerated() where worker.isEmpty {
            lostReplicas[slot] = LostPart(worker: "", since: now)
        }
        ringOrder = placement.studentWorkers.indices.filter { !placement.studentWorkers[$0].isEmpty }
        ringAtStart = ringOrder.count
        let workers = placement.workers
        shardActivity = Dictionary(uniqueKeysWithValues: workers.map { ($0, now) })
        return workers.map { .sendShard(worker: $0) }
    }

    /// placing → failed, with the refusal as the reason.
    mutating func placementRefused(_ text: String, _ event: RunEvent) -> [RunDirective] {
        guard phase == .placing else { return ignore(event, notNow("a placement refusal is expected only while placing")) }
        let why = text.isEmpty ? "the placer gave no reason" : text
        return end(.failed, because: "the run could not be placed: \(why)")
    }

    /// What is wrong with `placement` for this run, nil when it fits.
    func misfit(_ placement: Placement) -> String? {
        if placement.teacherWorkers.count != teacherCount {
            return "it lists \(placement.teacherWorkers.count) teacher workers for \(teacherCount) teachers"
        }
        if placement.studentWorkers.count != replicaCount {
            return "it lists \(placement.studentWorkers.count) student workers for \(replicaCount) replicas"
        }
        if let index = placement.teacherWorkers.firstIndex(of: "") {
            return "teacher \(index) has no worker name"
        }
        let placed = placement.studentWorkers.filter { !$0.isEmpty }.count
        if let index = placement.studentWorkers.firstIndex(of: ""), placed < elastic?.minReplicas ?? replicaCount {
            return "student \(index) has no worker name"
        }
        var rankOf: [String: Int] = [:]
        for (rank, worker) in placement.studentWorkers.enumerated() where !worker.isEmpty {
            if let earlier = rankOf.updateValue(rank, forKey: worker) {
                return "students \(earlier) and \(rank) share worker \(worker), but each replica needs its own"
            }
        }
        return nil
    }
}
