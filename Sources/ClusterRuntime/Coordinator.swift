import Clocks
import ClusterCore
import ClusterStore
import Datasets
import Logging
import NN
import RunSpec
import Transport
import Wire

/// A message to send, and to whom.
public struct Outgoing: Sendable {
    public var peer: PeerID
    public var message: Message

    public init(peer: PeerID, message: Message) {
        self.peer = peer
        self.message = message
    }
}

/// The coordinator's shell (DESIGN.md §4 "Instance / Shell / Directive"): it feeds inbound
/// messages and clock ticks to the pure cores (`Membership`, one `RunLifecycle` per run,
/// `Placer`), performs their directives, persists every change in the `ClusterStore`, and
/// returns the messages to send. It never touches a socket itself — `CoordinatorService`
/// moves messages between it and a `Listener` — so whole clusters run in memory in tests.
///
/// Membership lives in ``liveness`` (a `LivenessDesk`), shared with the liveness lane of
/// `CoordinatorService`, which stamps arrivals, answers heartbeats and decides deaths without
/// waiting for this actor; the actor reads it and acts on the events the lane hands over
/// (``membershipChanged(_:)``).
///
/// Rules it implements (docs/PROTOCOL.md, "Who gets an answer" lists every case):
/// - any inbound message from a registered worker counts as a heartbeat, heard at its arrival;
/// - a worker is its `Envelope.sender`; `Register` is refused when its name differs, its
///   version is not `MAJOR.MINOR[.REST]` or its data endpoint cannot be connected to
///   (`Registration`);
/// - a `Heartbeat` is answered with a `Heartbeat`; it and every other worker message
///   (`TaskStatus`, `Metrics`, `ShardRequest`, `ShardAck`, `ArtifactChunk`) from a sender that
///   is not a member holding work with `Error{NOT_FOUND}`, so it registers again (e.g. after a
///   coordinator restart) — except `Metrics` of a run in flight from a worker holding a part of
///   it, stored (figures queued before it noticed the restart);
/// - worker reports it has no use for (a task assigned elsewhere, a run not in flight) are
///   dropped and counted in ``ignored``;
/// - a worker whose software version differs in major.minor is refused with `Error{VERSION}`;
/// - runs are validated again here (the spec, the dataset files, placement) and refused with
///   field-level errors; runs in flight when the coordinator stopped are `interrupted`.
public actor Coordinator {
    public nonisolated let settings: CoordinatorSettings
    /// The store as written so far; read it through ``store``.
    let database: ClusterStore
    /// Writes nobody waits for run here, in order, off the actor (``persist(_:_:)``).
    let journal = JobThread(name: "distillery-store")
    /// The store, once every queued write has landed (read-your-writes).
    var store: ClusterStore {
        journal.waitUntilIdle()
        return database
    }

    /// Waits until every queued write has landed in the store: a graceful stop, or a restart
    /// in a test, must not leave an old write to land after the next coordinator's.
    public func flushWrites() { journal.waitUntilIdle() }
    let clock: any RuntimeClock
    let logger: Logger

    /// Membership and liveness (shared with the service's liveness lane).
    public nonisolated let liveness: LivenessDesk
    /// A copy of the membership as it is now.
    var membership: Membership { liveness.snapshot }
    /// Metrics received but not yet written: flushed as one transaction per `metricsFlushInterval`.
    var pendingMetrics: [MetricsReport] = []
    var lastMetricsFlush = ClockTime.zero
    /// Routing id of each registered worker's control connection.
    var peers: [String: PeerID] = [:]
    /// Runs that are not terminal yet, by id.
    var runs: [String: ActiveRun] = [:]
    /// Packed dataset shards by SHA-256, and where each data set selection stands.
    var shards: [String: DatasetShard] = [:]
    var shardStates: [ShardKey: ShardState] = [:]
    var shardOwners: [String: ShardBytes] = [:]
    var incomingArtifacts: [String: IncomingArtifact] = [:]
    /// Artifacts of active runs the coordinator could not store ("name: why"), by run: a run
    /// with any is failed, not completed, when its last task completes (``resultProblem(_:)``).
    var artifactRefusals: [String: [String: String]] = [:]
    /// The step of each run in flight's last stored resume checkpoint (an older one is refused).
    var storedCheckpointSteps: [String: Int] = [:]
    /// The step of each online teacher state stored, by "run/artifact name" (Coordinator+TeacherStates).
    var storedTeacherStateSteps: [String: Int] = [:]
    /// Teacher checkpoints being offered to workers, by SHA-256 (served like shard chunks).
    var checkpointBlobs: [String: CheckpointBlob] = [:]
    /// Trained teachers in the state directory by recipe key (built when first needed).
    var storedTeachersIndex: StoredTeachers?
    var watchers: [String: [Watcher]] = [:]
    /// "worker run" pairs already told to stop an orphaned run (each is logged once).
    var orphansTold: Set<String> = []
    /// The runs each worker's last heartbeat listed (`Heartbeat.runs`): a lost replica's slot
    /// is not given back to a worker still holding an old task of that run.
    var heldRunsByWorker: [String: Set<String>] = [:]
    /// Online runs whose last student report waits for the teachers' final checkpoints.
    var heldCompletions: [String: HeldCompletion] = [:]
    /// When each elastic run last tried to take back its lost replica slots.
    var growthTried: [String: ClockTime] = [:]
    /// Runs taken back after a restart that wait for their holders to report (Coordinator+Recovery).
    var recovering: [String: Recovery] = [:]
    /// Runs whose changed lifecycle is to be stored by then (Coordinator+Recovery).
    var snapshotDue: [String: ClockTime] = [:]
    /// When each unanswered shard offer or assignment ("run shard worker", "run task ref
    /// worker") was last sent again (Coordinator+Resend).
    var resentAt: [String: ClockTime] = [:]
    var outbox: [Outgoing] = []
    /// Request ids of everything the coordinator sends (the liveness lane takes them too).
    nonisolated let requestIDs = RequestIDs()
    /// Submissions whose specs are being checked off the actor (Coordinator+Submit.swift).
    var submissionsInFlight = SubmissionsInFlight()
    /// Worker reports dropped without an answer, by kind ("task-status-stale",
    /// "shard-ack-unawaited", "metrics-unknown-run"): normal after a cancel, a re-placement or
    /// a restart, and nothing the worker could act on; the first of each kind is logged.
    public nonisolated let ignored: DropCounter
    /// Who may send what (``AccessGate``): checked by the service before a message reaches
    /// either lane; open (everyone, by `Envelope.sender`) without keys.
    public nonisolated let access: AccessGate

    /// Opens the coordinator on `store`: runs left unfinished by a previous coordinator are
    /// taken back and wait for their workers (Coordinator+Recovery); those it cannot take
    /// back are marked `interrupted`.
    public init(settings: CoordinatorSettings = CoordinatorSettings(), store: ClusterStore,
                clock: any RuntimeClock = SystemRuntimeClock(), access: AccessGate = .open(),
                logger: Logger = Logger(label: "distillery.coordinator")) throws(ClusterStoreError) {
        self.settings = settings
        self.access = access
        self.database = store
        self.clock = clock
        self.logger = logger
        self.liveness = LivenessDesk(settings: settings.liveness, stallTolerance: settings.stallTolerance)
        self.ignored = DropCounter(endpoint: "coordinator \(settings.name)", logger: logger)
        let takenBack = try Coordinator.takeBack(from: store, settings: settings, now: clock.now(), wallMs: clock.wallMs(),
                                                 logger: logger)
        self.runs = takenBack.runs
        self.recovering = takenBack.recovering
    }

    // MARK: the shell's two entry points

    /// Handles one inbound message; returns what to send.
    public func handle(_ inbound: Inbound) -> [Outgoing] {
        let envelope = inbound.message.envelope
        let arrivedAt = clock.time(of: inbound.arrivedAt)
        let member = liveness.heard(from: envelope.sender, at: arrivedAt)
        if member { peers[envelope.sender] = inbound.peer }
        let request = Request(peer: inbound.peer, id: envelope.requestID, sender: envelope.sender)
        if !member, case .metrics(let m) = envelope.body, runs[m.runID]?.lifecycle.holders.contains(envelope.sender) == true {
            // A holder's figures sent before it noticed that this coordinator restarted (they
            // waited in its connection's queue): kept, not lost in the gap.
            metrics(m, request)
            return drainOutbox()
        }
        if !member, case .artifactChunk(let m) = envelope.body, m.name == ResumeCheckpoint.artifactName,
           runs[m.runID]?.lifecycle.holders.contains(envelope.sender) == true {
            // The same for a holder's resume checkpoint: it is no upload the worker repeats.
            artifactChunk(m, request, frames: inbound.message.frames)
            return drainOutbox()
        }
        if !member, Registration.needsMembership(envelope.body) {
            let refusal = Registration.registerFirst(envelope.sender, envelope.body)
            ignored.record("not-registered", detail: refusal.message)
            reply(.error(refusal), to: request)
            return drainOutbox()
        }
        switch resolvingRunReferences(envelope.body) {
        case .register(let m): register(m, request)
        case .heartbeat(let m): heartbeat(m, request, arrivedAt: arrivedAt)
        case .deregister(let m): deregister(m, request)
        case .submitRun(let m): submit(m, request)
        case .statusRequest: reply(.clusterStatus(clusterStatus()), to: request)
        case .listRuns(let m): listRuns(m, request)
        case .listEvents(let m): listEvents(m, request)
        case .watchRun(let m): watch(m, request)
        case .cancelRun(let m): cancel(m, request)
        case .taskStatus(let m): taskStatus(m, request)
        case .shardRequest(let m): shardRequest(m, request, frames: inbound.message.frames)
        case .shardAck(let m): shardAck(m, request)
        case .metrics(let m): metrics(m, request)
        case .artifactChunk(let m): artifactChunk(m, request, frames: inbound.message.frames)
        case .error(let e):
            logger.warning("\(envelope.sender) reported an error (\(e.code)): \(e.message)")
        default:
            ignored.record("not-accepted", detail: "\(envelope.body.name) from \(Registration.short(envelope.sender))")
            refuse(.invalid, "the coordinator does not accept \(envelope.body.name) messages", to: request)
        }
        return drainOutbox()
    }

    /// Membership events the liveness lane found (suspected, died, recovered …): logged,
    /// stored and acted on (the runs of a dead worker); returns what to send.
    public func membershipChanged(_ events: [MembershipEvent]) -> [Outgoing] {
        apply(events)
        return drainOutbox()
    }

    /// Advances run deadlines to the clock's now, writes batched metrics when due and sends
    /// periodic watch updates; returns what to send. (Liveness is the lane's: `LivenessDesk`.)
    public func tick() -> [Outgoing] {
        let now = clock.now()
        if now - lastMetricsFlush >= settings.metricsFlushInterval { flushMetrics(at: now) }
        for (id, run) in runs where recovering[id] == nil {
            if let deadline = run.lifecycle.nextDeadline(), deadline <= now { drive(id, .tick) }
        }
        endRecoveryGrace(at: now)
        saveDueSnapshots(at: now)
        retryGrowth(at: now)
        resendUnanswered(at: now)
        releaseExpiredCompletions(at: now)
        for (runID, list) in watchers {
            guard let run = runs[runID] else { continue }
            for (i, w) in list.enumerated() where now - w.lastSent >= settings.watchInterval {
                send(.runUpdate(update(for: run)), to: w.peer, replyTo: w.requestID)
                watchers[runID]?[i].lastSent = now
            }
        }
        return drainOutbox()
    }

    /// The earliest time at which `tick` has something to do.
    public func nextWake() -> ClockTime? {
        var times: [ClockTime] = []
        if !pendingMetrics.isEmpty { times.append(lastMetricsFlush + settings.metricsFlushInterval) }
        times += runs.filter { recovering[$0.key] == nil }.compactMap { $0.value.lifecycle.nextDeadline() }
        if let grace = nextRecoveryDeadline { times.append(grace) }
        times += snapshotDue.values
        if let growth = nextGrowthRetry { times.append(growth) }
        if let resend = nextResend { times.append(resend) }
        if let held = nextHeldCompletionDeadline { times.append(held) }
        times += watchers.values.flatMap { $0.map { $0.lastSent + settings.watchInterval } }
        return times.min()
    }

    // MARK: views (status, tests)

    public func clusterStatus() -> ClusterStatus {
        let now = clock.now()
        let nodes = membership.members.map { m in
            NodeStatus(nodeID: m.name, name: m.name, roles: m.info.roles.sorted().map(\.wire),
                       address: m.info.dataEndpoint, state: m.liveness.wire,
                       lastHeardMsAgo: UInt64(max(0, (now - m.lastHeard).wholeMilliseconds)),
                       cpuPercent: m.load.cpuPercent.isFinite ? max(0, m.load.cpuPercent) : 0,
                       rssBytes: m.load.rssBytes, currentTask: m.load.currentTask, version: m.info.version)
        }
        return ClusterStatus(nodes: nodes, coordinatorVersion: settings.version, security: access.security,
                             refusedKeys: access.refusedKeys())
    }

    public func member(_ name: String) -> Member? { membership.member(name) }

    /// The state machine of a run in flight (nil once it ended).
    public func lifecycle(ofRun id: String) -> RunLifecycle? { runs[id]?.lifecycle }

    /// The phase of a run: live for runs in flight, else as stored.
    public func phase(ofRun id: String) -> RunPhase? {
        if let run = runs[id] { return run.lifecycle.phase }
        return (try? store.run(id: id)).flatMap { $0.map { RunPhase(stored: $0.state) } }
    }

    // MARK: plumbing

    struct Request {
        var peer: PeerID
        var id: UInt64
        var sender: String
    }

    func reply(_ body: Body, to request: Request) {
        send(body, to: request.peer, replyTo: request.id)
    }

    func refuse(_ code: ErrorCode, _ message: String, to request: Request) {
        reply(.error(ErrorReply(code: code, message: message)), to: request)
    }

    func send(_ body: Body, to peer: PeerID, replyTo: UInt64 = 0, frames: [Frame] = [], tensors: [TensorMeta] = []) {
        let envelope = Envelope(sender: settings.name, requestID: requestIDs.next(), replyTo: replyTo, tensors: tensors, body: body)
        outbox.append(Outgoing(peer: peer, message: Message(envelope, frames: frames)))
    }

    /// Sends to a registered worker by name; false when it has no route.
    @discardableResult
    func send(_ body: Body, toWorker name: String, frames: [Frame] = [], tensors: [TensorMeta] = []) -> Bool {
        guard let peer = peers[name] else { return false }
        send(body, to: peer, frames: frames, tensors: tensors)
        return true
    }

    func drainOutbox() -> [Outgoing] {
        defer { outbox.removeAll(keepingCapacity: true) }
        return outbox
    }

    /// Queues a store write nobody waits for (an event, a worker record, a run's state, a
    /// metrics batch) on the journal, off the actor; a failure is logged, never fatal (the
    /// cluster keeps serving). Reads and awaited writes go through ``store``, which waits for
    /// the journal first, so they see every earlier write. Writes still queued are lost if the
    /// process dies: the same few milliseconds an in-line commit would have been in the middle of.
    func persist(_ what: String, _ body: @escaping @Sendable (ClusterStore) throws(ClusterStoreError) -> Void) {
        let logger = logger
        journal.enqueue { [database] in
            do { try body(database) } catch { logger.error("could not record \(what): \(error)") }
        }
    }

    func event(_ runID: String?, _ kind: String, _ message: String) {
        let at = clock.wallMs()
        persist("event") { store throws(ClusterStoreError) in
            try store.appendEvent(runID: runID, kind: kind, message: message, atMs: at)
        }
    }
}
