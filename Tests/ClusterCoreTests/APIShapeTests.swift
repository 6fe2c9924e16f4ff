import Testing
import ClusterCore

/// The public API the runtime codes against (issue 4's ClusterCore-API.swift), spelled out
/// with its exact types, without `@testable`: this file stops compiling when a public name or
/// signature drifts.
@Suite struct APIShapeTests {
    @Test func signaturesMatchTheContract() {
        let add: (ClockTime, Duration) -> ClockTime = (+)
        let subtract: (ClockTime, ClockTime) -> Duration = (-)
        #expect(subtract(add(ClockTime(milliseconds: 5), .seconds(1)), ClockTime(milliseconds: 5)) == .seconds(1))

        var membership = Membership(settings: LivenessSettings(heartbeatInterval: .seconds(1), suspectAfter: .seconds(2),
                                                               deadAfter: .seconds(5)))
        let settings: LivenessSettings = membership.settings
        let problem: String? = settings.problem
        let info = WorkerInfo(name: "w", roles: [.teacher], dataEndpoint: "tcp://w:1", cores: 1, memoryBytes: 1, version: "0.4.0")
        let joined: [MembershipEvent] = membership.register(info, at: ClockTime(milliseconds: 0))
        let heard: Bool = membership.heard(from: "w", at: ClockTime(milliseconds: 1))
        let beat: [MembershipEvent] = membership.heartbeat(from: "w", load: WorkerLoad(cpuPercent: 1, rssBytes: 2, currentTask: ""),
                                                           at: ClockTime(milliseconds: 2))
        let ticked: [MembershipEvent] = membership.tick(at: ClockTime(milliseconds: 3))
        let deadline: ClockTime? = membership.nextDeadline()
        let members: [Member] = membership.members
        let member: Member? = membership.member("w")
        let available: [Member] = membership.available(withRole: .teacher)
        let left: [MembershipEvent] = membership.deregister("w", reason: "bye", at: ClockTime(milliseconds: 4))
        let fields: (WorkerInfo, String, Liveness, ClockTime, ClockTime, WorkerLoad, String)? = member.map {
            ($0.info, $0.name, $0.liveness, $0.lastHeard, $0.joinedAt, $0.load, $0.reason)
        }
        #expect(problem == nil && joined == [.joined("w")] && heard && beat.isEmpty && ticked.isEmpty)
        #expect(deadline != nil && members.count == 1 && available.count == 1 && left.count == 1 && fields != nil)
        #expect(Liveness.allCases.map(\.rawValue) == ["alive", "suspect", "dead", "left"])
        #expect(WorkerRole.allCases == [.teacher, .student] && WorkerRole.teacher < .student)
        let events: [MembershipEvent] = [.joined("a"), .rejoined("a", previously: .dead), .suspected("a", silentFor: .seconds(2)),
                                         .recovered("a"), .died("a", silentFor: .seconds(5)), .left("a", reason: "r")]
        #expect(events.count == 6)

        let incompatibility: String? = VersionPolicy.incompatibility(worker: "0.4.0", coordinator: "0.4.1")
        #expect(incompatibility == nil)

        let candidate = PlacementCandidate(name: "w", roles: [.teacher, .student], cores: 2, activeTasks: 0)
        let placed: Result<Placement, PlacementRefusal> = Placer.place(teachers: 1, replicas: 1, on: [candidate])
        let placement = Placement(teacherWorkers: ["w"], studentWorkers: ["w"])
        #expect(placed == .success(placement) && placement.workers == ["w"])
        let refusals: [PlacementRefusal] = [.noTeacherWorkers(teachers: 1), .notEnoughStudentWorkers(replicas: 2, available: []),
                                            .nothingToPlace]
        let error: any Error = refusals[0]
        #expect(!refusals.map(\.description).contains("") && error is PlacementRefusal)

        var run = RunLifecycle(runID: "r", teacherCount: 1, replicaCount: 1,
                               timeouts: RunTimeouts(taskAcceptance: .seconds(10), shardStall: .seconds(30)))
        let directives: [RunDirective] = run.handle(.start, at: ClockTime(milliseconds: 0))
        let state: (String, Int, Int, RunTimeouts, RunPhase, String, Placement?, [TaskRef: TaskProgress], Set<String>) =
            (run.runID, run.teacherCount, run.replicaCount, run.timeouts, run.phase, run.reason, run.placement, run.tasks,
             run.shardsDelivered)
        let progress: (done: UInt64, total: UInt64) = run.phaseProgress
        let involved: [String] = run.involvedWorkers
        let runDeadline: ClockTime? = run.nextDeadline()
        #expect(directives == [.place] && state.4 == .placing && progress == (0, 0) && involved.isEmpty && runDeadline == nil)
        let allEvents: [RunEvent] = [.start, .placed(placement), .placementRefused("x"), .shardProgress(worker: "w"),
                                     .shardDelivered(worker: "w"), .shardFailed(worker: "w", reason: "x"),
                                     .task(TaskRef(.teacher, 0), .accepted), .task(TaskRef(.student, 0), .running(done: 1, total: 2)),
                                     .task(TaskRef(.student, 0), .completed), .task(TaskRef(.student, 0), .failed(reason: "x")),
                                     .workerLost("w"), .cancel(reason: "x"), .interrupt(reason: "x"), .tick,
                                     .partsPlaced([TaskRef(.student, 0): "w"]), .workersChanged]
        let allDirectives: [RunDirective] = [.place, .sendShard(worker: "w"), .assign(TaskRef(.teacher, 0), worker: "w"),
                                             .stopWork(workers: ["w"]), .ignored("x"), .placeParts([TaskRef(.student, 0)]),
                                             .refreshPeers(TaskRef(.teacher, 0), worker: "w")]
        #expect(allEvents.count == 16 && allDirectives.count == 7)
        let waiting: [TaskRef: LostPart] = run.unplaced
        let wait: Duration = RunTimeouts(replacementWait: .seconds(1)).replacementWait
        let replaced: [TaskRef: String] = Placer.replace([TaskRef(.student, 0)], in: placement, on: [candidate])
        #expect(waiting.isEmpty && wait == .seconds(1) && RunTimeouts().replacementWait == .seconds(300)
            && replaced.isEmpty && !run.awaitsShard(from: "w") && LostPart(worker: "w", since: ClockTime(milliseconds: 1)).worker == "w")
        let ref: TaskRef? = TaskRef.parse(TaskRef(.student, 1).id(runID: "r"), runID: "r")
        #expect(ref == TaskRef(.student, 1) && ref?.kind == .student && ref?.index == 1)
        let phases: [TaskPhase] = [.assigned, .accepted, .running, .completed, .failed]
        #expect(phases.map(\.rawValue) == ["assigned", "accepted", "running", "completed", "failed"])
        #expect(TaskKind.teacher.rawValue == "teacher" && RunPhase.distilling.isTerminal == false)
        _ = run.handle(.placed(placement), at: ClockTime(milliseconds: 1))
        _ = run.handle(.shardDelivered(worker: "w"), at: ClockTime(milliseconds: 2))
        let task: TaskProgress? = run.tasks[TaskRef(.teacher, 0)]
        let taskFields: (TaskRef, String, TaskPhase, UInt64, UInt64, ClockTime, String)? = task.map {
            ($0.ref, $0.worker, $0.state, $0.done, $0.total, $0.assignedAt, $0.reason)
        }
        #expect(taskFields?.1 == "w" && taskFields?.2 == .assigned && taskFields?.5 == ClockTime(milliseconds: 2))
    }
}
