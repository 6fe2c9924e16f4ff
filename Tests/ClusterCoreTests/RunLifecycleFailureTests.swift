import Testing
@testable import ClusterCore

/// Every way a run fails: bad start, refused or misfit placement, shard failure or stall,
/// a task not accepted in time, a failed task, a worker lost while distilling (losses before
/// distilling are in RunLifecycleReplacingTests).
@Suite struct RunLifecycleFailureTests {
    typealias F = RunFixture

    @Test(arguments: [(0, 2), (2, 0), (0, 0), (-1, 1)])
    func startWithoutTeachersOrReplicasFails(_ teachers: Int, _ replicas: Int) {
        var run = RunLifecycle(runID: "r1", teacherCount: teachers, replicaCount: replicas)
        #expect(run.handle(.start, at: at(0)) == [])
        #expect(run.phase == .failed)
        #expect(run.reason == "the run has \(teachers) teachers and \(replicas) student replicas, but needs at least 1 of each; fix teachers and replicas in the run spec")
    }

    @Test func placementRefusedFailsWithTheRefusal() {
        var run = F.run(in: .placing)
        let refusal = PlacementRefusal.notEnoughStudentWorkers(replicas: 2, available: ["w1"])
        #expect(run.handle(.placementRefused(refusal.description), at: at(5)) == [])
        #expect(run.phase == .failed)
        #expect(run.reason == "the run could not be placed: " + refusal.description)
        #expect(run.placement == nil)
    }

    @Test func placementRefusedWithoutTextStillSaysWhy() {
        var run = F.run(in: .placing)
        _ = run.handle(.placementRefused(""), at: at(5))
        #expect(run.reason == "the run could not be placed: the placer gave no reason")
    }

    @Test(arguments: [
        (Placement(teacherWorkers: ["w1"], studentWorkers: ["w2", "w3"]), "it lists 1 teacher workers for 2 teachers"),
        (Placement(teacherWorkers: ["w1", "w1"], studentWorkers: ["w2"]), "it lists 1 student workers for 2 replicas"),
        (Placement(teacherWorkers: ["w1", ""], studentWorkers: ["w2", "w3"]), "teacher 1 has no worker name"),
        (Placement(teacherWorkers: ["w1", "w1"], studentWorkers: ["", "w3"]), "student 0 has no worker name"),
        (Placement(teacherWorkers: ["w1", "w2"], studentWorkers: ["w3", "w3"]),
         "students 0 and 1 share worker w3, but each replica needs its own"),
    ])
    func misfitPlacementFails(_ placement: Placement, _ problem: String) {
        var run = F.run(in: .placing)
        #expect(run.handle(.placed(placement), at: at(10)) == [])
        #expect(run.phase == .failed)
        #expect(run.reason == "the placement does not fit the run: \(problem); this is a bug in the coordinator, please report it")
        #expect(run.placement == nil)
        #expect(run.involvedWorkers == [])
    }

    @Test func shardFailureFailsAndStopsEveryone() {
        var run = F.run(in: .sharding)
        _ = run.handle(.shardDelivered(worker: "w1"), at: at(100))
        #expect(run.handle(.shardFailed(worker: "w2", reason: "disk full on /var/cache"), at: at(200)) == [F.stopAll])
        #expect(run.phase == .failed)
        #expect(run.reason == "the shard transfer to w2 failed: disk full on /var/cache")
        #expect(run.nextDeadline() == nil)
    }

    @Test func shardFailureWithoutReasonSaysSo() {
        var run = F.run(in: .sharding)
        _ = run.handle(.shardFailed(worker: "w3", reason: ""), at: at(200))
        #expect(run.reason == "the shard transfer to w3 failed: no reason given")
    }

    @Test func shardStallFailsExactlyAtTheDeadline() {
        var run = F.run(in: .sharding)  // shards sent at 10
        #expect(run.handle(.tick, at: at(30_009)) == [])
        #expect(run.phase == .sharding)
        #expect(run.handle(.tick, at: at(30_010)) == [F.stopAll])
        #expect(run.phase == .failed)
        #expect(run.reason == "the shard transfer to w1 stalled: no progress for 30.0 s; check that w1 is running and its data endpoint is reachable, then resubmit the run")
    }

