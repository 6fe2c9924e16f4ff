@testable import ClusterCore
import Testing

/// While distilling, an elastic run that lost a replica gives its slot to a worker again once
/// the replicas hold epoch 0's targets: the worker gets the shard, then the ring grows; a join
/// that goes wrong shrinks the ring again or is abandoned, never failing the run.
@Suite struct RunLifecycleGrowingTests {
    typealias F = RunFixture
    static let s2 = TaskRef(.student, 2)

    /// Distilling (2 epochs of 10 steps per replica), s2 lost at 9500 ms; the survivors have
    /// reported `done` steps since, about 120 ms of cluster time per step (the ring never
    /// counts as stalled here: 60 s).
    static func lostOne(done: UInt64 = 12, growthLead: Duration = .milliseconds(500), maxRestarts: Int = 10) -> RunLifecycle {
        var run = RunLifecycle(runID: "r1", teacherCount: 2, replicaCount: 3,
                               timeouts: RunTimeouts(ringStall: .seconds(60), growthLead: growthLead),
                               elastic: ElasticPolicy(minReplicas: 1, maxRestarts: maxRestarts), studentEpochs: 2)
        _ = run.handle(.start, at: at(0))
        _ = run.handle(.placed(Placement(teacherWorkers: ["w1", "w2"], studentWorkers: ["s1", "s2", "s3"])), at: at(10))
        for w in ["w1", "w2", "s1", "s2", "s3"] { _ = run.handle(.shardDelivered(worker: w), at: at(7000)) }
        _ = run.handle(.task(F.t0, .completed), at: at(9000))
        _ = run.handle(.task(F.t1, .completed), at: at(9000))
        for ref in [F.s0, F.s1, s2] { _ = run.handle(.task(ref, .running(done: 1, total: 20)), at: at(9100)) }
        _ = run.handle(.workerLost("s2"), at: at(9500))
        for ref in [F.s0, s2] { _ = run.handle(.task(ref, .running(done: done, total: 20)), at: at(9600 + 100 * done)) }
        return run
    }

