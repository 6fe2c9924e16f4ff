import Testing
@testable import ClusterCore

/// A worker lost before distilling begins: its parts are placed again (or wait, bounded, for a
/// worker), the others keep their state; while distilling a loss still fails the run.
@Suite struct RunLifecycleReplacingTests {
    typealias F = RunFixture

    /// The fixture run preparing teachers (assigned at 7000) with teacher 0 running.
    static func preparing() -> RunLifecycle {
        var run = F.run(in: .preparingTeachers)
        _ = run.handle(.task(F.t0, .running(done: 3, total: 10)), at: at(7500))
        return run
    }

    @Test func aStudentLostWhileShardingIsPlacedOnAnotherWorker() {
        var run = F.run(in: .sharding)  // shards sent at 10
        _ = run.handle(.shardDelivered(worker: "w1"), at: at(100))
        _ = run.handle(.shardDelivered(worker: "w2"), at: at(100))
        #expect(run.handle(.workerLost("w3"), at: at(200)) == [.placeParts([F.s0])])
        #expect(run.phase == .sharding)
        #expect(run.placement?.studentWorkers == ["", "w1"])
        #expect(run.unplaced == [F.s0: LostPart(worker: "w3", since: at(200))])
        #expect(run.involvedWorkers == ["w1", "w2"])
        #expect(run.nextDeadline() == at(300_200))  // the replacement wait; w3's shard stall is gone

        #expect(run.handle(.partsPlaced([F.s0: "w4"]), at: at(300)) == [.sendShard(worker: "w4")])
        #expect(run.unplaced.isEmpty)
        #expect(run.placement == Placement(teacherWorkers: ["w1", "w2"], studentWorkers: ["w4", "w1"]))
        #expect(run.nextDeadline() == at(30_300))  // w4's shard stall
        #expect(run.handle(.shardDelivered(worker: "w4"), at: at(400))
            == [.assign(F.t0, worker: "w1"), .assign(F.t1, worker: "w2")])
        #expect(run.phase == .preparingTeachers)
        _ = run.handle(.task(F.t0, .completed), at: at(500))
        #expect(run.handle(.task(F.t1, .completed), at: at(600)) == [.assign(F.s0, worker: "w4"), .assign(F.s1, worker: "w1")])
        #expect(run.phase == .distilling)
    }

    @Test func aStudentLostWhilePreparingTeachersMovesAndTheTeachersLearnWhere() {
        var run = Self.preparing()
        #expect(run.handle(.workerLost("w3"), at: at(8000)) == [.placeParts([F.s0])])
        #expect(run.phase == .preparingTeachers)
        #expect(run.tasks[F.t0]?.state == .running && run.tasks[F.t0]?.done == 3)
        // Every teacher completes, but replica 0 has no worker: no distilling yet.
        _ = run.handle(.task(F.t0, .completed), at: at(9000))
        #expect(run.handle(.task(F.t1, .completed), at: at(9000)) == [])
        #expect(run.phase == .preparingTeachers)

        #expect(run.handle(.partsPlaced([F.s0: "w4"]), at: at(9500))
            == [.sendShard(worker: "w4"), .refreshPeers(F.t0, worker: "w1"), .refreshPeers(F.t1, worker: "w2")])
        #expect(run.handle(.shardProgress(worker: "w4"), at: at(9600)) == [])
        #expect(run.nextDeadline() == at(39_600))
        #expect(run.handle(.shardDelivered(worker: "w4"), at: at(9800))
            == [.assign(F.s0, worker: "w4"), .assign(F.s1, worker: "w1")])
        #expect(run.phase == .distilling)
        #expect(run.placement?.studentWorkers == ["w4", "w1"])
    }

    @Test func aTeacherLostWhileTrainingIsPlacedAgainAndAssignedOnceItsWorkerHasTheShard() {
        var run = Self.preparing()
        _ = run.handle(.task(F.t1, .running(done: 5, total: 10)), at: at(7600))
        #expect(run.handle(.workerLost("w2"), at: at(8000)) == [.placeParts([F.t1])])
        #expect(run.tasks[F.t1] == nil)
        #expect(run.tasks[F.t0]?.done == 3)
        #expect(run.handle(.partsPlaced([F.t1: "w4"]), at: at(8100)) == [.sendShard(worker: "w4"), .refreshPeers(F.t0, worker: "w1")])
        // Teacher 0 alone completing is not "all teachers": teacher 1 has no task yet.
        #expect(run.handle(.task(F.t0, .completed), at: at(8500)) == [])
        #expect(run.phase == .preparingTeachers)
        #expect(run.handle(.shardDelivered(worker: "w4"), at: at(9000)) == [.assign(F.t1, worker: "w4")])
        #expect(run.tasks[F.t1] == TaskProgress(ref: F.t1, worker: "w4", assignedAt: at(9000)))
        #expect(run.nextDeadline() == at(19_000))  // its acceptance
        #expect(run.handle(.task(F.t1, .completed), at: at(9500)) == [.assign(F.s0, worker: "w3"), .assign(F.s1, worker: "w1")])
        #expect(run.phase == .distilling)
    }

    @Test func aCompletedTeacherWhoseWorkerIsLostIsPlacedAgain() {
        var run = Self.preparing()
        _ = run.handle(.task(F.t1, .completed), at: at(7600))
        #expect(run.handle(.workerLost("w2"), at: at(8000)) == [.placeParts([F.t1])])
        // w3 already has the shard (it hosts student 0): the teacher is assigned at once.
        #expect(run.handle(.partsPlaced([F.t1: "w3"]), at: at(8100)) == [.assign(F.t1, worker: "w3"), .refreshPeers(F.t0, worker: "w1")])
        _ = run.handle(.task(F.t0, .completed), at: at(8200))
        #expect(run.phase == .preparingTeachers)
        #expect(run.handle(.task(F.t1, .completed), at: at(8300)).count == 2)
        #expect(run.phase == .distilling)
    }

    @Test func aWorkerWithSeveralPartsLosesThemAllAndTheyGoWhereTheyFit() {
        var run = Self.preparing()
        #expect(run.handle(.workerLost("w1"), at: at(8000)) == [.placeParts([F.t0, F.s1])])
        #expect(run.placement == Placement(teacherWorkers: ["", "w2"], studentWorkers: ["w3", ""]))
        #expect(run.tasks.keys.sorted() == [F.t1])
        #expect(run.handle(.partsPlaced([F.t0: "w2", F.s1: "w4"]), at: at(8100))
            == [.sendShard(worker: "w4"), .assign(F.t0, worker: "w2"), .refreshPeers(F.t1, worker: "w2")])
    }

    @Test func partOfAnAnswerLeavesTheRestWaiting() {
        var run = Self.preparing()
        _ = run.handle(.workerLost("w1"), at: at(8000))
        #expect(run.handle(.partsPlaced([F.t0: "w2"]), at: at(8100)) == [.assign(F.t0, worker: "w2"), .refreshPeers(F.t1, worker: "w2")])
        #expect(run.unplaced == [F.s1: LostPart(worker: "w1", since: at(8000))])
        #expect(run.handle(.workersChanged, at: at(9000)) == [.placeParts([F.s1])])
    }

    @Test func withoutACapableWorkerTheRunWaitsAndAJoiningWorkerGetsThePart() {
        var run = F.run(in: .sharding)
        _ = run.handle(.shardDelivered(worker: "w1"), at: at(100))
        _ = run.handle(.shardDelivered(worker: "w2"), at: at(100))
        _ = run.handle(.workerLost("w3"), at: at(1000))
        // The shell found nobody and sent nothing; a worker joins later.
        #expect(run.handle(.tick, at: at(200_000)) == [])
        #expect(run.handle(.workersChanged, at: at(250_000)) == [.placeParts([F.s0])])
        #expect(run.nextDeadline() == at(301_000))
        #expect(run.handle(.partsPlaced([F.s0: "w5"]), at: at(250_100)) == [.sendShard(worker: "w5")])
        #expect(run.unplaced.isEmpty)
    }

    @Test func theWaitExpiresAndTheReasonNamesThePartsWhatTheyNeedAndWhatToDo() {
        var run = Self.preparing()
        _ = run.handle(.task(F.t0, .accepted), at: at(7600))
        _ = run.handle(.task(F.t1, .accepted), at: at(7600))
        _ = run.handle(.workerLost("w1"), at: at(8000))
        #expect(run.nextDeadline() == at(308_000))
        #expect(run.handle(.tick, at: at(307_999)) == [])
        #expect(run.handle(.tick, at: at(308_000)) == [.stopWork(workers: ["w2", "w3"])])
        #expect(run.phase == .failed)
        #expect(run.reason == "no worker could take teacher 0 (lost with w1) and student 1 (lost with w1) within 300.0 s "
            + "before distilling: a teacher needs a worker with the teacher role, and a student replica needs a worker "
            + "with the student role that hosts no other replica of this run; start such a worker (--roles teacher or "
            + "--roles student) or bring w1 back, then resubmit the run")
        #expect(run.nextDeadline() == nil)
    }

    @Test func theWaitIsConfigurableAndCountsFromTheEarliestLoss() {
        var run = RunLifecycle(runID: "r1", teacherCount: 2, replicaCount: 2, timeouts: RunTimeouts(replacementWait: .seconds(60)))
        for (event, ms) in F.toSharding + F.workers.map({ (RunEvent.shardDelivered(worker: $0), UInt64(7000)) }) {
            _ = run.handle(event, at: at(ms))
        }
        _ = run.handle(.task(F.t0, .accepted), at: at(7100))
        _ = run.handle(.task(F.t1, .accepted), at: at(7100))
        _ = run.handle(.workerLost("w3"), at: at(8000))
        _ = run.handle(.workerLost("w2"), at: at(20_000))
        #expect(run.nextDeadline() == at(68_000))
        _ = run.handle(.tick, at: at(68_000))
        #expect(run.phase == .failed)
        #expect(run.reason.hasPrefix("no worker could take teacher 1 (lost with w2) and student 0 (lost with w3) within 60.0 s"))
        #expect(run.reason.hasSuffix("or bring w2 and w3 back, then resubmit the run"))
    }

    @Test func aWorkerThatComesBackMayTakeItsPartAgainAndGetsTheShardAnew() {
        var run = Self.preparing()
        _ = run.handle(.workerLost("w3"), at: at(8000))
        #expect(run.handle(.partsPlaced([F.s0: "w3"]), at: at(9000))
            == [.sendShard(worker: "w3"), .refreshPeers(F.t0, worker: "w1"), .refreshPeers(F.t1, worker: "w2")])
        #expect(run.involvedWorkers == F.workers)
    }

    @Test func aNewWorkerWhoseShardStallsFailsTheRun() {
        var run = Self.preparing()
        _ = run.handle(.task(F.t1, .accepted), at: at(7600))
        _ = run.handle(.workerLost("w3"), at: at(8000))
        _ = run.handle(.partsPlaced([F.s0: "w4"]), at: at(9000))
        #expect(run.handle(.tick, at: at(38_999)) == [])
        #expect(run.handle(.tick, at: at(39_000)) == [.stopWork(workers: ["w1", "w2", "w4"])])
        #expect(run.reason.hasPrefix("the shard transfer to w4 stalled: no progress for 30.0 s;"))
    }

    @Test func theWorkerThatTookAPartMayBeLostTooAndThePartWaitsAgain() {
        var run = Self.preparing()
        _ = run.handle(.workerLost("w3"), at: at(8000))
        _ = run.handle(.partsPlaced([F.s0: "w4"]), at: at(9000))
        #expect(run.handle(.workerLost("w4"), at: at(9500)) == [.placeParts([F.s0])])
        #expect(run.unplaced == [F.s0: LostPart(worker: "w4", since: at(9500))])
        #expect(run.handle(.shardDelivered(worker: "w4"), at: at(9600)).first?.ignoredText != nil)
    }

    @Test func reportsOfALostWorkersTasksAreIgnored() {
        var run = Self.preparing()
        _ = run.handle(.workerLost("w1"), at: at(8000))
        let before = run
        #expect(run.handle(.task(F.t0, .completed), at: at(8100))
            == [.ignored("run r1 ignored the teacher 0 completed: teacher 0 is not assigned in this run; nothing changed")])
        #expect(run == before)
        #expect(run.handle(.workerLost("w1"), at: at(8200)).first?.ignoredText != nil)
    }

    @Test(arguments: [
        ([F.t1: "w4"], "teacher 1 is not waiting for a worker"),
        ([F.s0: ""], "student 0 gets no worker name"),
        ([F.s0: "w1"], "student 0 cannot go to w1: it hosts student 1, and each replica needs its own worker"),
        ([:], "the answer places no part"),
    ])
    func answersThatDoNotFitAreIgnored(_ answer: [TaskRef: String], _ why: String) {
        var run = Self.preparing()
        _ = run.handle(.workerLost("w3"), at: at(8000))
        let before = run
        let directives = run.handle(.partsPlaced(answer), at: at(8100))
        #expect(directives.count == 1)
        #expect(directives.first?.ignoredText?.contains(": \(why); nothing changed") == true)
        #expect(run == before)
    }

    @Test func twoReplicasMayNotShareTheWorkerTheyGoTo() {
        var run = RunLifecycle(runID: "r1", teacherCount: 1, replicaCount: 2)
        _ = run.handle(.start, at: at(0))
        _ = run.handle(.placed(Placement(teacherWorkers: ["w1"], studentWorkers: ["w2", "w2x"])), at: at(1))
        _ = run.handle(.workerLost("w2"), at: at(2))
        _ = run.handle(.workerLost("w2x"), at: at(3))
        let before = run
        #expect(run.handle(.partsPlaced([TaskRef(.student, 0): "w5", TaskRef(.student, 1): "w5"]), at: at(4)).first?.ignoredText
            == "run r1 ignored the placement of student 0 on w5 and student 1 on w5: student 1 cannot go to w5: it hosts "
            + "student 0, and each replica needs its own worker; nothing changed")
        #expect(run == before)
    }

    @Test(arguments: [RunPhase.pending, .placing, .sharding, .preparingTeachers, .distilling])
    func workersChangingWithNothingWaitingIsIgnored(_ phase: RunPhase) {
        var run = F.run(in: phase)
        let before = run
        #expect(run.handle(.workersChanged, at: at(9999)).first?.ignoredText
            == "run r1 ignored the change of workers: no part of this run waits for a worker; nothing changed")
        #expect(run == before)
    }

    @Test(arguments: [RunPhase.pending, .placing, .distilling])
    func partsArePlacedOnlyBeforeDistilling(_ phase: RunPhase) {
        var run = F.run(in: phase)
        let before = run
        #expect(run.handle(.partsPlaced([F.s0: "w4"]), at: at(9999)).first?.ignoredText != nil)
        #expect(run == before)
    }

    @Test func progressWhilePartsWaitCountsThePlacedTeachers() {
        var run = Self.preparing()
        _ = run.handle(.workerLost("w2"), at: at(8000))
        #expect(run.phaseProgress == (3, 10))  // teacher 0's figures; teacher 1 has no task until it is placed
    }
}
