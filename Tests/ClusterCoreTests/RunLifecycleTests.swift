import Testing
@testable import ClusterCore

/// The happy path, step by step, with the directives at each step.
@Suite struct RunLifecycleTests {
    typealias F = RunFixture

    @Test func startsPendingWithNothing() {
        let run = RunLifecycle(runID: "r9", teacherCount: 3, replicaCount: 2,
                               timeouts: RunTimeouts(taskAcceptance: .seconds(4), shardStall: .seconds(6)))
        #expect(run.runID == "r9")
        #expect(run.teacherCount == 3)
        #expect(run.replicaCount == 2)
        #expect(run.timeouts == RunTimeouts(taskAcceptance: .seconds(4), shardStall: .seconds(6)))
        #expect(run.phase == .pending)
        #expect(run.reason == "")
        #expect(run.placement == nil)
        #expect(run.tasks.isEmpty)
        #expect(run.shardsDelivered.isEmpty)
        #expect(run.involvedWorkers == [])
        #expect(run.nextDeadline() == nil)
        #expect(run.phaseProgress == (0, 0))
        #expect(RunTimeouts() == RunTimeouts(taskAcceptance: .seconds(10), shardStall: .seconds(30)))
    }

    @Test func happyPathStepByStep() {
        var run = F.fresh()

        #expect(run.handle(.start, at: at(0)) == [.place])
        #expect(run.phase == .placing)
        #expect(run.nextDeadline() == nil)
        #expect(run.involvedWorkers == [])

        #expect(run.handle(.placed(F.placement), at: at(10))
            == [.sendShard(worker: "w1"), .sendShard(worker: "w2"), .sendShard(worker: "w3")])
        #expect(run.phase == .sharding)
        #expect(run.placement == F.placement)
        #expect(run.involvedWorkers == F.workers)
        #expect(run.nextDeadline() == at(30_010))
        #expect(run.phaseProgress == (0, 3))

        #expect(run.handle(.shardProgress(worker: "w2"), at: at(5000)) == [])
        #expect(run.nextDeadline() == at(30_010))
        #expect(run.handle(.shardDelivered(worker: "w1"), at: at(6000)) == [])
        #expect(run.handle(.shardDelivered(worker: "w3"), at: at(6500)) == [])
        #expect(run.shardsDelivered == ["w1", "w3"])
        #expect(run.phaseProgress == (2, 3))
        #expect(run.nextDeadline() == at(35_000))  // only w2 left, progress at 5000

