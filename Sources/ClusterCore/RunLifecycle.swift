// One run's state machine (DESIGN.md §4 "Instance / Shell / Directive"): the shell feeds it
// events stamped with the injected clock and performs the directives it returns. The phases'
// rules are in RunLifecycle+Placing, +Sharding, +Tasks, +Replacing, +Ending and +Deadlines.

/// One run's state machine. Pure: every change comes from `handle`, `now` is injected.
/// Terminal states never change again and always carry a reason.
///
/// Phases only move forward: pending → placing → sharding → preparingTeachers → distilling →
/// completed, and from any non-terminal phase to failed, cancelled or interrupted. An event
/// that does not fit the current state changes nothing and is answered with `.ignored`.
///
/// Losing a worker before distilling begins (sharding, preparingTeachers) is not fatal: its
/// parts become ``unplaced`` and are placed on other workers (or on the same one when it comes
/// back); parts on other workers keep their state. The run moves to distilling only when
/// every teacher is completed, every part is placed and every worker has its shard. A part
/// waiting longer than ``RunTimeouts/replacementWait`` fails the run. While distilling, an
/// elastic run (``elastic``) that loses a student replica goes on with the survivors in the
/// next ring generation (`RunLifecycle+Shrinking`); any other loss while distilling fails it.
/// Codable: every stored property is stored with it (a coordinator restart takes it back,
/// RunLifecycle+Recovery); one that is not Codable fails the build.
public struct RunLifecycle: Sendable, Equatable, Codable {
    public let runID: String
    public let teacherCount: Int
    public let replicaCount: Int
    public let timeouts: RunTimeouts
    /// Set: losing student replicas while distilling is absorbed (nil: it fails the run).
    public let elastic: ElasticPolicy?
    // The setters are internal (not private) only so that the phase files can set them;
    // outside the module they are read-only.
    public internal(set) var phase: RunPhase = .pending
    /// "" until there is one; always set when terminal.
    public internal(set) var reason: String = ""
    public internal(set) var placement: Placement?
    public internal(set) var tasks: [TaskRef: TaskProgress] = [:]
    /// Workers whose shard is delivered.
    public internal(set) var shardsDelivered: Set<String> = []
    /// While sharding: when each worker whose shard is not delivered yet last showed
    /// progress (or was sent its shard).
    public internal(set) var shardActivity: [String: ClockTime] = [:]

    /// Workers that were sent their shard and have not had it delivered yet.
    public var workersAwaitingShard: [String] { shardActivity.keys.sorted() }
    /// Parts whose worker was lost before distilling began and that no worker holds yet
    /// (their slot in ``placement`` is ""), with that worker and when it was lost.
    public internal(set) var unplaced: [TaskRef: LostPart] = [:]
    /// The ring of student replicas' generation: 1, plus one per change of its members.
    public internal(set) var ringGeneration: UInt64 = 1
    /// Replica slots lost while distilling (elastic runs), with the worker that held each,
    /// until a worker takes the slot back into the ring.
    public internal(set) var lostReplicas: [Int: LostPart] = [:]
    /// The ring's replica slots in rank order: 0 ..< replicaCount at first; a lost slot
    /// leaves, a slot taken back joins at the end (so rank 0 stays a replica that trained
    /// from the start while there is one).
    public internal(set) var ringOrder: [Int]
    /// Lost slots a worker is taking back, by that worker, while it receives the shard.
    public internal(set) var joining: [Int: String] = [:]
    /// Slots taken back whose replica has not reported a step yet: losing one loses no state
    /// (it is the ring's copy), so it only shrinks the ring again.
    public internal(set) var recruits: Set<Int> = []
    /// The replicas the ring started with (fewer than ``replicaCount`` when an elastic run was
    /// placed on fewer student workers, as `elastic.min-replicas` allows).
    public internal(set) var ringAtStart: Int
    /// Since when the run waits below `elastic.min-replicas` for workers to take lost slots
    /// back (its replicas stand still in their ring); nil when it does not.
    public internal(set) var pausedSince: ClockTime?
    /// Slots taken back while distilling, as "student 1 taken back by w4 (lost with w2)", in order.
    public internal(set) var rejoins: [String] = []
    /// The student's epochs (0: unknown): with them a lost teacher is known to be no longer
    /// needed once every replica has trained epoch 0 (elastic runs cache its targets).
    public let studentEpochs: Int
    /// Distilling: when a replica last reported a step done (or the ring last changed).
    var ringProgressAt: ClockTime?
    /// Distilling: a teacher placed again serves (it reported ready) and no replica has
    /// finished a step since — it is catching up, streaming (and, online, training) the steps it
    /// had served, which may take long. A stalled ring is renewed then as ever (a chunk may be
    /// lost meanwhile), but the renewal is not counted toward `elastic.max-restarts`
    /// (``excusedRenewals``), and the wait sets no pace. Optional, like ``excusedRenewals``, so
    /// that a snapshot stored before they existed decodes (nil: no, 0).
    var teacherCatchingUp: Bool?
    /// Stall renewals while a teacher caught up (``teacherCatchingUp``).
    var excusedRenewals: UInt64?
    /// The stream slot of each replica slot taken back while the teachers still stream (its
    /// `StudentTask.replica_slot`, and its entry in `TeacherTask.replicas`): a fresh number ≥
    /// ``replicaCount``, so that no credit the slot's lost replica sent can count for the
    /// newcomer. Absent: the slot itself. Optional so that a snapshot stored before it decodes.
    public internal(set) var streamSlots: [Int: Int]?
    /// The longest time per step seen between two progress reports (the stall window's pace).
    var slowestStep: Duration = .zero

