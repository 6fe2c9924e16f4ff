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
        let worker = try Worker(settings: settings, connection: connection, dataEndpoint: endpoint, clock: clock, logger: logger)
        return WorkerService(worker: worker, dataListener: listener, logger: logger)
    }

    public func run() async throws {
        let stopping = Mutex(false)
        let roles = worker.settings.roles.sorted().map(\.rawValue).joined(separator: ",")
        logger.info("worker \(worker.settings.name) (\(roles)) joining \(worker.settings.coordinator); data endpoint \(worker.dataEndpoint)")
        var failure: (any Error)?
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
        await dataListener.close()
        if let failure { throw failure }
    }
}
