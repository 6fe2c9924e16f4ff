// What a run's state machine hears (events) and what it asks the shell to do (directives).

/// Something that happened to a run; the shell feeds it to ``RunLifecycle/handle(_:at:)``.
public enum RunEvent: Sendable, Equatable {
    /// pending → placing, directive `.place`.
    case start
    /// placing → sharding, one `.sendShard` per distinct worker.
    case placed(Placement)
    /// placing → failed(reason); the text is the ``PlacementRefusal`` sentence.
    case placementRefused(String)
    /// Resets that worker's stall timer (while sharding, and while preparing teachers for a
    /// worker that took a lost part).
    case shardProgress(worker: String)
    /// Sharding: all delivered and every part placed → preparingTeachers, `.assign` per teacher.
    /// Preparing teachers (a worker that took a lost part): `.assign` for the teachers waiting
    /// on it; distilling once everything is ready (see `.task`).
    case shardDelivered(worker: String)
    /// → failed.
    case shardFailed(worker: String, reason: String)
    /// Every teacher completed, every part placed and every worker's shard delivered →
    /// distilling, `.assign` per replica; all students completed → completed("…"); any
    /// failed → failed("teacher 1 on w2 failed: …").
    case task(TaskRef, TaskUpdate)
    /// A worker holding work of this (non-terminal) run died or left. Before distilling
    /// (sharding, preparingTeachers) its parts become unplaced — their progress is dropped —
    /// and the run asks for them to be placed again (`.placeParts`); while distilling, an
    /// elastic run that loses only a student replica moves to the next ring generation of the
    /// survivors (`.ringChanged`, `.refreshPeers`), and any other loss fails it.
    case workerLost(String)
    /// The shell's answer to `.placeParts`: the worker each placed part goes to (a part nobody
    /// could take is left out; the shell sends nothing when no part fits). Workers new to the
    /// run get `.sendShard`; a re-placed teacher is assigned once its worker has the shard;
    /// teachers already assigned get `.refreshPeers`. An answer that does not fit (a part that
    /// is not waiting, an empty name, a replica on a worker hosting another) is ignored.
    case partsPlaced([TaskRef: String])
    /// A worker joined, registered again or recovered: a run with unplaced parts asks for
    /// them to be placed again (`.placeParts`); otherwise ignored.
    case workersChanged
    /// Non-terminal → cancelled.
    case cancel(reason: String)
    /// Non-terminal → interrupted.
    case interrupt(reason: String)
    /// Check deadlines at `now`.
    case tick
}

/// What the shell must do for a run.
public enum RunDirective: Sendable, Equatable {
    /// Run the ``Placer`` on the available workers and answer with `.placed` or `.placementRefused`.
    case place
    /// Send the worker the dataset shard it needs; answer with shard progress/delivered/failed.
    case sendShard(worker: String)
    /// Send the worker this task (id ``TaskRef/id(runID:)``); it answers with task updates.
    case assign(TaskRef, worker: String)
    /// Run ``Placer/replace(_:in:on:)`` for these parts (their worker was lost before
    /// distilling) on the available workers and answer with `.partsPlaced`, or nothing when
    /// none fits: the run waits (at most ``RunTimeouts/replacementWait``) for `.workersChanged`.
    case placeParts([TaskRef])
    /// A part moved: send this already assigned task again (same id), with its peers' current
    /// data endpoints; the worker updates the running task's peers and starts nothing new.
    case refreshPeers(TaskRef, worker: String)
    /// The ring of student replicas changed (distilling, elastic): `ring` is the new generation,
    /// `why` says what made it ("w2 was lost while distilling", or a stalled ring renewed). The
    /// shell records it; the `.refreshPeers` that follow tell the replicas (and teachers).
    case ringChanged(RingMembership, why: String)
    /// Something the run absorbed without a directive of its own (a teacher lost after it was
    /// needed): the shell records the text as an event of the run.
    case noted(String)
    /// The run ended (failed/cancelled/interrupted) while these workers held its work: tell them to stop it.
    case stopWork(workers: [String])
    /// The event does not fit the current state (odd order, duplicate, unknown task, after the end):
    /// nothing changed; the shell logs the text once.
    case ignored(String)
}

extension RunEvent {
    /// Progress only (a task's steps, a shard's chunks, a tick): what a coordinator that
    /// restarts would learn again from its workers, so it is stored at most a second late.
    public var isProgress: Bool {
        switch self {
        case .task(_, .running), .shardProgress, .tick: true
        default: false
        }
    }

    /// How an ignored-event text names the event, e.g. "shard delivered by w1", "teacher 1 running (3/10)".
    var summary: String {
        switch self {
        case .start: "start"
        case .placed(let placement): "placement on \(placement.workers.joined(separator: ", "))"
        case .placementRefused: "placement refusal"
        case .shardProgress(let worker): "shard progress from \(worker)"
        case .shardDelivered(let worker): "shard delivered by \(worker)"
        case .shardFailed(let worker, _): "shard failure on \(worker)"
        case .task(let ref, let update): "\(ref) \(update.summary)"
        case .workerLost(let worker): "loss of worker \(worker)"
        case .partsPlaced(let placed):
            "placement of " + Placement.listed(placed.sorted { $0.key < $1.key }.map { "\($0.key) on \($0.value)" })
        case .workersChanged: "change of workers"
        case .cancel: "cancel"
        case .interrupt: "interrupt"
        case .tick: "tick"
        }
    }
}

extension TaskUpdate {
    /// "accepted", "running (3/10)", "completed", "failed".
    var summary: String {
        switch self {
        case .accepted: "accepted"
        case .running(let done, let total): "running (\(done)/\(total))"
        case .completed: "completed"
        case .failed: "failed"
        }
    }
}