    /// A run takes a slot back while its teachers stream — an online run (`studentEpochs` 0: its
    /// teachers serve to the end) at any step, an offline one in epoch 0 — with a fresh stream
    /// slot, and the teachers learn of it.
    @Test func aRunTakesASlotBackWhileItsTeachersStreamWithAFreshStreamSlot() {
        func lost(_ policy: ElasticPolicy.LostTeachers) -> RunLifecycle {
            var run = RunLifecycle(runID: "r1", teacherCount: 2, replicaCount: 3,
                                   timeouts: RunTimeouts(ringStall: .seconds(60), growthLead: .milliseconds(500)),
                                   elastic: ElasticPolicy(lostTeachers: policy), studentEpochs: 0)
            _ = run.handle(.start, at: at(0))
            _ = run.handle(.placed(Placement(teacherWorkers: ["w1", "w2"], studentWorkers: ["s1", "s2", "s3"])), at: at(10))
            for w in ["w1", "w2", "s1", "s2", "s3"] { _ = run.handle(.shardDelivered(worker: w), at: at(7000)) }
            _ = run.handle(.task(F.t0, .completed), at: at(9000))
            _ = run.handle(.task(F.t1, .completed), at: at(9000))
            for ref in [F.s0, F.s1, Self.s2] { _ = run.handle(.task(ref, .running(done: 1, total: 20)), at: at(9100)) }
            _ = run.handle(.workerLost("s2"), at: at(9500))
            for ref in [F.s0, Self.s2] { _ = run.handle(.task(ref, .running(done: 3, total: 20)), at: at(9900)) }
            return run
        }
        #expect(lost(.streamAgain).regrowable == [F.s1], "offline, epoch 0")
        for policy in [ElasticPolicy.LostTeachers.streamAgain, .trainAgain] {
        var run = lost(policy)
        #expect(run.regrowable == [F.s1])
        _ = run.handle(.partsPlaced([F.s1: "s4"]), at: at(11_000))
        let directives = run.handle(.shardDelivered(worker: "s4"), at: at(11_200))
        #expect(directives == [.ringChanged(RingMembership(generation: 3, members: ["s1", "s3", "s4"])!, why: "s4 took back student 1"),
                               .assign(F.s1, worker: "s4"), .refreshPeers(F.s0, worker: "s1"), .refreshPeers(Self.s2, worker: "s3"),
                               .refreshPeers(F.t0, worker: "w1"), .refreshPeers(F.t1, worker: "w2")])
        #expect(run.streamSlot(1) == 3 && run.streamSlot(0) == 0 && run.streamSlot(2) == 2)
        }
    }

    @Test func aWorkerThatComesBackTakesTheLostSlotAndTheRingGrows() {
        var run = Self.lostOne()
        #expect(run.regrowable == [F.s1])
        #expect(run.handle(.workersChanged, at: at(11_000)) == [.placeParts([F.s1])])
        #expect(run.handle(.partsPlaced([F.s1: "s4"]), at: at(11_000)) == [.sendShard(worker: "s4")])
        #expect(run.joining == [1: "s4"] && run.regrowable.isEmpty, "a slot being taken back is not offered again")
        #expect(run.involvedWorkers.contains("s4"))
        let directives = run.handle(.shardDelivered(worker: "s4"), at: at(11_200))
        let ring = RingMembership(generation: 3, members: ["s1", "s3", "s4"])!
        #expect(directives == [.ringChanged(ring, why: "s4 took back student 1"), .assign(F.s1, worker: "s4"),
                               .refreshPeers(F.s0, worker: "s1"), .refreshPeers(Self.s2, worker: "s3")])
        #expect(run.activeSlots == [0, 2, 1], "the newcomer is the last rank: rank 0 stays a replica that trained from the start")
        #expect(run.recruits == [1] && run.lostReplicas.isEmpty)
        _ = run.handle(.task(F.s1, .accepted), at: at(11_300))
        _ = run.handle(.task(F.s1, .running(done: 14, total: 20)), at: at(12_000))
        #expect(run.recruits.isEmpty, "a replica that reported a step holds the state")
        for ref in [F.s0, F.s1, Self.s2] { _ = run.handle(.task(ref, .completed), at: at(13_000)) }
        #expect(run.phase == .completed)
        #expect(run.reason == "the student was distilled from 2 teachers on 3 replicas (3 at the start; student 1 taken back by s4 "
            + "(lost with s2))")
    }

    /// In epoch 0 a slot is given back while every teacher serves, not while one is being
    /// placed again (a joiner needs every teacher's stream from the ring's step on).
    @Test func noSlotIsGivenBackWhileATeacherIsPlacedAgain() {
        var run = Self.lostOne(done: 5)
        #expect(run.regrowable == [F.s1] && !run.teachersNoLongerNeeded, "epoch 0, every teacher serving")
        _ = run.handle(.workerLost("w1"), at: at(10_500))
        #expect(!run.unplaced.isEmpty)
        #expect(run.regrowable.isEmpty)
        #expect(run.handle(.workersChanged, at: at(11_000)) == [.placeParts([F.t0])], "the teacher only")
        #expect(run.handle(.partsPlaced([F.s1: "s4"]), at: at(11_000)).first?.ignoredText != nil, "not the replica slot")
    }

    @Test func noSlotIsGivenBackWhenTooLittleTrainingIsLeft() {
        // 8 steps left at 118 ms a step (1.3 s over 11 steps): 0.95 s, more than 0.9 s, less than 1 s.
        #expect(Self.lostOne(done: 12, growthLead: .milliseconds(900)).regrowable.isEmpty == false)
        #expect(Self.lostOne(done: 12, growthLead: .seconds(1)).regrowable.isEmpty)
        #expect(Self.lostOne(maxRestarts: 1).regrowable.isEmpty, "the ring may not change again")
    }

    @Test func aRecruitThatFailsShrinksTheRingAgainWithoutFailingTheRun() {
        var run = Self.lostOne()
        _ = run.handle(.partsPlaced([F.s1: "s4"]), at: at(11_000))
        _ = run.handle(.shardDelivered(worker: "s4"), at: at(11_200))
        let directives = run.handle(.task(F.s1, .failed(reason: "no gradient chunk within 30 s")), at: at(12_000))
        #expect(directives.first == .noted("student 1 on s4 could not join the ring: no gradient chunk within 30 s"))
        #expect(directives.contains(.ringChanged(RingMembership(generation: 4, members: ["s1", "s3"])!, why: "s4 was lost while distilling")))
        #expect(run.phase == .distilling && run.activeSlots == [0, 2] && run.lostReplicas[1]?.worker == "s4")
        // The survivors finish: completed.
        for ref in [F.s0, Self.s2] { _ = run.handle(.task(ref, .completed), at: at(13_000)) }
        #expect(run.phase == .completed)
    }

    @Test func aRecruitNotAcceptedInTimeIsDroppedAndARecruitLostAfterTheOthersFinishedChangesNothing() {
        var run = Self.lostOne()
        _ = run.handle(.partsPlaced([F.s1: "s4"]), at: at(11_000))
        _ = run.handle(.shardDelivered(worker: "s4"), at: at(11_200))
        #expect(run.nextDeadline() == at(21_200))
        let directives = run.handle(.tick, at: at(21_200))
        #expect(directives.first == .noted("student 1 on s4 could not join the ring: its task was not accepted within 10.0 s"))
        #expect(run.phase == .distilling && run.activeSlots == [0, 2])

        var late = Self.lostOne()
        _ = late.handle(.partsPlaced([F.s1: "s4"]), at: at(11_000))
        _ = late.handle(.shardDelivered(worker: "s4"), at: at(11_200))
        for ref in [F.s0, Self.s2] { _ = late.handle(.task(ref, .completed), at: at(11_500)) }
        #expect(late.phase == .distilling, "the recruit is still in the ring")
        _ = late.handle(.workerLost("s4"), at: at(12_000))
        #expect(late.phase == .completed, "\(late.reason)")
    }

    @Test func aJoinWhoseShardStallsOrFailsIsAbandonedAndTheSlotWaitsAgain() {
        var run = Self.lostOne()
        _ = run.handle(.partsPlaced([F.s1: "s4"]), at: at(11_000))
        #expect(run.nextDeadline() == at(41_000))
        #expect(run.handle(.tick, at: at(41_000)) == [.noted("s4 did not take back student 1: its shard transfer stalled for 30.0 s; "
            + "the ring goes on without it")])
        #expect(run.phase == .distilling && run.joining.isEmpty && run.regrowable == [F.s1])
        #expect(!run.involvedWorkers.contains("s4"))
        _ = run.handle(.partsPlaced([F.s1: "s5"]), at: at(42_000))
        #expect(run.handle(.shardFailed(worker: "s5", reason: "disk full"), at: at(42_100))
            == [.noted("s5 did not take back student 1: its shard transfer failed: disk full; the ring goes on without it")])
        _ = run.handle(.partsPlaced([F.s1: "s6"]), at: at(43_000))
        #expect(run.handle(.workerLost("s6"), at: at(43_100)).first
            == .noted("s6 did not take back student 1: it was lost; the ring goes on without it"))
        #expect(run.phase == .distilling && run.ringGeneration == 2)
    }

    @Test func aJoinAfterTheReplicasFinishedIsAbandoned() {
        var run = Self.lostOne()
        _ = run.handle(.partsPlaced([F.s1: "s4"]), at: at(11_000))
        _ = run.handle(.task(F.s0, .running(done: 20, total: 20)), at: at(11_100))
        _ = run.handle(.task(Self.s2, .running(done: 20, total: 20)), at: at(11_100))
        #expect(run.handle(.shardDelivered(worker: "s4"), at: at(11_200))
            == [.noted("s4 did not take back student 1: the replicas finished training meanwhile; the ring goes on without it")])
        #expect(run.ringGeneration == 2)
    }
}

