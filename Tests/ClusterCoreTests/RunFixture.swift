@testable import ClusterCore

/// Run "r1": 2 teachers on w1 and w2, 2 student replicas on w3 and w1 (w1 holds teacher 0
/// and student 1). Happy-path times: start 0, placed 10, shards delivered 7000, teachers
/// completed 9000, students completed 12000.
enum RunFixture {
    static let placement = Placement(teacherWorkers: ["w1", "w2"], studentWorkers: ["w3", "w1"])
    static let workers = ["w1", "w2", "w3"]
    static let stopAll = RunDirective.stopWork(workers: workers)
    static let t0 = TaskRef(.teacher, 0), t1 = TaskRef(.teacher, 1)
    static let s0 = TaskRef(.student, 0), s1 = TaskRef(.student, 1)

    static func fresh() -> RunLifecycle {
        RunLifecycle(runID: "r1", teacherCount: 2, replicaCount: 2)
    }

    /// The fixture run driven to `phase`: along the happy path for the non-terminal phases and
    /// completed; failed by a student failure while distilling; cancelled while sharding;
    /// interrupted while preparing teachers.
    static func run(in phase: RunPhase) -> RunLifecycle {
        var run = fresh()
        let steps: [(RunEvent, UInt64)]
        switch phase {
        case .pending: steps = []
        case .placing: steps = [(.start, 0)]
        case .sharding: steps = [(.start, 0), (.placed(placement), 10)]
        case .preparingTeachers: steps = toSharding + workers.map { (.shardDelivered(worker: $0), 7000) }
        case .distilling: return distilling()
        case .completed:
            run = distilling()
            steps = [(.task(s0, .completed), 12_000), (.task(s1, .completed), 12_000)]
        case .failed:
            run = distilling()
            steps = [(.task(s0, .failed(reason: "out of memory")), 10_000)]
        case .cancelled: steps = toSharding + [(.cancel(reason: "cancelled by the user"), 500)]
        case .interrupted:
            steps = toSharding + workers.map { (.shardDelivered(worker: $0), 7000) }
                + [(.interrupt(reason: "the coordinator restarted"), 8000)]
        }
        for (event, ms) in steps {
            _ = run.handle(event, at: at(ms))
        }
        return run
    }

    static let toSharding: [(RunEvent, UInt64)] = [(.start, 0), (.placed(placement), 10)]

    private static func distilling() -> RunLifecycle {
        var run = run(in: .preparingTeachers)
        _ = run.handle(.task(t0, .completed), at: at(9000))
        _ = run.handle(.task(t1, .completed), at: at(9000))
        return run
    }

    static let nonTerminal: [RunPhase] = [.pending, .placing, .sharding, .preparingTeachers, .distilling]
    static let terminal: [RunPhase] = [.completed, .failed, .cancelled, .interrupted]

    /// One event of every kind (and every task update).
    static let everyKind: [RunEvent] = [
        .start, .placed(placement), .placementRefused("no workers"), .shardProgress(worker: "w1"),
        .shardDelivered(worker: "w1"), .shardFailed(worker: "w1", reason: "disk full"), .task(t0, .accepted),
        .task(t0, .running(done: 1, total: 2)), .task(s1, .completed), .task(t1, .failed(reason: "crash")),
        .workerLost("w1"), .cancel(reason: "stop"), .interrupt(reason: "restart"), .tick,
    ]
}

extension RunDirective {
    /// The text of an `.ignored` directive, nil for other directives.
    var ignoredText: String? {
        if case .ignored(let text) = self { return text }
        return nil
    }

    /// The reason of a `.ringChanged`, nil for other directives.
    var ringChangedText: String? {
        if case .ringChanged(_, let why) = self { return why }
        return nil
    }

    /// The worker of a `.sendShard`, nil for other directives.
    var shardWorker: String? {
        if case .sendShard(let worker) = self { return worker }
        return nil
    }

    /// The task and worker of an `.assign`, nil for other directives.
    var assignment: (TaskRef, String)? {
        if case .assign(let ref, let worker) = self { return (ref, worker) }
        return nil
    }

    /// The workers of a `.stopWork`, nil for other directives.
    var stoppedWorkers: [String]? {
        if case .stopWork(let workers) = self { return workers }
        return nil
    }
}
