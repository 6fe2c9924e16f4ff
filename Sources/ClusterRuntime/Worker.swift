import Clocks
import ClusterCore
import Datasets
import Logging
import Transport
import Wire

/// A worker node's shell: performs its `WorkerSession` (join, heartbeats, re-registering when
/// the coordinator goes silent or forgets it — the rules are the session's), receives dataset
/// shards into its cache and hands the tasks it is assigned to its `WorkerTasks`.
public actor Worker {
    public nonisolated let settings: WorkerSettings
    let connection: any Connection
    let clock: any RuntimeClock
    let logger: Logger
    /// The advertised data endpoint (bound by the service).
    public nonisolated let dataEndpoint: String
    let cache: ShardCache
    let stats: ProcessStats
    let ids = RequestIDs()
    /// Registration, heartbeats and the coordinator's silence: the pure core this actor performs.
    public private(set) var session: WorkerSession

    public var registered: Bool { session.registered }
    /// Set by `leave`: the worker takes no more steps.
    public var hasLeft: Bool { session.hasLeft }
    /// Set when the coordinator refused this worker for good.
    public var refusal: String? { session.refusal }
    /// What the worker's tasks are doing ("" when idle), as sent in heartbeats.
    public nonisolated var currentTask: String { tasks.currentTask }
    /// This process's incarnation (`Register.incarnation`): random, picked at start.
    public nonisolated let incarnation: String
    var incoming: [String: IncomingShard] = [:]
    /// Reports held while the coordinator is away, and each task's last status (Worker+Reports).
    var reportsHeld = HeldReports()
    /// The last refused handshake with the coordinator that was logged (each new one is), and
    /// since when the current one lasts (logged once it lasts 2 s while unregistered).
    var handshakeLogged: HandshakeFailure?
    var handshakeFailingSince: ClockTime?
    let tasks: any WorkerTasks

    /// `cache` holds the shards and checkpoints the coordinator sends; `tasks` runs what it assigns.
    public init(settings: WorkerSettings, connection: any Connection, dataEndpoint: String, cache: ShardCache,
                tasks: any WorkerTasks, clock: any RuntimeClock = SystemRuntimeClock(),
                logger: Logger = Logger(label: "distillery.worker")) {
        self.settings = settings
        self.connection = connection
        self.dataEndpoint = dataEndpoint
        self.clock = clock
        self.stats = ProcessStats(clock: clock)
        self.logger = logger
        self.incarnation = String(UInt64.random(in: 1...UInt64.max), radix: 16) + String(UInt64.random(in: 0...UInt64.max), radix: 16)
        self.session = WorkerSession(settings: WorkerSession.Settings(
            registerTimeout: settings.registerTimeout, backoffInitial: settings.backoffInitial,
            backoffMax: settings.backoffMax, stallTolerance: settings.stallTolerance))
        self.cache = cache
        self.tasks = tasks
    }

    /// One pass: wait up to `maxWait` for a message and handle it together with every message
    /// already queued; then tick the session (which excuses a stall of this worker's own before
    /// judging the coordinator's silence, and registers or heartbeats as due), check shard
    /// windows and forward task progress. Throws `WorkerError.refused` when the coordinator
    /// refuses this worker.
    public func step(maxWait: Duration = .milliseconds(100)) async throws(WorkerError) {
        guard !session.hasLeft else { return }
        // Each step promises the next within `maxWait`: coming back later than that (beyond the
        // tolerance) is a stall of this worker's own.
        defer { session.willWait(until: clock.now() + maxWait) }
        do {
            var next = try await connection.receive(timeout: maxWait)
            var taken = 0
            while let message = next {
                await handle(message)
                taken += 1
                next = taken < 256 ? try await connection.receive(timeout: .zero) : nil
            }
        } catch {
            logger.error("receive from the coordinator failed: \(error)")
        }
        if let refusal = session.refusal { throw .refused(refusal) }
        if let failure = connection.handshakeFailure, !session.registered {
            // A refused CURVE handshake is silent on the wire: say so once it lasts, then keep trying.
            let since = handshakeFailingSince ?? clock.now()
            handshakeFailingSince = since
            if failure != handshakeLogged, clock.now() - since >= .seconds(2) {
                handshakeLogged = failure
                logger.error("\(ControlError.handshake(address: settings.coordinator, failure: failure, keys: nil)); retrying")
            }
        } else {
            handshakeFailingSince = nil
        }
        await perform(session.handle(.tick(requestID: ids.next()), now: clock.now()))
        await checkShardWindows(clock.now())
        await forwardReports()
    }

    /// Tells the coordinator this worker leaves (graceful shutdown) and stops its tasks.
    public func leave(reason: String) async {
        tasks.cancelAll()
        if session.registered { await send(.deregister(Deregister(reason: reason))) }
        _ = session.handle(.leave, now: clock.now())
    }

    /// Sends and logs what the session decided.
    private func perform(_ directives: [WorkerSession.Directive]) async {
        for directive in directives {
            switch directive {
            case .sendRegister(let id):
                let register = Register(name: settings.name, roles: settings.roles.sorted().map(\.wire), dataEndpoint: dataEndpoint,
                                        cores: UInt32(clamping: settings.cores), memoryBytes: settings.memoryBytes,
                                        version: settings.version, cachedShards: cache.hashes(), incarnation: incarnation)
                await send(.register(register), requestID: id)
            case .sendHeartbeat(let id):
                let heartbeat = Heartbeat(sentUnixMs: UInt64(max(0, clock.wallMs())), cpuPercent: stats.cpuPercent(),
                                          rssBytes: ProcessStats.residentBytes(), currentTask: tasks.currentTask,
                                          runs: tasks.runs)
                await send(.heartbeat(heartbeat), requestID: id)
            case .note(let note):
                log(note)
                if case .registered = note { await sendHeldReports() }
            case .stop(let reason):
                logger.error("the coordinator refused this worker: \(reason)")
            }
        }
    }

    private func log(_ note: WorkerSession.Note) {
        switch note {
        case .registered(let nodeID):
            logger.info("registered with the coordinator at \(settings.coordinator) as \(nodeID)")
        case .registerUnanswered(let after, let retryIn):
            logger.warning("the coordinator at \(settings.coordinator) did not answer within \(after.shortDescription); retrying in \(retryIn.shortDescription)")
        case .coordinatorSilent(let silence):
            logger.warning("no word from the coordinator for \(silence.shortDescription); registering again")
        case .unknownToCoordinator(let message):
            logger.warning("the coordinator does not know this worker (\(message)); registering again")
        case .ownStall(let stall):
            logger.warning("this worker could not listen for \(stall.shortDescription) (paused or overloaded); the coordinator's silence deadline moves by as much")
        }
    }

    func handle(_ message: Message) async {
        let envelope = message.envelope
        let now = clock.now()
        _ = session.handle(.heard, now: now)
        switch envelope.body {
        case .registerAck(let ack):
            await perform(session.handle(.registerAck(replyTo: envelope.replyTo, nodeID: ack.nodeID,
                                                      heartbeatInterval: .milliseconds(Int64(ack.heartbeatIntervalMs)),
                                                      livenessTimeout: .milliseconds(Int64(ack.livenessTimeoutMs))), now: now))
        case .error(let e):
            switch e.code {
            case .version:
                await perform(session.handle(.refused(e.message), now: now))
            case .invalid, .permissionDenied:
                // Refused for good when it answers this worker's Register (the session decides):
                // also a key listed under another name, or not with the role worker.
                let directives = session.handle(.invalid(replyTo: envelope.replyTo, message: e.message), now: now)
                if directives.isEmpty { logger.warning("the coordinator answered an error (\(e.code)): \(e.message)") }
                await perform(directives)
            case .notFound:
                let directives = session.handle(.notFound(replyTo: envelope.replyTo, message: e.message), now: now)
                if directives.isEmpty {
                    // After a coordinator restart every message queued meanwhile is refused alike:
                    // the first is logged as a warning, the rest until registered again at debug.
                    if reportsHeld.notFoundLogged {
                        logger.debug("the coordinator answered an error (\(e.code)): \(e.message)")
                    } else {
                        logger.warning("the coordinator answered an error (\(e.code)): \(e.message) (further such answers until this worker is registered again are logged at debug level)")
                        reportsHeld.notFoundLogged = true
                    }
                }
                await perform(directives)
            default:
                logger.warning("the coordinator answered an error (\(e.code)): \(e.message)")
            }
        case .heartbeat:
            break
        case .shardOffer(let offer): await shardOffered(offer)
        case .shardChunk(let chunk): await shardChunk(chunk, frames: message.frames)
        case .assignTask(let assign):
            // Accepted at once, also when the task runs already: then the assignment only
            // updates its peers' endpoints (docs/PROTOCOL.md "Tasks").
            await send(.taskStatus(TaskStatus(runID: assign.runID, taskID: assign.taskID, state: .accepted)))
            tasks.start(assign)
        case .cancelRun(let cancel):
            tasks.cancel(runID: cancel.runID)
        case .artifactAck(let ack):
            tasks.artifactAcked(ack)
        default:
            logger.debug("ignored \(envelope.body.name) from the coordinator")
        }
    }

    func send(_ body: Body, requestID: UInt64? = nil, tensors: [TensorMeta] = [], frames: [Frame] = []) async {
        let message = Message(Envelope(sender: settings.name, requestID: requestID ?? ids.next(), tensors: tensors, body: body),
                              frames: frames)
        do { try await connection.send(message) } catch {
            logger.warning("could not send \(body.name) to the coordinator: \(error)")
        }
    }
}
