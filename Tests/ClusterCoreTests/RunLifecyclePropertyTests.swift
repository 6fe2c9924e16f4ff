import Testing
@testable import ClusterCore

/// Thousands of random event sequences, most of them nudged along the happy path (with lost
/// workers' parts placed again) so that runs get deep: the rules hold after every event.
@Suite struct RunLifecyclePropertyTests {
    static let workers = ["w1", "w2", "w3", "w4"]
    /// Workers that may take lost parts: the run's own, or spares.
    static let spares = ["w1", "w2", "w3", "w4", "w5", "w6"]

    @Test func randomHistoriesKeepTheRules() {
        var generator = SplitMix64(seed: 0xD157_1111)
        var ended: [RunPhase: Int] = [:]
        var events = 0, replaced = 0, distilledAfterALoss = 0
        for _ in 0..<4000 {
            let teachers = Int.random(in: 0...3, using: &generator)
            let replicas = Int.random(in: 0...3, using: &generator)
            var run = RunLifecycle(runID: "p", teacherCount: teachers, replicaCount: replicas)
            var now: UInt64 = 0
            for _ in 0..<Int.random(in: 1...60, using: &generator) {
                now += Int.random(in: 0..<10, using: &generator) == 0
                    ? UInt64.random(in: 0...40_000, using: &generator)
                    : UInt64.random(in: 0...1500, using: &generator)
                let event = Int.random(in: 0..<10, using: &generator) < 7
                    ? Self.nudge(run, &generator)
                    : Self.anyEvent(teachers: teachers, replicas: replicas, &generator)
                let before = run
                let directives = run.handle(event, at: at(now))
                Self.check(before: before, event: event, directives: directives, after: run, now: now)
                events += 1
                if case .partsPlaced = event, directives.first?.ignoredText == nil { replaced += 1 }
                if before.phase != .distilling, run.phase == .distilling, replaced > 0 { distilledAfterALoss += 1 }
            }
            ended[run.phase, default: 0] += 1
        }
        // Lost parts are placed again often, and such runs go on to distil.
        #expect(replaced >= 250, "only \(replaced) placements of lost parts")
        #expect(distilledAfterALoss >= 50, "only \(distilledAfterALoss) runs distilled after a loss")
        // The sequences reach every ending, often.
        for phase in RunFixture.terminal {
            #expect(ended[phase, default: 0] >= 100, "only \(ended[phase, default: 0]) runs ended \(phase)")
        }
        #expect(events > 100_000)
    }

