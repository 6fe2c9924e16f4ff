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
    /// The last `Register` that went unanswered in time: its ack, arriving late (a coordinator
    /// stalled on its disk), is still welcome while no newer attempt went out.
    var lateRegisterRequest: UInt64?
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
    /// This process's incarnation (`Register.incarnation`): random, picked at start.
    public nonisolated let incarnation: String
    /// Notices stalls of this worker's own loop (nil: never excuse, for manual-clock tests).
    var health: LocalHealth?
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
        self.incarnation = String(UInt64.random(in: 1...UInt64.max), radix: 16) + String(UInt64.random(in: 0...UInt64.max), radix: 16)
        self.health = settings.stallTolerance.map(LocalHealth.init)
        do { cache = try ShardCache(directory: settings.cacheDirectory + "/shards") } catch {
            throw .setup("cannot use the cache directory \(settings.cacheDirectory): \(error)")
        }
        tasks = TaskRunner(workerName: settings.name, cacheDirectory: settings.cacheDirectory, cache: cache,
                           dataPlane: dataPlane, logger: logger)
    }

    /// One pass: wait up to `maxWait` for a message and handle it together with every message
    /// already queued; excuse a stall of this worker's own (``LocalHealth``) before judging the
    /// coordinator's silence; then (re-)register or heartbeat as due, check shard windows and
    /// forward task progress. Throws `WorkerError.refused` when the coordinator refuses this
    /// worker.
    public func step(maxWait: Duration = .milliseconds(100)) async throws(WorkerError) {
        guard !hasLeft else { return }
        // Each step promises the next within `maxWait`: coming back later than that (beyond the
        // tolerance) is a stall of this worker's own.
        defer { health?.willWait(until: clock.now() + maxWait) }
        do {
            var next = try await connection.receive(timeout: maxWait)
            var taken = 0
            while let message = next {
                try await handle(message)
                taken += 1
                next = taken < 256 ? try await connection.receive(timeout: .zero) : nil
            }
        } catch let error as WorkerError {
            throw error
        } catch {
            logger.error("receive from the coordinator failed: \(error)")
        }
        if let refusal { throw .refused(refusal) }
        let now = clock.now()
        if let stall = health?.resumed(at: now), stall > .zero {
            // This worker could not listen (paused, starved of CPU): not the coordinator's silence.
            let text = "this worker could not listen for \(stall.shortDescription) (paused or overloaded); "
                + "the coordinator's silence deadline moves by as much"
            logger.warning("\(text)")
            lastHeard = min(now, lastHeard + stall)
        }
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
            lateRegisterRequest = registerRequest
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
                                version: settings.version, cachedShards: cache.hashes(), incarnation: incarnation)
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
            guard !registered, envelope.replyTo == registerRequest || envelope.replyTo == lateRegisterRequest else { return }
            lateRegisterRequest = nil
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