    @Test func progressRestartsTheStallTimer() {
        var run = F.run(in: .sharding)
        for worker in F.workers {
            _ = run.handle(.shardProgress(worker: worker), at: at(20_000))
        }
        #expect(run.nextDeadline() == at(50_000))
        #expect(run.handle(.tick, at: at(30_010)) == [])
        #expect(run.handle(.tick, at: at(49_999)) == [])
        #expect(run.handle(.tick, at: at(50_000)) == [F.stopAll])
        #expect(run.reason.hasPrefix("the shard transfer to w1 stalled: no progress for 30.0 s;"))
    }

    @Test func progressNeverMovesTheTimerBack() {
        var run = F.run(in: .sharding)
        _ = run.handle(.shardProgress(worker: "w1"), at: at(20_000))
        _ = run.handle(.shardProgress(worker: "w1"), at: at(15_000))
        _ = run.handle(.shardDelivered(worker: "w2"), at: at(20_000))
        _ = run.handle(.shardDelivered(worker: "w3"), at: at(20_000))
        #expect(run.nextDeadline() == at(50_000))
    }

    @Test func theLongestStalledWorkerIsNamed() {
        var run = F.run(in: .sharding)
        _ = run.handle(.shardProgress(worker: "w1"), at: at(20_000))
        _ = run.handle(.shardDelivered(worker: "w2"), at: at(20_000))
        #expect(run.handle(.tick, at: at(60_000)) == [F.stopAll])
        #expect(run.reason == "the shard transfer to w3 stalled: no progress for 59.99 s; check that w3 is running and its data endpoint is reachable, then resubmit the run")
    }

    @Test func aDeliveredShardDoesNotStall() {
        var run = F.run(in: .sharding)
        _ = run.handle(.shardDelivered(worker: "w1"), at: at(100))
        _ = run.handle(.shardDelivered(worker: "w2"), at: at(100))
        _ = run.handle(.shardProgress(worker: "w3"), at: at(25_000))
        #expect(run.handle(.tick, at: at(54_999)) == [])
        #expect(run.phase == .sharding)
    }

    @Test func customShardStall() {
        var run = RunLifecycle(runID: "r1", teacherCount: 2, replicaCount: 2, timeouts: RunTimeouts(shardStall: .milliseconds(1500)))
        _ = run.handle(.start, at: at(0))
        _ = run.handle(.placed(F.placement), at: at(100))
        #expect(run.nextDeadline() == at(1600))
        #expect(run.handle(.tick, at: at(1599)) == [])
        #expect(run.handle(.tick, at: at(1600)) == [F.stopAll])
    }

    @Test func teacherNotAcceptedInTimeFails() {
        var run = F.run(in: .preparingTeachers)  // assigned at 7000
        _ = run.handle(.task(F.t0, .accepted), at: at(7100))
        #expect(run.handle(.tick, at: at(16_999)) == [])
        #expect(run.handle(.tick, at: at(17_000)) == [F.stopAll])
        #expect(run.phase == .failed)
        #expect(run.reason == "teacher 1 on w2 was not accepted within 10.0 s; check that w2 is running and can reach the coordinator, then resubmit the run")
    }

    @Test(arguments: [TaskUpdate.accepted, .running(done: 0, total: 0), .completed])
    func anyReportCountsAsAcceptance(_ update: TaskUpdate) {
        var run = F.run(in: .preparingTeachers)
        _ = run.handle(.task(F.t0, update), at: at(16_000))
        _ = run.handle(.task(F.t1, update), at: at(16_000))
        // Past the teachers' deadline (17 000), before the students' (26 000, when both completed).
        #expect(run.handle(.tick, at: at(25_999)) == [])
        #expect(run.phase != .failed)
    }

    @Test func theFirstLateTaskIsNamed() {
        var run = F.run(in: .preparingTeachers)
        #expect(run.handle(.tick, at: at(20_000)) == [F.stopAll])
        #expect(run.reason.hasPrefix("teacher 0 on w1 was not accepted within 10.0 s;"))
    }

    @Test func studentNotAcceptedInTimeFails() {
        var run = F.run(in: .distilling)  // students assigned at 9000
        _ = run.handle(.task(F.s1, .running(done: 1, total: 9)), at: at(9100))
        #expect(run.nextDeadline() == at(19_000))
        #expect(run.handle(.tick, at: at(18_999)) == [])
        #expect(run.handle(.tick, at: at(19_000)) == [F.stopAll])
        #expect(run.reason == "student 0 on w3 was not accepted within 10.0 s; check that w3 is running and can reach the coordinator, then resubmit the run")
    }