/// An elastic run may start on fewer student workers than replicas (at least
/// `elastic.min-replicas`) and takes the other slots as workers come.
@Suite struct RunLifecycleStartingSmallTests {
    typealias F = RunFixture

    @Test func theSlotsWithoutAWorkerWaitAndAreTakenOnceTheReplicasTrain() {
        var run = RunLifecycle(runID: "r1", teacherCount: 1, replicaCount: 3, timeouts: RunTimeouts(growthLead: .zero),
                               elastic: ElasticPolicy(minReplicas: 2), studentEpochs: 2)
        _ = run.handle(.start, at: at(0))
        let placement = Placement(teacherWorkers: ["w1"], studentWorkers: ["s1", "s2", ""])
        #expect(run.handle(.placed(placement), at: at(10)).count == 3, "a shard for w1, s1 and s2")
        #expect(run.phase == .sharding && run.ringOrder == [0, 1] && run.lostReplicas[2]?.worker == "")
        for w in ["w1", "s1", "s2"] { _ = run.handle(.shardDelivered(worker: w), at: at(100)) }
        #expect(run.handle(.task(F.t0, .completed), at: at(200)) == [.assign(F.s0, worker: "s1"), .assign(F.s1, worker: "s2")])
        #expect(run.ring == RingMembership(generation: 1, members: ["s1", "s2"]))
        for ref in [F.s0, F.s1] { _ = run.handle(.task(ref, .running(done: 2, total: 20)), at: at(1000)) }
        #expect(!run.teachersNoLongerNeeded, "epoch 0: the slot is taken while the teacher streams")
        #expect(run.handle(.workersChanged, at: at(1100)) == [.placeParts([TaskRef(.student, 2)])])
        _ = run.handle(.partsPlaced([TaskRef(.student, 2): "s3"]), at: at(1200))
        let directives = run.handle(.shardDelivered(worker: "s3"), at: at(1300))
        #expect(directives.first == .ringChanged(RingMembership(generation: 2, members: ["s1", "s2", "s3"])!, why: "s3 joined as student 2"))
        for ref in [F.s0, F.s1, TaskRef(.student, 2)] { _ = run.handle(.task(ref, .completed), at: at(2000)) }
        #expect(run.phase == .completed)
        #expect(run.reason == "the student was distilled from 1 teacher on 3 replicas (2 at the start; student 2 joined on s3)")
    }