    /// The rules that hold for every single event.
    static func check(before: RunLifecycle, event: RunEvent, directives: [RunDirective], after run: RunLifecycle, now: UInt64) {
        let context = "\(event) in \(before.phase) gave \(directives)"
        let ignored = directives.contains { $0.ignoredText != nil }
        if before.phase.isTerminal {
            #expect(ignored && directives.count == 1, "\(context)")
            #expect(run == before, "a terminal run changed: \(context)")
        }
        if ignored {
            #expect(directives.count == 1, "\(context)")
            #expect(run == before, "an ignored event changed the run: \(context)")
        }
        #expect(run.phase.step >= before.phase.step, "went back: \(context)")
        if run.phase.isTerminal {
            #expect(!run.reason.isEmpty, "terminal without reason: \(context)")
            #expect(run.involvedWorkers.isEmpty && run.nextDeadline() == nil, "\(context)")
        } else {
            #expect(run.reason.isEmpty, "reason before the end: \(context)")
        }
        if run.phase == .completed {
            #expect(run.tasks.count == run.teacherCount + run.replicaCount)
            #expect(run.tasks.values.allSatisfy { $0.state == .completed })
        }
        let progress = run.phaseProgress
        #expect(progress.done <= progress.total, "\(context)")

        // Lost parts: a slot is empty exactly while its part waits, and only before distilling.
        if !run.phase.isTerminal, let placement = run.placement {
            let empty = Set(placement.teacherWorkers.indices.filter { placement.teacherWorkers[$0].isEmpty }.map { TaskRef(.teacher, $0) }
                + placement.studentWorkers.indices.filter { placement.studentWorkers[$0].isEmpty }.map { TaskRef(.student, $0) })
            #expect(empty == Set(run.unplaced.keys), "\(context)")
            #expect(run.unplaced.isEmpty || run.phase == .sharding || run.phase == .preparingTeachers, "\(context)")
            #expect(Set(run.studentWorkersNamed).count == run.studentWorkersNamed.count, "replicas share a worker: \(context)")
        }
        if run.phase == .distilling {
            #expect(run.unplaced.isEmpty && run.allCompleted(.teacher), "\(context)")
            #expect(run.placement.map { Set($0.workers) == run.shardsDelivered } == true, "\(context)")
        }

        // Work directives come only on entering the phase that needs them, or for lost parts.
        let entered = run.phase != before.phase ? run.phase : nil
        let places = directives.filter { $0 == .place }
        #expect(places.count == (entered == .placing ? 1 : 0), "\(context)")
        let partsToPlace = directives.compactMap(\.partsToPlace)
        let asksForPlacement: Bool = switch event {
        case .workerLost, .workersChanged: !ignored && (before.phase == .sharding || before.phase == .preparingTeachers)
        default: false
        }
        #expect(partsToPlace == (asksForPlacement ? [run.unplaced.keys.sorted()] : []), "\(context)")
        let answer: [TaskRef: String]? = if case .partsPlaced(let a) = event, !ignored { a } else { nil }
        let shards = directives.compactMap(\.shardWorker)
        if entered == .sharding {
            #expect(shards == run.placement?.workers ?? [], "\(context)")
        } else if let answer {
            #expect(Set(shards).isSubset(of: Set(answer.values)) && before.shardsDelivered.isDisjoint(with: shards), "\(context)")
            #expect(shards.allSatisfy { !(before.placement?.workers ?? []).contains($0) }, "\(context)")
        } else {
            #expect(shards.isEmpty, "\(context)")
        }
        let assigned = directives.compactMap(\.assignment)
        let teachersAssigned = assigned.filter { $0.0.kind == .teacher }
        let studentsAssigned = assigned.filter { $0.0.kind == .student }
        switch entered {
        case .preparingTeachers:
            #expect(assigned.map(\.0) == (0..<run.teacherCount).map { TaskRef(.teacher, $0) }, "\(context)")
            #expect(assigned.map(\.1) == run.placement?.teacherWorkers, "\(context)")
        case .distilling:
            #expect(studentsAssigned.map(\.0) == (0..<run.replicaCount).map { TaskRef(.student, $0) }, "\(context)")
            #expect(studentsAssigned.map(\.1) == run.placement?.studentWorkers, "\(context)")
        default:
            #expect(studentsAssigned.isEmpty, "\(context)")
        }
        if entered != .preparingTeachers {
            // Re-placed teachers only: they had no task, and get one on their new worker now.
            for (ref, worker) in teachersAssigned {
                #expect(before.phase == .preparingTeachers && before.tasks[ref] == nil, "\(context)")
                #expect(run.tasks[ref]?.worker == worker && run.tasks[ref]?.assignedAt == at(now), "\(context)")
                #expect(run.shardsDelivered.contains(worker), "\(context)")
            }
        }
        let refreshed = directives.compactMap(\.refreshed)
        if answer != nil {
            let fresh = Set(teachersAssigned.map(\.0))
            let expected = run.tasks.keys.filter { $0.kind == .teacher && !fresh.contains($0) }.sorted()
            #expect(refreshed.map(\.0) == expected, "\(context)")
        } else {
            #expect(refreshed.isEmpty, "\(context)")
        }

        // Workers are told to stop exactly when an early end leaves them holding work.
        let stops = directives.compactMap(\.stoppedWorkers)
        let lost: String? = if case .workerLost(let w) = event { w } else { nil }
        let holders = before.involvedWorkers.filter { $0 != lost }
        let endedEarly = entered == .failed || entered == .cancelled || entered == .interrupted
        #expect(stops == (endedEarly && !holders.isEmpty ? [holders] : []), "\(context)")

        // The next deadline is exact: nothing is due just before it, the run fails at it.
        if let deadline = run.nextDeadline() {
            #expect(!run.phase.isTerminal)
            if deadline.milliseconds > 0 {
                var early = run
                #expect(early.handle(.tick, at: at(deadline.milliseconds - 1)) == [], "\(context)")
            }
            var due = run
            _ = due.handle(.tick, at: deadline)
            #expect(due.phase == .failed, "\(context)")
        } else if !run.phase.isTerminal {
            var later = run
            #expect(later.handle(.tick, at: at(now + 10_000_000)) == [], "\(context)")
        }
    }

