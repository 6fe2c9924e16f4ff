import Clocks
import ClusterCore
import Logging
import ServiceLifecycle
import Synchronization
import Transport
import Wire

/// Runs a `Coordinator` on a bound `Listener` until graceful shutdown (SIGTERM/SIGINT through
/// a `ServiceGroup`) or cancellation, in two lanes:
///
/// - the **liveness lane**, on a thread of its own: takes every message off the listener (each
///   stamped at its arrival by the transport), counts it as heard, answers `Heartbeat`s at
///   once, hands everything else to the control lane, then ticks liveness (`LivenessDesk`).
///   It never waits for the actor, the store or a client's request, so a slow disk, a huge
///   spec or a busy actor cannot turn heartbeats into silence; and when the lane itself comes
///   back later than it promised (the process was paused, the machine overloaded) it excuses
///   that stall to every worker before it ticks (`LocalHealth`, the Lifeguard rule).
/// - the **control lane**: hands the queued messages and membership events to the actor in
///   order, sends what it returns, and ticks run deadlines and watch updates.
public struct CoordinatorService: Service {
    public let coordinator: Coordinator
    public let listener: any Listener
    /// Upper bound of one receive wait, so ticks happen even on an idle socket.
    public var maxPoll: Duration
    /// Messages taken per pass at most before liveness ticks.
    public var maxBatch = 1024
    let clock: any RuntimeClock
    let logger: Logger
    /// From the liveness lane to the control lane, in arrival order.
    let control: BoundedQueue<ControlItem>
    /// When the liveness lane last logged its heartbeat-answer latencies.
    let latencyLog = LastLogged()
    /// Workers whose last heartbeat listed runs: their next empty list is forwarded once too
    /// (the coordinator learns that their tasks ended; empty lists are not forwarded otherwise).
    let holders = HeldRunsSenders()
    let routes = HeartbeatRoutes()

    /// What the liveness lane hands to the control lane.
    enum ControlItem: Sendable {
        case inbound(Inbound)
        case membership([MembershipEvent])
        /// A member's heartbeat listed runs it holds tasks of (`Heartbeat.runs`).
        case heldRuns(worker: String, runs: [String])
        /// A worker's heartbeats come from `peer` (``HeartbeatRoutes``).
        case route(worker: String, peer: PeerID)
    }

    public init(coordinator: Coordinator, listener: any Listener, clock: any RuntimeClock = SystemRuntimeClock(),
                maxPoll: Duration = .milliseconds(100), logger: Logger = Logger(label: "distillery.coordinator")) {
        self.coordinator = coordinator
        self.listener = listener
        self.clock = clock
        self.maxPoll = maxPoll
        self.logger = logger
        self.control = BoundedQueue(capacity: 4096)
    }

