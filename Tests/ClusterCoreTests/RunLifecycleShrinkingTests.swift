@testable import ClusterCore
import Foundation
import Testing

/// While distilling, an elastic run that loses a student replica goes on with the survivors
/// in the next ring generation; what it cannot absorb fails it with a reason.
@Suite struct RunLifecycleShrinkingTests {
    typealias F = RunFixture
    static let teachers = ["w1", "w2"]
    static let students = ["s1", "s2", "s3"]

    /// 2 teachers on w1, w2; 3 replicas on s1, s2, s3; distilling since 9000 ms.
    static func distilling(minReplicas: Int = 1, maxRestarts: Int = 10, studentEpochs: Int = 0,
                           lostTeachers: ElasticPolicy.LostTeachers = .streamAgain) -> RunLifecycle {
        var run = RunLifecycle(runID: "r1", teacherCount: 2, replicaCount: 3,
                               elastic: ElasticPolicy(minReplicas: minReplicas, maxRestarts: maxRestarts,
                                                      lostTeachers: lostTeachers),
                               studentEpochs: studentEpochs)
        _ = run.handle(.start, at: at(0))
        _ = run.handle(.placed(Placement(teacherWorkers: teachers, studentWorkers: students)), at: at(10))
        for w in teachers + students { _ = run.handle(.shardDelivered(worker: w), at: at(7000)) }
        _ = run.handle(.task(F.t0, .completed), at: at(9000))
        _ = run.handle(.task(F.t1, .completed), at: at(9000))
        return run
    }

    static let s2 = TaskRef(.student, 2)