    @Test func fewerWorkersThanTheMinimumIsNotAPlacement() {
        var run = RunLifecycle(runID: "r1", teacherCount: 1, replicaCount: 3, elastic: ElasticPolicy(minReplicas: 3))
        _ = run.handle(.start, at: at(0))
        _ = run.handle(.placed(Placement(teacherWorkers: ["w1"], studentWorkers: ["s1", "s2", ""])), at: at(10))
        #expect(run.phase == .failed && run.reason.contains("student 2 has no worker name"))
        let candidates = [PlacementCandidate(name: "w1", roles: [.teacher], cores: 2, activeTasks: 0),
                          PlacementCandidate(name: "s1", roles: [.student], cores: 2, activeTasks: 0)]
        #expect(Placer.place(teachers: 1, replicas: 3, atLeast: 1, on: candidates)
            == .success(Placement(teacherWorkers: ["w1"], studentWorkers: ["s1", "", ""])))
        let refusal = Placer.place(teachers: 1, replicas: 3, atLeast: 2, on: candidates)
        #expect(refusal == .failure(.belowMinimumReplicas(minimum: 2, replicas: 3, available: ["s1"])))
        if case .failure(let r) = refusal {
            #expect(r.description == "the run's 3 student replicas may start on fewer workers, but on at least 2 "
                + "(elastic.min-replicas), each with the student role; only 1 is available (s1); start more workers with "
                + "--roles student or lower elastic.min-replicas in the run spec")
        }
        #expect(Placer.place(teachers: 1, replicas: 3, on: candidates) == .failure(.notEnoughStudentWorkers(replicas: 3, available: ["s1"])))
    }
}

/// Below `elastic.min-replicas` the run pauses (no new ring: its replicas stand
/// still) up to `elastic.wait-timeout` for workers to take the lost slots back.
@Suite struct RunLifecyclePausingTests {
    typealias F = RunFixture
    static let s2 = TaskRef(.student, 2)