    public func run() async throws {
        let stopping = StopFlag()
        logger.info("coordinator listening on \(listener.address)")
        let lane = ThreadExecutor(name: "distillery-liveness")
        await withGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { group in
                group.addTask(executorPreference: lane) {
                    while !stopping.isSet && !Task.isCancelled { await livenessPass(wait: maxPoll) }
                }
                group.addTask {
                    while !stopping.isSet && !Task.isCancelled { await controlPass(wait: maxPoll) }
                }
            }
        } onGracefulShutdown: {
            stopping.set()
        }
        lane.stop()
        logger.info("coordinator stopping")
        await listener.close()
        await coordinator.flushWrites()
    }

    /// One pass of both lanes, one after the other (tests that drive the cluster step by step).
    public func step() async {
        await livenessPass(wait: maxPoll)
        await controlPass(wait: .zero)
    }

    // MARK: liveness lane

    /// Receives (waiting at most `wait`, less when liveness has a deadline sooner), takes
    /// everything already queued, then excuses a stall of its own and ticks liveness. Each tick
    /// promises the next within `wait` (`maxPoll`); coming back later than that by more than the
    /// stall tolerance is a stall.
    func livenessPass(wait: Duration) async {
        let desk = coordinator.liveness
        let start = clock.now()
        var timeout = wait
        if let deadline = desk.nextDeadline() { timeout = deadline <= start ? .zero : min(wait, deadline - start) }
        do {
            var next = try await listener.receive(timeout: timeout)
            var taken = 0
            while let inbound = next {
                await route(inbound, desk)
                taken += 1
                next = taken < maxBatch ? try await listener.receive(timeout: .zero) : nil
            }
        } catch {
            logger.error("receive failed: \(error)")
            // A short back-off (one slice of real time at most: never stuck on a manual clock).
            try? await clock.deadline(after: .milliseconds(50)).pause(atMost: .milliseconds(50))
        }
        let now = clock.now()
        let (stall, events) = desk.tick(at: now, nextTickBy: now + maxPoll)
        if stall > .zero {
            let text = "the coordinator could not listen for \(stall.shortDescription) (paused, overloaded or stuck); "
                + "every worker's silence deadline moves by as much"
            logger.warning("\(text)")
        }
        if !events.isEmpty { await forward(.membership(events)) }
        logLatencies(at: now, desk)
    }

    /// A message its key may not send is refused here (``AccessGate``); a heartbeat is
    /// answered here; anything else counts as heard and goes to the actor.
    private func route(_ inbound: Inbound, _ desk: LivenessDesk) async {
        let envelope = inbound.message.envelope
        if let refusal = coordinator.access.check(inbound) {
            let reply = Envelope(sender: coordinator.settings.name, requestID: coordinator.requestIDs.next(),
                                 replyTo: envelope.requestID, body: .error(refusal))
            await send([Outgoing(peer: inbound.peer, message: Message(reply))])
            return
        }
        let arrivedAt = clock.time(of: inbound.arrivedAt)
        guard case .heartbeat(let beat) = envelope.body else {
            desk.heard(from: envelope.sender, at: arrivedAt)
            await forward(.inbound(inbound))
            return
        }
        let (events, body) = Coordinator.answer(beat, from: envelope.sender, arrivedAt: arrivedAt, liveness: desk, clock: clock)
        let reply = Envelope(sender: coordinator.settings.name, requestID: coordinator.requestIDs.next(),
                             replyTo: envelope.requestID, body: body)
        await send([Outgoing(peer: inbound.peer, message: Message(reply))])
        desk.answered(after: clock.elapsed(since: inbound.arrivedAt))
        if !events.isEmpty { await forward(.membership(events)) }
        if case .heartbeat = body, holders.changed(envelope.sender, holding: !beat.runs.isEmpty) || !beat.runs.isEmpty {
            await forward(.heldRuns(worker: envelope.sender, runs: beat.runs))
        }
        if case .heartbeat = body, routes.due(envelope.sender, peer: inbound.peer, at: arrivedAt) {
            await forward(.route(worker: envelope.sender, peer: inbound.peer))
        }
    }

    private func forward(_ item: ControlItem) async {
        if control.offer(item) == .accepted { return }
        // The actor is far behind: wait for room (this lane's lateness is then excused as a stall).
        do { try await control.put(item, timeout: .seconds(60)) } catch {
            logger.error("the coordinator's control queue stayed full for 60 s; a message was dropped: \(error)")
        }
    }

    private func logLatencies(at now: ClockTime, _ desk: LivenessDesk) {
        let due = latencyLog.time.withLock { last -> Bool in
            guard let previous = last else { last = now; return false }
            guard now - previous >= coordinator.settings.latencyLogInterval else { return false }
            last = now
            return true
        }
        guard due else { return }
        let summary = desk.takeAnswerLatencies()
        let gaps = desk.takeHeartbeatGaps()
        guard summary.count > 0 else { return }
        let stalls = desk.stalls
        let text = "heartbeat answers: \(summary); gaps between a worker's heartbeats: median \(gaps.median.msText), "
            + "p99 \(gaps.p99.msText), max \(gaps.max.msText); coordinator stalls so far: \(stalls.count) "
            + "(longest \(stalls.longest.shortDescription))"
        logger.info("\(text)")
    }

    // MARK: control lane

    /// Hands queued messages and events to the actor (waiting at most `wait`, less when the
    /// actor has a deadline sooner), then ticks it.
    func controlPass(wait: Duration) async {
        var timeout = wait
        if let wake = await coordinator.nextWake() {
            let now = clock.now()
            timeout = wake <= now ? .zero : min(wait, wake - now)
        }
        do {
            var next = try await control.take(timeout: timeout)
            var handled = 0
            while let item = next {
                switch item {
                case .inbound(let inbound): await send(await coordinator.handle(inbound))
                case .membership(let events): await send(await coordinator.membershipChanged(events))
                case .heldRuns(let worker, let held): await send(await coordinator.heldRuns(held, by: worker))
                case .route(let worker, let peer): await coordinator.routeHeard(worker, peer: peer)
                }
                handled += 1
                next = handled < maxBatch ? control.poll() : nil
            }
        } catch {
            logger.error("control queue failed: \(error)")
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

/// Set once, read by both lanes.
final class StopFlag: Sendable {
    private let value = Mutex(false)
    var isSet: Bool { value.withLock { $0 } }
    func set() { value.withLock { $0 = true } }
}

/// A time shared by copies of a service.
final class LastLogged: Sendable {
    let time = Mutex<ClockTime?>(nil)
}

/// Which workers' last forwarded heartbeat listed runs (CoordinatorService's liveness lane).
final class HeldRunsSenders: Sendable {
    private let names = Mutex<(holding: Set<String>, heard: Set<String>)>(([], []))

    /// Records whether `worker` holds runs now; true when that differs from its last heartbeat,
    /// or for its first heartbeat here (a run taken back after a restart learns from it that
    /// the worker no longer holds it).
    func changed(_ worker: String, holding: Bool) -> Bool {
        names.withLock { state in
            let first = state.heard.insert(worker).inserted
            let changed = holding ? state.holding.insert(worker).inserted : state.holding.remove(worker) != nil
            return first || changed
        }
    }
}

/// Where each worker's heartbeats come from (CoordinatorService's liveness lane). The control
/// lane routes messages to a worker through the connection it last heard it on; heartbeats are
/// answered without it. After a worker reconnects (its old connection timed out while this
/// coordinator was paused), a message it queued on the old connection may be handled after
/// its first one on the new, leaving the route on a connection that is gone: every offer and
/// assignment to it is then dropped as unroutable (a run failed in sharding that way). Its
/// heartbeats come only on the live connection, so the route is refreshed from them: at once
/// when their connection changes, and every ``refreshEvery`` anyway.
final class HeartbeatRoutes: Sendable {
    static let refreshEvery: Duration = .seconds(5)
    private let routes = Mutex<[String: (peer: PeerID, at: ClockTime)]>([:])

    /// Records that `worker`'s heartbeat came from `peer` at `now`; true when the control lane
    /// should hear of it (a new connection, or ``refreshEvery`` since it last did).
    func due(_ worker: String, peer: PeerID, at now: ClockTime) -> Bool {
        routes.withLock { table in
            if let last = table[worker], last.peer == peer, now - last.at < Self.refreshEvery { return false }
            table[worker] = (peer, now)
            return true
        }
    }
}