    /// An event that moves the run along (mostly), given its state.
    static func nudge(_ run: RunLifecycle, _ g: inout SplitMix64) -> RunEvent {
        switch run.phase {
        case .pending:
            return .start
        case .placing:
            let candidates = workers.map { name in
                PlacementCandidate(name: name, roles: [[.teacher], [.student], [.teacher, .student]].randomElement(using: &g)!,
                                   cores: 4, activeTasks: Int.random(in: 0...2, using: &g))
            }.filter { _ in Int.random(in: 0..<5, using: &g) > 0 }
            switch Placer.place(teachers: run.teacherCount, replicas: run.replicaCount, on: candidates) {
            case .success(let placement): return .placed(placement)
            case .failure(let refusal): return .placementRefused(refusal.description)
            }
        case .sharding, .preparingTeachers, .distilling:
            if let placement = run.placement, !run.unplaced.isEmpty, Int.random(in: 0..<3, using: &g) == 0 {
                let candidates = spares.map { name in
                    PlacementCandidate(name: name, roles: [[.teacher], [.student], [.teacher, .student]].randomElement(using: &g)!,
                                       cores: 4, activeTasks: Int.random(in: 0...2, using: &g))
                }.filter { _ in Bool.random(using: &g) }
                let answer = Placer.replace(run.unplaced.keys.sorted(), in: placement, on: candidates)
                return answer.isEmpty ? .workersChanged : .partsPlaced(answer)
            }
            let waiting = (run.placement?.workers ?? []).filter { !run.shardsDelivered.contains($0) }
            if let worker = waiting.randomElement(using: &g), run.phase == .sharding || Bool.random(using: &g) {
                switch Int.random(in: 0..<20, using: &g) {
                case 0: return .shardFailed(worker: worker, reason: "disk full")
                case 1..<6: return .shardProgress(worker: worker)
                default: return .shardDelivered(worker: worker)
                }
            }
            if run.phase != .distilling, Int.random(in: 0..<12, using: &g) == 0,
               let worker = run.placement?.workers.randomElement(using: &g) {
                return .workerLost(worker)
            }
            let kind: TaskKind = run.phase == .distilling ? .student : .teacher
            let open = run.tasks.values.filter { $0.ref.kind == kind && $0.state != .completed }.map(\.ref)
            guard let ref = open.randomElement(using: &g) else { return .tick }
            return .task(ref, randomUpdate(&g, failing: 1))
        case .completed, .failed, .cancelled, .interrupted:
            return anyEvent(teachers: run.teacherCount, replicas: run.replicaCount, &g)
        }
    }

    /// Any event at all, in any order.
    static func anyEvent(teachers: Int, replicas: Int, _ g: inout SplitMix64) -> RunEvent {
        let worker = workers.randomElement(using: &g)!
        switch Int.random(in: 0..<100, using: &g) {
        case 0..<5: return .start
        case 5..<12:
            // Often the right counts, sometimes not; names may repeat.
            var teacherWorkers: [String] = []
            for _ in 0..<max(0, teachers + Int.random(in: -1...1, using: &g)) {
                teacherWorkers.append(workers.randomElement(using: &g)!)
            }
            var studentWorkers: [String] = []
            for _ in 0..<max(0, replicas + Int.random(in: -1...1, using: &g)) {
                studentWorkers.append(workers.randomElement(using: &g)!)
            }
            return .placed(Placement(teacherWorkers: teacherWorkers, studentWorkers: studentWorkers))
        case 12..<15: return .placementRefused("no workers")
        case 15..<25: return .shardProgress(worker: worker)
        case 25..<35: return .shardDelivered(worker: worker)
        case 35..<38: return .shardFailed(worker: worker, reason: "reset by peer")
        case 38..<75:
            let ref = TaskRef(Bool.random(using: &g) ? .teacher : .student, Int.random(in: 0...3, using: &g))
            return .task(ref, randomUpdate(&g, failing: 2))
        case 75..<79: return .workerLost(worker)
        case 79..<81: return .cancel(reason: Bool.random(using: &g) ? "" : "user")
        case 81..<83: return .interrupt(reason: Bool.random(using: &g) ? "" : "restart")
        case 83..<85: return Bool.random(using: &g) ? .workersChanged : .partsPlaced([TaskRef(.student, 0): spares.randomElement(using: &g)!])
        default: return .tick
        }
    }

    /// A task update; `failing` in 30 of them is a failure.
    static func randomUpdate(_ g: inout SplitMix64, failing: Int) -> TaskUpdate {
        let roll = Int.random(in: 0..<30, using: &g)
        if roll < failing { return .failed(reason: Bool.random(using: &g) ? "" : "crashed") }
        switch roll % 3 {
        case 0: return .accepted
        case 1:
            let total = UInt64.random(in: 0...100, using: &g)
            return .running(done: UInt64.random(in: 0...120, using: &g), total: total)
        default: return .completed
        }
    }
}

extension RunDirective {
    /// The parts of a `.placeParts`, nil for other directives.
    var partsToPlace: [TaskRef]? {
        if case .placeParts(let parts) = self { return parts }
        return nil
    }

    /// The task and worker of a `.refreshPeers`, nil for other directives.
    var refreshed: (TaskRef, String)? {
        if case .refreshPeers(let ref, let worker) = self { return (ref, worker) }
        return nil
    }
}

extension RunLifecycle {
    /// The workers hosting replicas now (unplaced replicas left out).
    var studentWorkersNamed: [String] {
        (placement?.studentWorkers ?? []).filter { !$0.isEmpty }
    }
}
