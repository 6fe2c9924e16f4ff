import Testing
@testable import ClusterCore

/// Events in odd orders: each is answered with `.ignored` and changes nothing, while the run
/// goes on as before.
@Suite struct RunLifecycleOrderTests {
    typealias F = RunFixture

    /// Feeds `event` to the fixture run in `phase` and expects it ignored and nothing changed;
    /// returns the text.
    @discardableResult
    func expectIgnored(_ event: RunEvent, in phase: RunPhase, _ run: RunLifecycle? = nil,
                       sourceLocation: SourceLocation = #_sourceLocation) -> String {
        var run = run ?? F.run(in: phase)
        let before = run
        let directives = run.handle(event, at: at(8500))
        #expect(directives.count == 1, "\(event) in \(phase)", sourceLocation: sourceLocation)
        let text = directives.first?.ignoredText
        #expect(text != nil, "\(event) in \(phase) gave \(directives)", sourceLocation: sourceLocation)
        #expect(run == before, "\(event) changed the run in \(phase)", sourceLocation: sourceLocation)
        return text ?? ""
    }

    @Test func pendingWaitsForStart() {
        for event in F.everyKind where ![.start, .cancel(reason: "stop"), .interrupt(reason: "restart"), .tick].contains(event) {
            expectIgnored(event, in: .pending)
        }
        var run = F.run(in: .pending)
        #expect(run.handle(.tick, at: at(1_000_000)) == [])
        #expect(run == F.run(in: .pending))
    }

    @Test func placingWaitsForThePlacement() {
        #expect(expectIgnored(.start, in: .placing)
            == "run r1 ignored the start: a run starts only when pending, but the run is placing; nothing changed")
        for event in F.everyKind where event.isShardOrTaskEvent || event == .workerLost("w1") {
            expectIgnored(event, in: .placing)
        }
        var run = F.run(in: .placing)
        #expect(run.handle(.tick, at: at(1_000_000)) == [])
        #expect(run.phase == .placing)
    }

    @Test func shardingIgnoresStrangersDuplicatesAndLateNews() {
        #expect(expectIgnored(.shardDelivered(worker: "w9"), in: .sharding)
            == "run r1 ignored the shard delivered by w9: w9 holds no part of this run; nothing changed")
        expectIgnored(.shardProgress(worker: "w9"), in: .sharding)
        expectIgnored(.shardFailed(worker: "w9", reason: "x"), in: .sharding)
        var run = F.run(in: .sharding)
        _ = run.handle(.shardDelivered(worker: "w2"), at: at(100))
        #expect(expectIgnored(.shardDelivered(worker: "w2"), in: .sharding, run)
            == "run r1 ignored the shard delivered by w2: the shard for w2 is already delivered; nothing changed")
        expectIgnored(.shardProgress(worker: "w2"), in: .sharding, run)
        expectIgnored(.shardFailed(worker: "w2", reason: "late"), in: .sharding, run)
        expectIgnored(.placed(F.placement), in: .sharding, run)
        expectIgnored(.placementRefused("x"), in: .sharding, run)
        expectIgnored(.start, in: .sharding, run)
        #expect(expectIgnored(.task(F.t0, .accepted), in: .sharding, run)
            == "run r1 ignored the teacher 0 accepted: task updates are expected only while preparing teachers or distilling, but the run is sharding; nothing changed")
    }

    @Test func preparingTeachersIgnoresStudentsUnknownsAndDuplicates() {
        #expect(expectIgnored(.task(F.s0, .accepted), in: .preparingTeachers)
            == "run r1 ignored the student 0 accepted: student 0 is not assigned in this run; nothing changed")
        expectIgnored(.task(TaskRef(.teacher, 2), .completed), in: .preparingTeachers)
        expectIgnored(.task(TaskRef(.teacher, -1), .completed), in: .preparingTeachers)
        #expect(expectIgnored(.shardDelivered(worker: "w1"), in: .preparingTeachers)
            == "run r1 ignored the shard delivered by w1: shard events are expected only while sharding, or from a worker that took a lost part, but the run is preparing teachers; nothing changed")
        expectIgnored(.shardFailed(worker: "w1", reason: "late"), in: .preparingTeachers)
        expectIgnored(.placed(F.placement), in: .preparingTeachers)

        var run = F.run(in: .preparingTeachers)
        _ = run.handle(.task(F.t0, .accepted), at: at(7100))
        #expect(expectIgnored(.task(F.t0, .accepted), in: .preparingTeachers, run)
            == "run r1 ignored the teacher 0 accepted: teacher 0 is already accepted; nothing changed")
        _ = run.handle(.task(F.t0, .running(done: 1, total: 5)), at: at(7200))
        expectIgnored(.task(F.t0, .accepted), in: .preparingTeachers, run)
        _ = run.handle(.task(F.t0, .completed), at: at(7300))
        for update in [TaskUpdate.accepted, .running(done: 9, total: 9), .completed, .failed(reason: "late")] {
            #expect(expectIgnored(.task(F.t0, update), in: .preparingTeachers, run).contains("teacher 0 is already completed"))
        }
        #expect(run.phase == .preparingTeachers)
    }

    @Test func aFailedTaskIsFinalToo() {
        // The run fails with its first failed task, so a second report about it is after the end.
        var run = F.run(in: .preparingTeachers)
        _ = run.handle(.task(F.t1, .failed(reason: "boom")), at: at(7100))
        expectIgnored(.task(F.t1, .failed(reason: "boom again")), in: .failed, run)
        expectIgnored(.task(F.t1, .completed), in: .failed, run)
    }

    @Test func distillingIgnoresReadyTeachersAndDuplicates() {
        for update in [TaskUpdate.accepted, .running(done: 1, total: 2), .completed] {
            expectIgnored(.task(F.t0, update), in: .distilling)
        }
        var run = F.run(in: .distilling)
        _ = run.handle(.task(F.s0, .completed), at: at(9100))
        expectIgnored(.task(F.s0, .completed), in: .distilling, run)
        expectIgnored(.task(F.s0, .running(done: 1, total: 1)), in: .distilling, run)
        expectIgnored(.task(TaskRef(.student, 2), .completed), in: .distilling, run)
        expectIgnored(.shardProgress(worker: "w1"), in: .distilling, run)
        expectIgnored(.start, in: .distilling, run)
        #expect(run.phase == .distilling)
        #expect(run.handle(.task(F.s1, .completed), at: at(9200)) == [])
        #expect(run.phase == .completed)
    }

    @Test func ticksWithNothingDueChangeNothing() {
        for phase in RunFixture.nonTerminal {
            var run = F.run(in: phase)
            let before = run
            #expect(run.handle(.tick, at: at(7000)) == [])
            #expect(run == before)
        }
    }
}

extension RunEvent {
    var isShardOrTaskEvent: Bool {
        switch self {
        case .shardProgress, .shardDelivered, .shardFailed, .task: true
        default: false
        }
    }
}
