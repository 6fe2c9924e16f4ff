import Clocks
import ClusterCore
import ClusterRuntime
import Datasets
import Logging
import ServiceLifecycle
import Synchronization
import Transport

/// Runs a `Worker` until graceful shutdown (SIGTERM/SIGINT through a `ServiceGroup`) or
/// cancellation, then deregisters it. Ends with an error when the coordinator refuses the
/// worker for good (e.g. an incompatible version).
public struct WorkerService: Service {
    public let worker: Worker
    /// The bound data endpoint (logits, gradients and shards of the data plane arrive here).
    public let dataListener: any Listener
    public let inbox: DataInbox
    let peers: PeerConnections
    let logger: Logger

    /// Binds the data endpoint, connects to the coordinator and builds the worker.
    public static func make(settings: WorkerSettings, transport: any Transport, clock: any RuntimeClock = SystemRuntimeClock(),
                            logger: Logger = Logger(label: "distillery.worker")) async throws -> WorkerService {
        let listener: any Listener
        do { listener = try await transport.listen(at: settings.dataBind) } catch {
            throw WorkerError.setup("cannot bind the data endpoint \(settings.dataBind): \(error)")
        }
        let connection: any Connection
        do { connection = try await transport.connect(to: settings.coordinator, identity: settings.name) } catch {
            await listener.close()
            throw WorkerError.setup("cannot connect to the coordinator at \(settings.coordinator): \(error)")
        }
        let endpoint = settings.advertisedEndpoint(bound: listener.address)
        let cache: ShardCache
        do { cache = try ShardCache(directory: settings.cacheDirectory + "/shards") } catch {
            await connection.close()
            await listener.close()
            throw WorkerError.setup("cannot use the cache directory \(settings.cacheDirectory): \(error)")
        }
        let inbox = DataInbox(listener: listener, clock: clock, logger: logger)
        let peers = PeerConnections(transport: transport)
        let tasks = TaskRunner(workerName: settings.name, cacheDirectory: settings.cacheDirectory, cache: cache,
                               dataPlane: DataPlaneContext(inbox: inbox, connect: { try await peers.connect($0) }, secure: { keys, admitted in
                                   for k in keys { try? transport.trustServer(at: k.endpoint, publicKey: k.publicKey) }
                                   transport.admit(admitted)
                               }), clock: clock,
                               uploadWait: settings.uploadWait, logger: logger)
        let worker = Worker(settings: settings, connection: connection, dataEndpoint: endpoint, cache: cache, tasks: tasks,
                            clock: clock, logger: logger)
        return WorkerService(worker: worker, dataListener: listener, inbox: inbox, peers: peers, logger: logger)
    }

    public init(worker: Worker, dataListener: any Listener, inbox: DataInbox, peers: PeerConnections, logger: Logger) {
        self.worker = worker
        self.dataListener = dataListener
        self.inbox = inbox
        self.peers = peers
        self.logger = logger
    }

    /// Sorts what arrives at the data endpoint; runs until cancelled (tests that step the
    /// worker themselves start it with this).
    public func runDataPlane() async { await inbox.run() }

    public func run() async throws {
        let stopping = Mutex(false)
        let roles = worker.settings.roles.sorted().map(\.rawValue).joined(separator: ",")
        logger.info("worker \(worker.settings.name) (\(roles)) joining \(worker.settings.coordinator); data endpoint \(worker.dataEndpoint)")
        var failure: (any Error)?
        let dataPlane = Task { await inbox.run() }
        defer { dataPlane.cancel() }
        await withGracefulShutdownHandler {
            while !stopping.withLock({ $0 }) && !Task.isCancelled {
                do { try await worker.step() } catch {
                    failure = error
                    return
                }
            }
        } onGracefulShutdown: {
            stopping.withLock { $0 = true }
        }
        await worker.leave(reason: failure == nil ? "shut down" : "stopped: \(failure!)")
        dataPlane.cancel()
        await peers.closeAll()
        await dataListener.close()
        if let failure { throw failure }
    }
}

/// Connections to peers' data endpoints, opened once and reused.
public actor PeerConnections {
    let transport: any Transport
    private var open: [String: any Connection] = [:]

    public init(transport: any Transport) { self.transport = transport }

    public func connect(_ address: String) async throws -> any Connection {
        if let c = open[address] { return c }
        let c = try await transport.connect(to: address)
        open[address] = c
        return c
    }

    public func closeAll() async {
        for c in open.values { await c.close() }
        open.removeAll()
    }
}