    @Test func aLostReplicaMakesTheNextRingGenerationOfTheSurvivors() {
        var run = Self.distilling()
        #expect(run.phase == .distilling)
        #expect(run.ring == RingMembership(generation: 1, members: Self.students))
        let directives = run.handle(.workerLost("s2"), at: at(9500))
        let ring = RingMembership(generation: 2, members: ["s1", "s3"])!
        #expect(directives == [.ringChanged(ring, why: "s2 was lost while distilling"), .refreshPeers(F.s0, worker: "s1"), .refreshPeers(Self.s2, worker: "s3"),
                               .refreshPeers(F.t0, worker: "w1"), .refreshPeers(F.t1, worker: "w2")])
        #expect(run.phase == .distilling)
        #expect(run.ring == ring && run.ringGeneration == 2)
        #expect(run.activeSlots == [0, 2])
        #expect(run.lostReplicas[1] == LostPart(worker: "s2", since: at(9500)))
        #expect(run.involvedWorkers == ["w1", "w2", "s1", "s3"])
        // The lost replica's late report is not news; the survivors' completion completes the run.
        #expect(run.handle(.task(F.s1, .failed(reason: "ring timed out")), at: at(9600)).first?.ignoredText != nil)
        _ = run.handle(.task(F.s0, .completed), at: at(12_000))
        #expect(run.phase == .distilling)
        _ = run.handle(.task(Self.s2, .completed), at: at(12_000))
        #expect(run.phase == .completed)
        #expect(run.reason == "the student was distilled from 2 teachers on 2 replicas (3 at the start; lost student 1 with s2)")
    }

    @Test func twoLossesMakeTwoGenerationsAndRankZeroMoves() {
        var run = Self.distilling()
        _ = run.handle(.workerLost("s1"), at: at(9500))
        let directives = run.handle(.workerLost("s3"), at: at(9700))
        #expect(directives.first == .ringChanged(RingMembership(generation: 3, members: ["s2"])!, why: "s3 was lost while distilling"))
        #expect(directives.contains(.refreshPeers(F.s1, worker: "s2")))
        #expect(run.activeSlots == [1])
        _ = run.handle(.task(F.s1, .completed), at: at(12_000))
        #expect(run.phase == .completed)
    }

    @Test func belowTheMinimumTheRunFailsNamingTheLostWorker() {
        // A teacher worker lost in epoch 0 leaves its teacher being placed again: no slot can be
        // taken back meanwhile (a joiner would need every teacher's stream), so no pause.
        var run = Self.distilling(minReplicas: 3)
        _ = run.handle(.workerLost("w1"), at: at(9400))
        #expect(!run.unplaced.isEmpty && run.phase == .distilling)
        #expect(run.handle(.workerLost("s3"), at: at(9500)) == [.stopWork(workers: ["w2", "s1", "s2"])])
        #expect(run.phase == .failed)
        #expect(run.reason == "worker s3 was lost while distilling with student 2; 2 replicas are left, fewer than "
            + "elastic.min-replicas (3): start student workers and resubmit the run")
    }

    @Test func losingAReplicaThatHadCompletedChangesNoRing() {
        var run = Self.distilling()
        _ = run.handle(.task(F.s1, .completed), at: at(11_000))
        #expect(run.handle(.workerLost("s2"), at: at(11_500)) == [])
        #expect(run.ringGeneration == 1)
        _ = run.handle(.task(F.s0, .completed), at: at(12_000))
        _ = run.handle(.task(Self.s2, .completed), at: at(12_000))
        #expect(run.phase == .completed)
    }

    @Test func losingRankZeroAfterTheOthersFinishedFailsTheRun() {
        var run = Self.distilling()
        _ = run.handle(.task(F.s1, .completed), at: at(11_000))
        _ = run.handle(.task(Self.s2, .completed), at: at(11_000))
        _ = run.handle(.workerLost("s1"), at: at(11_500))
        #expect(run.phase == .failed)
        #expect(run.reason == "worker s1 was lost with student 0 after training, before the student was stored: resubmit the run")
    }

    /// In epoch 0 the replicas still need the teacher's logits: it is placed on another teacher
    /// worker (RunLifecycle+TeacherReplacing), which streams again from its stored checkpoint.
    @Test func aTeacherLostInEpochZeroIsPlacedAgainAndTheReplicasFollowIt() {
        var run = Self.distilling()
        for slot in 0..<3 { _ = run.handle(.task(TaskRef(.student, slot), .running(done: 3, total: 100)), at: at(9400)) }
        let directives = run.handle(.workerLost("w2"), at: at(9500))
        #expect(directives == [.noted("w2 was lost with teacher 1 while the replicas still need its logits (epoch 0): placing it "
                                      + "on another teacher worker, which streams again from its stored checkpoint"),
                               .refreshPeers(F.s0, worker: "s1"), .refreshPeers(F.s1, worker: "s2"), .refreshPeers(Self.s2, worker: "s3"),
                               .placeParts([F.t1])])
        #expect(run.phase == .distilling && run.unplaced[F.t1]?.worker == "w2" && run.placement?.teacherWorkers == ["w1", ""])
        #expect(run.ringStallDeadline == nil, "replicas waiting for a teacher are not a stalled ring")
        #expect(run.nextDeadline() == at(9500) + run.timeouts.replacementWait)
        #expect(run.handle(.workersChanged, at: at(9600)) == [.placeParts([F.t1])])
        // w1 has the shard: the teacher's task goes there at once, and the replicas learn where it is.
        #expect(run.handle(.partsPlaced([F.t1: "w1"]), at: at(9700))
            == [.assign(F.t1, worker: "w1"), .refreshPeers(F.s0, worker: "s1"), .refreshPeers(F.s1, worker: "s2"),
                .refreshPeers(Self.s2, worker: "s3")])
        #expect(run.ringStallDeadline == nil, "until it serves")
        _ = run.handle(.task(F.t1, .completed), at: at(12_000))
        #expect(run.ringStallDeadline?.at == at(22_000), "the stall window starts when it serves")
        // It streams again the steps it had served first: a stall meanwhile renews the ring (a
        // chunk may have been lost), but that renewal is not counted toward max-restarts.
        let renewal = run.handle(.tick, at: at(22_000))
        #expect(renewal.first?.ringChangedText?.contains("while a teacher placed again catches up") == true, "\(renewal)")
        #expect(run.ringGeneration == 2 && run.ringChanges == 0)
        _ = run.handle(.task(F.s0, .running(done: 4, total: 100)), at: at(70_000))
        #expect(run.ringStallDeadline?.at == at(80_000), "the stall window starts at the replicas' next step")
        _ = run.handle(.task(F.s0, .running(done: 5, total: 100)), at: at(70_500))
        #expect(run.ringStallDeadline?.at == at(80_500), "the wait for the teacher sets no pace")
        for slot in 0..<3 { _ = run.handle(.task(TaskRef(.student, slot), .completed), at: at(13_000)) }
        #expect(run.phase == .completed)
    }

    @Test func aTeacherPlacedOnAWorkerWithoutTheShardGetsItFirst() {
        var run = Self.distilling()
        _ = run.handle(.workerLost("w2"), at: at(9500))
        #expect(run.handle(.partsPlaced([F.t1: "w9"]), at: at(9700)) == [.sendShard(worker: "w9")])
        let directives = run.handle(.shardDelivered(worker: "w9"), at: at(9800))
        #expect(directives.first == .assign(F.t1, worker: "w9") && directives.count == 4)
        // Nobody takes it: the run fails after the replacement wait, naming it.
        var waiting = Self.distilling()
        for slot in 0..<3 { _ = waiting.handle(.task(TaskRef(.student, slot), .running(done: 3, total: 100)), at: at(9400)) }
        _ = waiting.handle(.workerLost("w2"), at: at(9500))
        _ = waiting.handle(.tick, at: at(9500) + waiting.timeouts.replacementWait)
        #expect(waiting.phase == .failed && waiting.reason.contains("teacher 1 (lost with w2)"), "\(waiting.reason)")
    }

    /// An online run places a lost teacher again, to train through its steps again; with a
    /// mutual term the other teachers serving are sent their peers too (the lost one's endpoint
    /// "" until it is placed, then its new one), and they are stopped when the run completes
    /// (they stay to answer a peer placed again until then). A policy stored before
    /// `lostTeachers` existed reads as an offline run's, one stored as `failRun` (before 0.10)
    /// as a mutual one's.
    @Test func anOnlineRunShrinksItsRingAndPlacesALostTeacherAgainWithItsPeersToldWhereItIs() throws {
        var run = Self.distilling(lostTeachers: .trainAgainWithPeers)
        #expect(run.handle(.workerLost("s2"), at: at(9500)).first
                == .ringChanged(RingMembership(generation: 2, members: ["s1", "s3"])!, why: "s2 was lost while distilling"))
        let directives = run.handle(.workerLost("w2"), at: at(9700))
        #expect(run.phase == .distilling && run.unplaced[F.t1]?.worker == "w2")
        #expect(directives == [
            .noted("w2 was lost with teacher 1 while the replicas still need its logits (an online run with a mutual term): "
                + "placing it on another teacher worker, which loads its last stored state and trains again through the steps it "
                + "had served since, on the other teachers' logits of those steps"),
            .refreshPeers(F.s0, worker: "s1"), .refreshPeers(Self.s2, worker: "s3"), .refreshPeers(F.t0, worker: "w1"),
            .placeParts([F.t1])])
        #expect(run.handle(.partsPlaced([F.t1: "w1"]), at: at(9800))
                == [.assign(F.t1, worker: "w1"), .refreshPeers(F.s0, worker: "s1"), .refreshPeers(Self.s2, worker: "s3"),
                    .refreshPeers(F.t0, worker: "w1")])
        _ = run.handle(.task(F.t1, .completed), at: at(9900))
        _ = run.handle(.task(F.s0, .completed), at: at(9950))
        #expect(run.handle(.task(Self.s2, .completed), at: at(9960)) == [.stopWork(workers: ["w1"])])
        #expect(run.phase == .completed, "\(run.reason)")

        var plain = Self.distilling(lostTeachers: .trainAgain)
        let placing = plain.handle(.workerLost("w2"), at: at(9700))
        #expect(plain.phase == .distilling && plain.unplaced[F.t1]?.worker == "w2")
        #expect(placing.first == .noted("w2 was lost with teacher 1 while the replicas still need its logits (an online run): "
            + "placing it on another teacher worker, which loads its stored checkpoint and trains again through the steps it had served"))
        #expect(!placing.contains(.refreshPeers(F.t0, worker: "w1")), "without a mutual term a teacher needs no peer")
        #expect(placing.last == .placeParts([F.t1]))
        // Below min-replicas an online run pauses while a replica that trained is left to give a
        // joiner the ring's state; losing the last one fails it.
        var paused = Self.distilling(minReplicas: 3, lostTeachers: .trainAgain)
        _ = paused.handle(.workerLost("s2"), at: at(9500))
        #expect(paused.phase == .distilling && paused.pausedSince == at(9500))
        var emptied = Self.distilling(minReplicas: 1, lostTeachers: .trainAgain)
        for w in ["s1", "s2", "s3"] { _ = emptied.handle(.workerLost(w), at: at(9500)) }
        #expect(emptied.phase == .failed && emptied.reason.contains("fewer than elastic.min-replicas"), "\(emptied.reason)")
        var stored = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(
            ElasticPolicy(minReplicas: 2, maxRestarts: 3, waitTimeout: .seconds(60), lostTeachers: .trainAgainWithPeers))) as? [String: Any])
        #expect(stored["lostTeachers"] as? String == "trainAgainWithPeers")
        stored["lostTeachers"] = "failRun"
        let mutual = try JSONDecoder().decode(ElasticPolicy.self, from: JSONSerialization.data(withJSONObject: stored))
        #expect(mutual.lostTeachers == .trainAgainWithPeers)
        stored["lostTeachers"] = "somethingElse"
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(ElasticPolicy.self, from: JSONSerialization.data(withJSONObject: stored)) }
        stored.removeValue(forKey: "lostTeachers")
        let policy = try JSONDecoder().decode(ElasticPolicy.self, from: JSONSerialization.data(withJSONObject: stored))
        #expect(policy == ElasticPolicy(minReplicas: 2, maxRestarts: 3, waitTimeout: .seconds(60), lostTeachers: .streamAgain))
        let online = ElasticPolicy(lostTeachers: .trainAgain)
        #expect(try JSONDecoder().decode(ElasticPolicy.self, from: JSONEncoder().encode(online)) == online)
    }

    @Test func aRunThatIsNotElasticFailsAsBefore() {
        var run = RunFixture.run(in: .distilling)
        #expect(run.elastic == nil)
        _ = run.handle(.workerLost("w3"), at: at(9999))
        #expect(run.phase == .failed)
    }

    /// A ring whose replicas all stay alive but finish no step (a gradient chunk lost when a
    /// connection dropped and came back) is renewed: the next generation, same members.
    @Test func aRingThatMakesNoProgressIsRenewedWithTheSameMembers() {
        var run = Self.distilling()
        for slot in 0..<3 { _ = run.handle(.task(TaskRef(.student, slot), .running(done: 1, total: 100)), at: at(9500)) }
        #expect(run.nextDeadline() == at(19_500))
        #expect(run.handle(.tick, at: at(19_499)) == [])
        let directives = run.handle(.tick, at: at(19_500))
        let ring = RingMembership(generation: 2, members: Self.students)!
        #expect(directives == [.ringChanged(ring, why: "no replica finished a step for 10.0 s (a message lost on a dropped "
                                                + "connection, or a stuck replica)"),
                               .refreshPeers(F.s0, worker: "s1"), .refreshPeers(F.s1, worker: "s2"), .refreshPeers(Self.s2, worker: "s3")])
        #expect(run.phase == .distilling && run.ring == ring)
        #expect(run.nextDeadline() == at(29_500))
    }

    /// Slow steps widen the window (5 steps at the slowest pace seen), so a slow ring is not
    /// taken for a stalled one; a replica that has reported its last step no longer counts.
    @Test func theStallWindowFollowsThePaceAndIgnoresFinishedReplicas() {
        var run = Self.distilling()
        for slot in 0..<3 { _ = run.handle(.task(TaskRef(.student, slot), .accepted), at: at(9100)) }
        _ = run.handle(.task(F.s0, .running(done: 1, total: 3)), at: at(10_000))
        _ = run.handle(.task(F.s0, .running(done: 2, total: 3)), at: at(14_000))  // 4 s per step
        #expect(run.nextDeadline() == at(34_000))
        _ = run.handle(.task(F.s0, .running(done: 3, total: 3)), at: at(18_000))
        _ = run.handle(.task(F.s1, .running(done: 3, total: 3)), at: at(18_000))
        #expect(run.nextDeadline() == nil, "one replica still training is no ring to renew")
    }

    /// `elastic.max-restarts` bounds the ring changes: the one after the last allowed fails the run.
    @Test func theRingChangesAtMostMaxRestartsTimes() {
        var run = Self.distilling(maxRestarts: 1)
        for slot in 0..<3 { _ = run.handle(.task(TaskRef(.student, slot), .running(done: 1, total: 100)), at: at(9500)) }
        _ = run.handle(.tick, at: at(19_500))
        #expect(run.ringGeneration == 2 && run.phase == .distilling)
        _ = run.handle(.workerLost("s3"), at: at(20_000))
        #expect(run.phase == .failed)
        #expect(run.reason == "s3 was lost while distilling with student 2, and the ring has already changed 1 time(s), "
            + "elastic.max-restarts: look for the cause in `distillery logs r1` (events `ring`), then resubmit the run")
    }

    /// Once every replica has trained epoch 0 the teachers are no longer needed (the replicas
    /// cache its targets): losing a teacher's worker then changes nothing; before, the teacher
    /// is placed again.
    @Test func aTeacherLostAfterEpochZeroIsNotNeeded() {
        var early = Self.distilling(studentEpochs: 3)
        for slot in 0..<3 { _ = early.handle(.task(TaskRef(.student, slot), .running(done: 9, total: 30)), at: at(9500)) }
        #expect(early.handle(.workerLost("w2"), at: at(9600)).last == .placeParts([F.t1]),
                "replicas at step 9 of 10 in epoch 0 still need teacher 1")

        var run = Self.distilling(studentEpochs: 3)
        for slot in 0..<3 { _ = run.handle(.task(TaskRef(.student, slot), .running(done: 10, total: 30)), at: at(9500)) }
        #expect(run.handle(.workerLost("w2"), at: at(9600)) == [.noted("w2 was lost with teacher 1 after epoch 0: the replicas "
                                                                       + "train on from their cached targets and need no teacher")])
        #expect(run.phase == .distilling && run.involvedWorkers == ["w1", "s1", "s2", "s3"])
        // A replica lost later does not refresh the lost teacher.
        let directives = run.handle(.workerLost("s3"), at: at(9700))
        #expect(!directives.contains(.refreshPeers(F.t1, worker: "w2")) && directives.contains(.refreshPeers(F.t0, worker: "w1")))
        for slot in 0..<2 { _ = run.handle(.task(TaskRef(.student, slot), .completed), at: at(12_000)) }
        #expect(run.phase == .completed)
    }
}
