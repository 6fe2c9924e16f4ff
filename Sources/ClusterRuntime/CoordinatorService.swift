import ClusterCore
import Logging
import ServiceLifecycle
import Synchronization
import Transport

/// Runs a `Coordinator` on a bound `Listener` until graceful shutdown (SIGTERM/SIGINT through
/// a `ServiceGroup`) or cancellation. One loop: receive (bounded by the next deadline, at most
/// `maxPoll`), hand the message to the coordinator, send what it returns, tick.
public struct CoordinatorService: Service {
    public let coordinator: Coordinator
    public let listener: any Listener
    /// Upper bound of one receive wait, so ticks happen even on an idle socket.
    public var maxPoll: Duration
    /// Messages handled per pass at most before the tick.
    public var maxBatch = 1024
    let clock: any RuntimeClock
    let logger: Logger

    public init(coordinator: Coordinator, listener: any Listener, clock: any RuntimeClock = SystemRuntimeClock(),
                maxPoll: Duration = .milliseconds(100), logger: Logger = Logger(label: "distillery.coordinator")) {
        self.coordinator = coordinator
        self.listener = listener
        self.clock = clock
        self.maxPoll = maxPoll
        self.logger = logger
    }

    public func run() async throws {
        let stopping = Mutex(false)
        logger.info("coordinator listening on \(listener.address)")
        await withGracefulShutdownHandler {
            while !stopping.withLock({ $0 }) && !Task.isCancelled {
                await step()
            }
        } onGracefulShutdown: {
            stopping.withLock { $0 = true }
        }
        logger.info("coordinator stopping")
        await listener.close()
    }

    /// One pass of the loop (also used directly by tests that drive the cluster).
    public func step() async {
        var wait = maxPoll
        if let wake = await coordinator.nextWake() {
            let now = clock.now()
            wait = wake <= now ? .milliseconds(1) : min(maxPoll, wake - now)
        }
        do {
            // Everything already queued is handled before the tick, so a stall (a slow disk, a
            // busy machine) never makes queued heartbeats look like silence.
            var next = try await listener.receive(timeout: wait)
            var handled = 0
            while let inbound = next, handled < maxBatch {
                await send(await coordinator.handle(inbound))
                handled += 1
                next = handled < maxBatch ? try await listener.receive(timeout: .zero) : nil
            }
        } catch {
            logger.error("receive failed: \(error)")
            try? await Task.sleep(for: .milliseconds(50))
        }
        await send(await coordinator.tick())
    }

    private func send(_ messages: [Outgoing]) async {
        for m in messages {
            do { try await listener.send(m.message, to: m.peer) } catch TransportError.invalidMessage(let e) {
                logger.error("bug: the coordinator built an invalid \(m.message.envelope.body.name): \(e)")
            } catch {
                logger.debug("could not send \(m.message.envelope.body.name) to \(m.peer): \(error)")
            }
        }
    }
}