    @Test func customTaskAcceptance() {
        var run = RunLifecycle(runID: "r1", teacherCount: 2, replicaCount: 2, timeouts: RunTimeouts(taskAcceptance: .milliseconds(250)))
        for (event, ms) in F.toSharding + F.workers.map({ (RunEvent.shardDelivered(worker: $0), UInt64(7000)) }) {
            _ = run.handle(event, at: at(ms))
        }
        #expect(run.nextDeadline() == at(7250))
        #expect(run.handle(.tick, at: at(7249)) == [])
        #expect(run.handle(.tick, at: at(7250)) == [F.stopAll])
        #expect(run.reason.contains("was not accepted within 0.25 s"))
    }

    @Test func teacherFailureFailsTheRun() {
        var run = F.run(in: .preparingTeachers)
        _ = run.handle(.task(F.t1, .running(done: 2, total: 10)), at: at(7100))
        #expect(run.handle(.task(F.t1, .failed(reason: "out of memory")), at: at(7200)) == [F.stopAll])
        #expect(run.phase == .failed)
        #expect(run.reason == "teacher 1 on w2 failed: out of memory")
        #expect(run.tasks[F.t1]?.state == .failed)
        #expect(run.tasks[F.t1]?.reason == "out of memory")
        #expect(run.tasks[F.t1]?.done == 2)
    }

    @Test func studentFailureFailsTheRun() {
        var run = F.run(in: .distilling)
        #expect(run.handle(.task(F.s0, .failed(reason: "NaN loss at step 120")), at: at(9100)) == [F.stopAll])
        #expect(run.reason == "student 0 on w3 failed: NaN loss at step 120")
    }

    @Test func failureWithoutReasonSaysSo() {
        var run = F.run(in: .distilling)
        _ = run.handle(.task(F.s1, .failed(reason: "")), at: at(9100))
        #expect(run.reason == "student 1 on w1 failed: no reason given")
        #expect(run.tasks[F.s1]?.reason == "no reason given")
    }

    @Test func aReadyTeacherThatFailsWhileDistillingFailsTheRun() {
        var run = F.run(in: .distilling)
        #expect(run.handle(.task(F.t1, .failed(reason: "logit stream broke")), at: at(9500)) == [F.stopAll])
        #expect(run.phase == .failed)
        #expect(run.reason == "teacher 1 on w2 failed while serving the students: logit stream broke")
        #expect(run.tasks[F.t1]?.state == .failed)
    }

    @Test func aLostWorkerWhileDistillingFailsTheRun() {
        var run = F.run(in: .distilling)
        #expect(run.handle(.workerLost("w3"), at: at(9999)) == [.stopWork(workers: ["w1", "w2"])])
        #expect(run.phase == .failed)
        #expect(run.reason == "worker w3 was lost while the run was distilling; it held student 0, so the run cannot go on: resubmit it once the cluster has enough workers")
        #expect(run.involvedWorkers == [])
        #expect(run.unplaced.isEmpty)
    }

    @Test func losingTheOnlyWorkerWhileDistillingStopsNobody() {
        var run = RunLifecycle(runID: "solo", teacherCount: 1, replicaCount: 1)
        _ = run.handle(.start, at: at(0))
        _ = run.handle(.placed(Placement(teacherWorkers: ["w"], studentWorkers: ["w"])), at: at(1))
        _ = run.handle(.shardDelivered(worker: "w"), at: at(2))
        _ = run.handle(.task(TaskRef(.teacher, 0), .completed), at: at(3))
        #expect(run.phase == .distilling)
        #expect(run.handle(.workerLost("w"), at: at(4)) == [])
        #expect(run.phase == .failed)
    }

    @Test(arguments: [RunPhase.sharding, .preparingTeachers, .distilling])
    func aLostStrangerIsIgnored(_ phase: RunPhase) {
        var run = F.run(in: phase)
        let before = run
        #expect(run.handle(.workerLost("w9"), at: at(9999))
            == [.ignored("run r1 ignored the loss of worker w9: w9 holds no part of this run; nothing changed")])
        #expect(run == before)
    }

    @Test(arguments: [RunPhase.pending, .placing])
    func aLostWorkerBeforePlacementIsIgnored(_ phase: RunPhase) {
        var run = F.run(in: phase)
        let before = run
        #expect(run.handle(.workerLost("w1"), at: at(5)).count == 1)
        #expect(run.handle(.workerLost("w1"), at: at(5)).first?.ignoredText != nil)
        #expect(run == before)
    }
}