    public init(runID: String, teacherCount: Int, replicaCount: Int, timeouts: RunTimeouts = RunTimeouts(),
                elastic: ElasticPolicy? = nil, studentEpochs: Int = 0) {
        self.studentEpochs = studentEpochs
        self.runID = runID
        self.teacherCount = teacherCount
        self.replicaCount = replicaCount
        self.ringOrder = Array(0..<max(0, replicaCount))
        self.ringAtStart = replicaCount
        self.timeouts = timeouts
        self.elastic = elastic
    }

    /// Applies `event` at `now` and returns what the shell must do.
    ///
    /// Rules: after a terminal phase every event (tick included) is `.ignored` and changes
    /// nothing; otherwise each event follows its phase's rules (see ``RunEvent``).
    public mutating func handle(_ event: RunEvent, at now: ClockTime) -> [RunDirective] {
        if phase.isTerminal {
            return ignore(event, "the run is already over (\(phase.rawValue): \(reason)) and never changes again")
        }
        switch event {
        case .start: return start(event)
        case .placed(let placement): return placed(placement, event, at: now)
        case .placementRefused(let text): return placementRefused(text, event)
        case .shardProgress(let worker): return shardProgress(from: worker, event, at: now)
        case .shardDelivered(let worker): return shardDelivered(by: worker, event, at: now)
        case .shardFailed(let worker, let why): return shardFailed(on: worker, because: why, event)
        case .task(let ref, let update): return taskUpdate(ref, update, event, at: now)
        case .workerLost(let worker): return workerLost(worker, event, at: now)
        case .partsPlaced(let placed): return partsPlaced(placed, event, at: now)
        case .workersChanged: return workersChanged(event)
        case .cancel(let why): return end(.cancelled, because: why.isEmpty ? "the run was cancelled without a reason" : why)
        case .interrupt(let why): return end(.interrupted, because: why.isEmpty ? "the run was interrupted without a reason" : why)
        case .tick: return tick(at: now)
        }
    }

    /// Workers that currently hold work of this run (placement workers while non-terminal).
    public var involvedWorkers: [String] {
        guard !phase.isTerminal, let placement else { return [] }
        return placement.workers
    }

    /// The answer to an event that does not fit: nothing changed, and `why` says so.
    func ignore(_ event: RunEvent, _ why: String) -> [RunDirective] {
        [.ignored("run \(runID) ignored the \(event.summary): \(why); nothing changed")]
    }

    /// "the run is sharding" style reason for events that belong to another phase.
    func notNow(_ expected: String) -> String {
        "\(expected), but the run is \(phase.text)"
    }
}
