// Before distilling, a lost worker's parts go to other workers (or wait, bounded, for one).

/// A part of a run whose worker was lost before distilling began, while it waits for another.
public struct LostPart: Sendable, Equatable, Codable {
    /// The worker that held it.
    public var worker: String
    /// When it was lost: the wait for a new worker (``RunTimeouts/replacementWait``) counts from here.
    public var since: ClockTime

    public init(worker: String, since: ClockTime) {
        self.worker = worker
        self.since = since
    }
}

extension RunLifecycle {
    /// Sharding or preparing teachers: `worker` is lost. Its teachers and replicas become
    /// unplaced (slot "" in the placement, lost at `now`), their tasks' progress is dropped, its
    /// shard counts as not delivered, and the shell is asked to place every unplaced part.
    /// Parts on other workers keep their state (a completed teacher stays completed).
    mutating func replaceParts(of worker: String, at now: ClockTime) -> [RunDirective] {
        guard var placement else { return [] }
        var lost: [TaskRef] = []
        for (index, host) in placement.teacherWorkers.enumerated() where host == worker {
            placement.teacherWorkers[index] = ""
            lost.append(TaskRef(.teacher, index))
        }
        for (rank, host) in placement.studentWorkers.enumerated() where host == worker {
            placement.studentWorkers[rank] = ""
            lost.append(TaskRef(.student, rank))
        }
        self.placement = placement
        for ref in lost {
            unplaced[ref] = LostPart(worker: worker, since: now)
            tasks[ref] = nil
        }
        shardsDelivered.remove(worker)
        shardActivity[worker] = nil
        return [.placeParts(unplaced.keys.sorted())]
    }

    /// A worker joined or came back: the unplaced parts are worth placing again.
    mutating func workersChanged(_ event: RunEvent) -> [RunDirective] {
        if phase == .distilling { return regrow(event) }
        guard !unplaced.isEmpty else { return ignore(event, "no part of this run waits for a worker") }
        return [.placeParts(unplaced.keys.sorted())]
    }

    /// The shell placed some unplaced parts (sharding or preparing teachers).
    ///
    /// Rules: each named part must be unplaced and get a non-empty worker name, and a replica
    /// must not go to a worker that hosts another replica of this run; else the whole answer is
    /// ignored. Then, in order: `.sendShard` (stall timer from `now`) to every worker new to the
    /// run — one neither delivered nor receiving its shard — by name; while preparing teachers,
    /// `.assign` for each re-placed teacher whose worker already has the shard (the others when
    /// it arrives); `.refreshPeers` for every teacher task already assigned (it learns where
    /// the moved parts are now); and the move to the next phase if everything is ready.
    mutating func partsPlaced(_ answer: [TaskRef: String], _ event: RunEvent, at now: ClockTime) -> [RunDirective] {
        if phase == .distilling {
            let teachers = answer.filter { $0.key.kind == .teacher }, students = answer.filter { $0.key.kind == .student }
            return (teachers.isEmpty ? [] : placeTeachers(teachers, event, at: now))
                + (students.isEmpty ? [] : rejoin(students, event, at: now))
        }
        guard phase == .sharding || phase == .preparingTeachers, var placement else {
            return ignore(event, notNow("parts are placed again only while sharding or preparing teachers"))
        }
        if let problem = replacementMisfit(answer, placement) { return ignore(event, problem) }
        for (ref, worker) in answer {
            switch ref.kind {
            case .teacher: placement.teacherWorkers[ref.index] = worker
            case .student: placement.studentWorkers[ref.index] = worker
            }
            unplaced[ref] = nil
        }
        self.placement = placement
        var directives: [RunDirective] = []
        for worker in Set(answer.values).sorted() where !shardsDelivered.contains(worker) && shardActivity[worker] == nil {
            shardActivity[worker] = now
            directives.append(.sendShard(worker: worker))
        }
        let assigned = assignWaitingTeachers(at: now)
        let fresh = Set(assigned.compactMap { directive -> TaskRef? in
            if case .assign(let ref, _) = directive { return ref }
            return nil
        })
        directives += assigned
        for ref in tasks.keys.sorted() where ref.kind == .teacher && !fresh.contains(ref) {
            directives.append(.refreshPeers(ref, worker: tasks[ref]!.worker))
        }
        return directives + advanceIfReady(at: now)
    }

