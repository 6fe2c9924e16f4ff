// While the replicas still need a lost teacher's logits (an offline run's epoch 0, any step of
// an online run), the teacher is placed on another worker.

extension RunLifecycle {
    /// Distilling, elastic, while the replicas still need their logits (an offline run before
    /// every replica holds epoch 0's targets; an online run throughout): `teachers` were on
    /// the lost `worker`. Each becomes unplaced (slot "" in the placement, lost at `now`, its
    /// task dropped); the replicas still training are sent their peers again (the teacher's
    /// endpoint is "" until it is placed: they wait for it, bounded) and the shell is asked to
    /// place the teachers (`.placeParts`). The replacement loads the teacher's stored
    /// checkpoint and streams from the first step again (an online teacher trains again on the
    /// way, ``ElasticPolicy/LostTeachers/trainAgain``; with a mutual term the other teachers are
    /// sent their peers too, ``ElasticPolicy/LostTeachers/trainAgainWithPeers``); the replicas drop what they already had
    /// and re-grant their window, so each gets every step it still needs from it
    /// (docs/PROTOCOL.md "Elastic rings").
    mutating func replaceTeachers(_ teachers: [Int], of worker: String, at now: ClockTime,
                                  refreshingReplicas: Bool = true) -> [RunDirective] {
        guard var placement else { return [] }
        for t in teachers {
            let ref = TaskRef(.teacher, t)
            placement.teacherWorkers[t] = ""
            unplaced[ref] = LostPart(worker: worker, since: now)
            tasks[ref] = nil
        }
        self.placement = placement
        let lost = Placement.listed(teachers.map { "teacher \($0)" })
        let how = switch elastic?.lostTeachers {
        case .trainAgain?:
            "(an online run): placing it on another teacher worker, which loads its stored checkpoint and trains again "
                + "through the steps it had served"
        case .trainAgainWithPeers?:
            "(an online run with a mutual term): placing it on another teacher worker, which loads its last stored state and "
                + "trains again through the steps it had served since, on the other teachers' logits of those steps"
        default: "(epoch 0): placing it on another teacher worker, which streams again from its stored checkpoint"
        }
        var directives: [RunDirective] = [.noted("\(worker) was lost with \(lost) while the replicas still need its logits \(how)")]
        if refreshingReplicas { directives += refreshPeers(ofReplicas: replicasTraining) }
        return directives + refreshPeerTeachers() + [.placeParts(unplaced.keys.filter { $0.kind == .teacher }.sorted())]
    }

    /// With a mutual term: `.refreshPeers` for every teacher serving (its peers' endpoints changed:
    /// one being placed again has "" until it is placed, then its new one).
    func refreshPeerTeachers() -> [RunDirective] {
        guard elastic?.lostTeachers == .trainAgainWithPeers else { return [] }
        return tasks.keys.sorted().filter { $0.kind == .teacher && tasks[$0]!.state == .completed }
            .map { .refreshPeers($0, worker: tasks[$0]!.worker) }
    }

    /// Distilling: the shell placed unplaced teachers. A worker that has the shard gets the
    /// teacher's task at once, the others the shard first (`.sendShard`; the task follows when
    /// it is delivered, ``assignReplacedTeachers(at:)``).
    mutating func placeTeachers(_ answer: [TaskRef: String], _ event: RunEvent, at now: ClockTime) -> [RunDirective] {
        guard var placement else { return ignore(event, "the run has no placement") }
        for (ref, worker) in answer.sorted(by: { $0.key < $1.key }) {
            guard unplaced[ref] != nil else { return ignore(event, "\(ref) is not waiting for a worker") }
            guard !worker.isEmpty else { return ignore(event, "\(ref) gets no worker name") }
        }
        var directives: [RunDirective] = []
        for (ref, worker) in answer.sorted(by: { $0.key < $1.key }) {
            placement.teacherWorkers[ref.index] = worker
            unplaced[ref] = nil
            if !shardsDelivered.contains(worker) && shardActivity[worker] == nil {
                shardActivity[worker] = now
                directives.append(.sendShard(worker: worker))
            }
        }
        self.placement = placement
        return directives + assignReplacedTeachers(at: now)
    }

    /// Distilling: each placed teacher without a task whose worker has the shard is assigned
    /// (acceptance timer from `now`), and the replicas still training learn where it is.
    mutating func assignReplacedTeachers(at now: ClockTime) -> [RunDirective] {
        guard phase == .distilling, let placement else { return [] }
        let directives = assignWaitingTeachers(at: now)
        guard !directives.isEmpty else { return [] }
        return directives + refreshPeers(ofReplicas: replicasTraining) + refreshPeerTeachers()
    }

    /// Every teacher the replicas may still wait for is placed and ready (a teacher dropped
    /// after epoch 0 is not waited for): until then a ring without progress is not stalled.
    var teachersServing: Bool {
        guard unplaced.isEmpty, let placement else { return unplaced.isEmpty }
        return placement.teacherWorkers.indices.allSatisfy { t in
            placement.teacherWorkers[t].isEmpty || tasks[TaskRef(.teacher, t)]?.state == .completed
        }
    }
}