        #expect(run.handle(.shardDelivered(worker: "w2"), at: at(7000))
            == [.assign(F.t0, worker: "w1"), .assign(F.t1, worker: "w2")])
        #expect(run.phase == .preparingTeachers)
        #expect(run.tasks.count == 2)
        #expect(run.tasks[F.t1] == TaskProgress(ref: F.t1, worker: "w2", state: .assigned, done: 0, total: 0,
                                                assignedAt: at(7000), reason: ""))
        #expect(run.nextDeadline() == at(17_000))
        #expect(run.phaseProgress == (0, 2))

        #expect(run.handle(.task(F.t0, .accepted), at: at(7100)) == [])
        #expect(run.tasks[F.t0]?.state == .accepted)
        #expect(run.nextDeadline() == at(17_000))  // teacher 1 still waits
        #expect(run.handle(.task(F.t1, .running(done: 3, total: 10)), at: at(7200)) == [])
        #expect(run.tasks[F.t1]?.state == .running)
        #expect(run.nextDeadline() == nil)
        #expect(run.phaseProgress == (0, 2))  // teacher 0's total is unknown
        #expect(run.handle(.task(F.t0, .running(done: 5, total: 10)), at: at(7300)) == [])
        #expect(run.phaseProgress == (8, 20))
        #expect(run.handle(.task(F.t0, .completed), at: at(8000)) == [])
        #expect(run.tasks[F.t0]?.done == 10)
        #expect(run.phaseProgress == (13, 20))
        #expect(run.phase == .preparingTeachers)

        #expect(run.handle(.task(F.t1, .completed), at: at(9000))
            == [.assign(F.s0, worker: "w3"), .assign(F.s1, worker: "w1")])
        #expect(run.phase == .distilling)
        #expect(run.tasks.count == 4)
        #expect(run.tasks[F.s1]?.assignedAt == at(9000))
        #expect(run.nextDeadline() == at(19_000))
        #expect(run.phaseProgress == (0, 2))
        #expect(run.involvedWorkers == F.workers)

        #expect(run.handle(.task(F.s0, .running(done: 50, total: 100)), at: at(9500)) == [])
        #expect(run.handle(.task(F.s1, .running(done: 25, total: 100)), at: at(9600)) == [])
        #expect(run.phaseProgress == (75, 200))
        #expect(run.handle(.task(F.s0, .completed), at: at(11_000)) == [])
        #expect(run.phaseProgress == (125, 200))
        #expect(run.phase == .distilling)
        #expect(run.reason == "")

        #expect(run.handle(.task(F.s1, .completed), at: at(12_000)) == [])
        #expect(run.phase == .completed)
        #expect(run.reason == "the student was distilled from 2 teachers on 2 replicas")
        #expect(run.involvedWorkers == [])
        #expect(run.nextDeadline() == nil)
        #expect(run.phaseProgress == (0, 0))
        #expect(run.tasks.values.allSatisfy { $0.state == .completed })
        #expect(run.placement == F.placement)
    }

    @Test func smallestRunOnOneWorker() {
        var run = RunLifecycle(runID: "tiny", teacherCount: 1, replicaCount: 1)
        #expect(run.handle(.start, at: at(0)) == [.place])
        #expect(run.handle(.placed(Placement(teacherWorkers: ["solo"], studentWorkers: ["solo"])), at: at(1))
            == [.sendShard(worker: "solo")])
        #expect(run.handle(.shardDelivered(worker: "solo"), at: at(2)) == [.assign(TaskRef(.teacher, 0), worker: "solo")])
        #expect(run.handle(.task(TaskRef(.teacher, 0), .completed), at: at(3))
            == [.assign(TaskRef(.student, 0), worker: "solo")])
        #expect(run.handle(.task(TaskRef(.student, 0), .completed), at: at(4)) == [])
        #expect(run.phase == .completed)
        #expect(run.reason == "the student was distilled from 1 teacher on 1 replica")
    }

    @Test func tasksMaySkipStates() {
        var run = F.run(in: .preparingTeachers)
        #expect(run.handle(.task(F.t0, .completed), at: at(7100)) == [])
        #expect(run.tasks[F.t0]?.state == .completed)
        #expect(run.tasks[F.t0]?.done == 0)  // total never known
        #expect(run.handle(.task(F.t1, .running(done: 1, total: 4)), at: at(7200)) == [])
        #expect(run.handle(.task(F.t1, .running(done: 2, total: 4)), at: at(7300)) == [])
        #expect(run.tasks[F.t1]?.done == 2)
        #expect(run.handle(.task(F.t1, .completed), at: at(7400)).count == 2)
        #expect(run.phase == .distilling)
    }

    @Test func shardsMayArriveInAnyOrder() {
        for order in [["w3", "w2", "w1"], ["w2", "w1", "w3"], ["w1", "w3", "w2"]] {
            var run = F.run(in: .sharding)
            for worker in order.dropLast() {
                #expect(run.handle(.shardDelivered(worker: worker), at: at(100)) == [])
                #expect(run.phase == .sharding)
            }
            #expect(run.handle(.shardDelivered(worker: order.last!), at: at(100)).count == 2)
            #expect(run.phase == .preparingTeachers)
        }
    }

    @Test func phasesHaveTheirNames() {
        #expect(RunPhase.preparingTeachers.rawValue == "preparing-teachers")
        #expect(RunPhase.allCases.filter(\.isTerminal) == [.completed, .failed, .cancelled, .interrupted])
        #expect(RunPhase.allCases.map(\.step) == [0, 1, 2, 3, 4, 5, 5, 5, 5])
    }
}
