import Testing
@testable import ClusterCore

/// Thousands of random event sequences, half of them nudged along the happy path so that runs
/// get deep: the rules hold after every event.
@Suite struct RunLifecyclePropertyTests {
    static let workers = ["w1", "w2", "w3", "w4"]

    @Test func randomHistoriesKeepTheRules() {
        var generator = SplitMix64(seed: 0xD157_1111)
        var ended: [RunPhase: Int] = [:]
        var events = 0
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
            }
            ended[run.phase, default: 0] += 1
        }
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

        // Work directives come only on entering the phase that needs them.
        let entered = run.phase != before.phase ? run.phase : nil
        let places = directives.filter { $0 == .place }
        #expect(places.count == (entered == .placing ? 1 : 0), "\(context)")
        let shards = directives.compactMap(\.shardWorker)
        #expect(shards == (entered == .sharding ? run.placement?.workers ?? [] : []), "\(context)")
        let assigned = directives.compactMap(\.assignment)
        switch entered {
        case .preparingTeachers:
            #expect(assigned.map(\.0) == (0..<run.teacherCount).map { TaskRef(.teacher, $0) }, "\(context)")
            #expect(assigned.map(\.1) == run.placement?.teacherWorkers, "\(context)")
        case .distilling:
            #expect(assigned.map(\.0) == (0..<run.replicaCount).map { TaskRef(.student, $0) }, "\(context)")
            #expect(assigned.map(\.1) == run.placement?.studentWorkers, "\(context)")
        default:
            #expect(assigned.isEmpty, "\(context)")
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
        case .sharding:
            let waiting = (run.placement?.workers ?? []).filter { !run.shardsDelivered.contains($0) }
            guard let worker = waiting.randomElement(using: &g) else { return .tick }
            switch Int.random(in: 0..<20, using: &g) {
            case 0: return .shardFailed(worker: worker, reason: "disk full")
            case 1..<6: return .shardProgress(worker: worker)
            default: return .shardDelivered(worker: worker)
            }
        case .preparingTeachers, .distilling:
            let kind: TaskKind = run.phase == .preparingTeachers ? .teacher : .student
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