    /// 3 replicas, min-replicas 3, 60 s wait; every replica past epoch 0; s2 lost at 10 s.
    static func paused() -> (RunLifecycle, [RunDirective]) {
        var run = RunLifecycle(runID: "r1", teacherCount: 1, replicaCount: 3, timeouts: RunTimeouts(growthLead: .zero),
                               elastic: ElasticPolicy(minReplicas: 3, waitTimeout: .seconds(60)), studentEpochs: 2)
        _ = run.handle(.start, at: at(0))
        _ = run.handle(.placed(Placement(teacherWorkers: ["w1"], studentWorkers: ["s1", "s2", "s3"])), at: at(10))
        for w in ["w1", "s1", "s2", "s3"] { _ = run.handle(.shardDelivered(worker: w), at: at(100)) }
        _ = run.handle(.task(F.t0, .completed), at: at(200))
        for ref in [F.s0, F.s1, s2] { _ = run.handle(.task(ref, .running(done: 12, total: 20)), at: at(5000)) }
        let directives = run.handle(.workerLost("s2"), at: at(10_000))
        return (run, directives)
    }

    @Test func theRunPausesAndGoesOnWhenAWorkerTakesTheSlotBack() {
        var (run, directives) = Self.paused()
        #expect(directives == [.noted("s2 was lost while distilling with student 1; 2 replicas are left, fewer than "
                                      + "elastic.min-replicas (3): the run pauses up to 60.0 s (elastic.wait-timeout) for student "
                                      + "workers to take the lost slots back")])
        #expect(run.phase == .distilling && run.pausedSince == at(10_000) && run.ringGeneration == 1, "no new ring")
        #expect(run.ringStallDeadline == nil && run.nextDeadline() == at(70_000))
        #expect(run.handle(.workersChanged, at: at(20_000)) == [.placeParts([F.s1])])
        _ = run.handle(.partsPlaced([F.s1: "s4"]), at: at(20_000))
        let resumed = run.handle(.shardDelivered(worker: "s4"), at: at(21_000))
        #expect(resumed.first == .ringChanged(RingMembership(generation: 2, members: ["s1", "s3", "s4"])!, why: "s4 took back student 1"))
        #expect(run.pausedSince == nil && run.nextDeadline() != at(70_000))
    }

    @Test func noWorkerWithinTheWaitFailsTheRunNamingTheLostNodes() {
        var (run, _) = Self.paused()
        _ = run.handle(.tick, at: at(69_999))
        #expect(run.phase == .distilling)
        _ = run.handle(.tick, at: at(70_000))
        #expect(run.phase == .failed)
        #expect(run.reason == "the run waited 60.0 s (elastic.wait-timeout) with 2 replica(s), fewer than elastic.min-replicas (3), "
            + "and no student worker took the lost slots back (lost: student 1 with s2); start student workers (--roles student) "
            + "and resubmit the run")
    }

    /// In epoch 0 the run pauses as well (its teacher streams on to whoever takes the slot);
    /// without a wait it fails at once.
    @Test func inEpochZeroTheRunPausesAndWithoutAWaitItFailsAtOnce() {
        func early(_ wait: Duration) -> RunLifecycle {
            var early = RunLifecycle(runID: "r1", teacherCount: 1, replicaCount: 2, timeouts: RunTimeouts(growthLead: .zero),
                                     elastic: ElasticPolicy(minReplicas: 2, waitTimeout: wait), studentEpochs: 2)
            _ = early.handle(.start, at: at(0))
            _ = early.handle(.placed(Placement(teacherWorkers: ["w1"], studentWorkers: ["s1", "s2"])), at: at(10))
            for w in ["w1", "s1", "s2"] { _ = early.handle(.shardDelivered(worker: w), at: at(100)) }
            _ = early.handle(.task(F.t0, .completed), at: at(200))
            for ref in [F.s0, F.s1] { _ = early.handle(.task(ref, .running(done: 3, total: 20)), at: at(5000)) }
            _ = early.handle(.workerLost("s2"), at: at(10_000))
            return early
        }
        var paused = early(.seconds(60))
        #expect(paused.phase == .distilling && paused.pausedSince == at(10_000), "\(paused.reason)")
        #expect(paused.handle(.workersChanged, at: at(20_000)) == [.placeParts([F.s1])])
        let failed = early(.zero)
        #expect(failed.phase == .failed && failed.reason.contains("fewer than elastic.min-replicas (2)"), "\(failed.reason)")
    }
}