    /// Why `answer` cannot be applied to `placement`, nil when it fits.
    func replacementMisfit(_ answer: [TaskRef: String], _ placement: Placement) -> String? {
        guard !answer.isEmpty else { return "the answer places no part" }
        var replicaOn: [String: Int] = [:]
        for (rank, worker) in placement.studentWorkers.enumerated() where !worker.isEmpty { replicaOn[worker] = rank }
        for (ref, worker) in answer.sorted(by: { $0.key < $1.key }) {
            guard unplaced[ref] != nil else { return "\(ref) is not waiting for a worker" }
            guard !worker.isEmpty else { return "\(ref) gets no worker name" }
            guard ref.kind == .student else { continue }
            if let other = replicaOn.updateValue(ref.index, forKey: worker) {
                return "\(ref) cannot go to \(worker): it hosts student \(other), and each replica needs its own worker"
            }
        }
        return nil
    }

    /// While preparing teachers (and, for teachers placed again, distilling): assigns every
    /// teacher that has no task yet and whose worker has the shard (acceptance timer from
    /// `now`), by index.
    mutating func assignWaitingTeachers(at now: ClockTime) -> [RunDirective] {
        guard phase == .preparingTeachers || phase == .distilling, let placement else { return [] }
        var directives: [RunDirective] = []
        for (index, worker) in placement.teacherWorkers.enumerated()
        where !worker.isEmpty && shardsDelivered.contains(worker) && tasks[TaskRef(.teacher, index)] == nil {
            let ref = TaskRef(.teacher, index)
            tasks[ref] = TaskProgress(ref: ref, worker: worker, assignedAt: now)
            directives.append(.assign(ref, worker: worker))
        }
        return directives
    }

    /// Every part is placed and every placement worker has its shard.
    var everyPartReady: Bool {
        guard unplaced.isEmpty, let placement else { return false }
        return placement.workers.allSatisfy(shardsDelivered.contains)
    }

    /// Moves on when the current phase is done: sharding → preparingTeachers (every teacher
    /// assigned) once every part is ready; preparingTeachers → distilling (every replica
    /// assigned) once, moreover, all `teacherCount` teachers are completed. Else nothing.
    mutating func advanceIfReady(at now: ClockTime) -> [RunDirective] {
        guard everyPartReady, let placement else { return [] }
        switch phase {
        case .sharding:
            phase = .preparingTeachers
            return assign(.teacher, on: placement.teacherWorkers, at: now)
        case .preparingTeachers where allCompleted(.teacher):
            phase = .distilling
            ringProgressAt = now
            return assign(.student, on: placement.studentWorkers, at: now)
        default:
            return []
        }
    }

    /// When the longest-waiting unplaced part gives up, nil when none waits.
    var replacementDeadline: ClockTime? {
        unplaced.values.map(\.since).min().map { $0 + timeouts.replacementWait }
    }

    /// The failure when no worker took the unplaced parts in time: which parts, which workers
    /// they were lost with, what they need and what to do.
    var replacementGivenUp: String {
        let parts = unplaced.sorted { $0.key < $1.key }
        let named = Placement.listed(parts.map { "\($0.key) (lost with \($0.value.worker))" })
        let lostWorkers = Placement.listed(Array(Set(parts.map(\.value.worker))).sorted())
        var needs: [String] = [], roles: [String] = []
        if parts.contains(where: { $0.key.kind == .teacher }) {
            needs.append("a teacher needs a worker with the teacher role")
            roles.append("--roles teacher")
        }
        if parts.contains(where: { $0.key.kind == .student }) {
            needs.append("a student replica needs a worker with the student role that hosts no other replica of this run")
            roles.append("--roles student")
        }
        return "no worker could take \(named) within \(timeouts.replacementWait.secondsText) before distilling: "
            + needs.joined(separator: ", and ") + "; start such a worker (\(roles.joined(separator: " or "))) "
            + "or bring \(lostWorkers) back, then resubmit the run"
    }
}
