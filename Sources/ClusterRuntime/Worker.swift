import ClusterCore
import Datasets
import Logging
import Transport
import Wire

/// A worker node's shell: joins the coordinator, heartbeats, re-registers when the
/// coordinator goes silent or forgets it (a restart), receives dataset shards into its cache
/// and runs the tasks it is assigned.
///
/// Rules (docs/PROTOCOL.md "Join", "Liveness"): `Register` unanswered for `registerTimeout`
/// is retried after a backoff that doubles from `backoffInitial` to `backoffMax`; once
/// registered a `Heartbeat` goes out every interval the coordinator gave; any inbound message
/// counts as the coordinator being alive; silence for its liveness timeout, or
/// `Error{NOT_FOUND}`, means registering again; `Error{VERSION}` stops the worker.
public actor Worker {
    public nonisolated let settings: WorkerSettings
    let connection: any Connection
    let clock: any RuntimeClock
    let logger: Logger
    /// The advertised data endpoint (bound by the service).
    public nonisolated let dataEndpoint: String
    let cache: ShardCache
    let stats = ProcessStats()
    let ids = RequestIDs()

    public private(set) var registered = false
    /// Set by `leave`: the worker takes no more steps.
    public private(set) var hasLeft = false
    var registerRequest: UInt64?
    var registerSentAt = ClockTime(milliseconds: 0)
    var nextRegisterAt = ClockTime(milliseconds: 0)
    var backoff: Duration
    var lastHeard = ClockTime(milliseconds: 0)
    var lastHeartbeat = ClockTime(milliseconds: 0)
    var lastHeartbeatRequest: UInt64 = 0
    var heartbeatInterval: Duration = .seconds(1)
    var livenessTimeout: Duration = .seconds(5)
    /// What the worker's tasks are doing ("" when idle), as sent in heartbeats.
    public nonisolated var currentTask: String { tasks.currentTask }
    /// Set when the coordinator refused this worker for good.
    public private(set) var refusal: String?
    var incoming: [String: IncomingShard] = [:]
    let tasks: TaskRunner

    public init(settings: WorkerSettings, connection: any Connection, dataEndpoint: String, dataPlane: DataPlaneContext? = nil,
                clock: any RuntimeClock = SystemRuntimeClock(),
                logger: Logger = Logger(label: "distillery.worker")) throws(WorkerError) {
        self.settings = settings
        self.connection = connection
        self.dataEndpoint = dataEndpoint
        self.clock = clock
        self.logger = logger
        self.backoff = settings.backoffInitial
        do { cache = try ShardCache(directory: settings.cacheDirectory + "/shards") } catch {
            throw .setup("cannot use the cache directory \(settings.cacheDirectory): \(error)")
        }
        tasks = TaskRunner(workerName: settings.name, cacheDirectory: settings.cacheDirectory, cache: cache,
                           dataPlane: dataPlane, logger: logger)
    }

    /// One pass: (re-)register or heartbeat as due, check shard windows, forward task
    /// progress, then wait up to `maxWait` for one message and handle it.
    /// Throws `WorkerError.refused` when the coordinator refuses this worker.
    public func step(maxWait: Duration = .milliseconds(100)) async throws(WorkerError) {
        guard !hasLeft else { return }
        let now = clock.now()
        if registered && now - lastHeard >= livenessTimeout {
            logger.warning("no word from the coordinator for \(livenessTimeout.shortDescription); registering again")
            registered = false
            registerRequest = nil
            nextRegisterAt = now
        }
        if !registered { await registerIfDue(now) }
        if registered && now - lastHeartbeat >= heartbeatInterval { await sendHeartbeat(now) }
        await checkShardWindows(now)
        for report in tasks.drainReports() { await send(report.body, tensors: report.tensors, frames: report.frames) }
        let message: Message?
        do { message = try await connection.receive(timeout: maxWait) } catch {
            logger.error("receive from the coordinator failed: \(error)")
            return
        }
        if let message { try await handle(message) }
        if let refusal { throw .refused(refusal) }
    }

    /// Tells the coordinator this worker leaves (graceful shutdown) and stops its tasks.
    public func leave(reason: String) async {
        tasks.cancelAll()
        if registered { await send(.deregister(Deregister(reason: reason))) }
        registered = false
        hasLeft = true
    }

    private func registerIfDue(_ now: ClockTime) async {
        if registerRequest != nil {
            guard now - registerSentAt >= settings.registerTimeout else { return }
            // Unanswered: back off, doubling up to the maximum.
            logger.warning("the coordinator at \(settings.coordinator) did not answer within \(settings.registerTimeout.shortDescription); retrying in \(backoff.shortDescription)")
            registerRequest = nil
            nextRegisterAt = now + backoff
            backoff = min(backoff * 2, settings.backoffMax)
            return
        }
        guard now >= nextRegisterAt else { return }
        let id = ids.next()
        registerRequest = id
        registerSentAt = now
        let register = Register(name: settings.name, roles: settings.roles.sorted().map(\.wire), dataEndpoint: dataEndpoint,
                                cores: UInt32(clamping: settings.cores), memoryBytes: settings.memoryBytes,
                                version: settings.version, cachedShards: cache.hashes())
        await send(.register(register), requestID: id)
    }

    private func sendHeartbeat(_ now: ClockTime) async {
        lastHeartbeat = now
        let heartbeat = Heartbeat(sentUnixMs: UInt64(max(0, clock.wallMs())), cpuPercent: stats.cpuPercent(),
                                  rssBytes: ProcessStats.residentBytes(), currentTask: tasks.currentTask)
        lastHeartbeatRequest = ids.next()
        await send(.heartbeat(heartbeat), requestID: lastHeartbeatRequest)
    }

    func handle(_ message: Message) async throws(WorkerError) {
        let envelope = message.envelope
        lastHeard = clock.now()
        switch envelope.body {
        case .registerAck(let ack):
            guard envelope.replyTo == registerRequest else { return }
            registered = true
            registerRequest = nil
            backoff = settings.backoffInitial
            heartbeatInterval = .milliseconds(Int(max(1, ack.heartbeatIntervalMs)))
            livenessTimeout = .milliseconds(Int(max(ack.heartbeatIntervalMs + 1, ack.livenessTimeoutMs)))
            lastHeartbeat = clock.now()
            logger.info("registered with the coordinator at \(settings.coordinator) as \(ack.nodeID)")
        case .error(let e):
            switch e.code {
            case .version:
                logger.error("the coordinator refused this worker: \(e.message)")
                refusal = e.message
            case .notFound where envelope.replyTo == lastHeartbeatRequest && registered:
                logger.warning("the coordinator does not know this worker (\(e.message)); registering again")
                registered = false
                registerRequest = nil
                nextRegisterAt = clock.now()
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
