import Testing
@testable import ClusterCore

/// Figures for progress bars.
@Suite struct RunLifecycleProgressTests {
    typealias F = RunFixture

    @Test(arguments: [RunPhase.pending, .placing, .completed, .failed, .cancelled, .interrupted])
    func noProgressOutsideTheWorkingPhases(_ phase: RunPhase) {
        #expect(F.run(in: phase).phaseProgress == (0, 0))
    }

    @Test func shardingCountsDeliveredWorkers() {
        var run = F.run(in: .sharding)
        #expect(run.phaseProgress == (0, 3))
        _ = run.handle(.shardDelivered(worker: "w3"), at: at(1))
        #expect(run.phaseProgress == (1, 3))
        _ = run.handle(.shardDelivered(worker: "w3"), at: at(2))  // duplicate: ignored
        #expect(run.phaseProgress == (1, 3))
    }

    @Test func countsCompletedTasksWhileATotalIsUnknown() {
        var run = F.run(in: .preparingTeachers)
        _ = run.handle(.task(F.t0, .completed), at: at(7100))
        #expect(run.phaseProgress == (1, 2))
        _ = run.handle(.task(F.t1, .running(done: 5, total: 0)), at: at(7200))
        #expect(run.phaseProgress == (1, 2))
    }

    @Test func sumsFiguresWhenEveryTotalIsKnown() {
        var run = F.run(in: .distilling)
        _ = run.handle(.task(F.s0, .running(done: 30, total: 40)), at: at(9100))
        #expect(run.phaseProgress == (0, 2))
        _ = run.handle(.task(F.s1, .running(done: 10, total: 40)), at: at(9100))
        #expect(run.phaseProgress == (40, 80))
        // Figures are replaced, even when they go down (a restarted count).
        _ = run.handle(.task(F.s0, .running(done: 5, total: 40)), at: at(9200))
        #expect(run.phaseProgress == (15, 80))
    }

    @Test func doneNeverExceedsTotal() {
        var run = F.run(in: .distilling)
        _ = run.handle(.task(F.s0, .running(done: 90, total: 40)), at: at(9100))
        _ = run.handle(.task(F.s1, .running(done: 1, total: 40)), at: at(9100))
        #expect(run.phaseProgress == (41, 80))
        #expect(run.tasks[F.s0]?.done == 90)  // stored as reported
    }

    @Test func aCompletedTaskCountsAsAllDone() {
        var run = F.run(in: .distilling)
        _ = run.handle(.task(F.s0, .running(done: 3, total: 40)), at: at(9100))
        _ = run.handle(.task(F.s1, .running(done: 1, total: 60)), at: at(9100))
        _ = run.handle(.task(F.s0, .completed), at: at(9200))
        #expect(run.phaseProgress == (41, 100))
    }

    @Test func teacherFiguresDoNotLeakIntoDistilling() {
        var run = F.run(in: .preparingTeachers)
        _ = run.handle(.task(F.t0, .running(done: 7, total: 7)), at: at(7100))
        _ = run.handle(.task(F.t1, .running(done: 3, total: 3)), at: at(7100))
        #expect(run.phaseProgress == (10, 10))
        _ = run.handle(.task(F.t0, .completed), at: at(7200))
        _ = run.handle(.task(F.t1, .completed), at: at(7200))
        #expect(run.phase == .distilling)
        #expect(run.phaseProgress == (0, 2))
    }

    @Test func hugeFiguresSaturate() {
        var run = F.run(in: .distilling)
        _ = run.handle(.task(F.s0, .running(done: .max, total: .max)), at: at(9100))
        _ = run.handle(.task(F.s1, .running(done: .max, total: .max)), at: at(9100))
        #expect(run.phaseProgress == (UInt64.max, UInt64.max))
        #expect(UInt64(5).addingSaturated(7) == 12)
    }
}
