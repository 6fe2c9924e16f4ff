// A worker's side of membership (DESIGN.md §4 "Instance / Shell / Directive", like
// SWIM.Instance): register, back off, heartbeat, notice the coordinator's silence, register
// again. The `Worker` actor is its shell: it feeds events with the time and sends what the
// directives say.

/// A worker's session with the coordinator, as a pure value (docs/PROTOCOL.md "Join", "Liveness").
///
/// Rules:
/// - Not registered: a `Register` goes out at the first tick at or after `nextRegisterAt`. One
///   unanswered for `registerTimeout` is given up (`registerUnanswered`) and retried after a
///   backoff that doubles from `backoffInitial` up to `backoffMax`; the given-up attempt's ack,
///   arriving late (a coordinator stalled on its disk), is still welcome until the next attempt
///   is given up too (an ack of an older one is stale).
/// - Registered: a `Heartbeat` goes out every `heartbeatInterval` the ack gave. Any message
///   counts as the coordinator being alive; silence for the ack's liveness timeout, or
///   `Error{NOT_FOUND}` in reply to the latest heartbeat, means registering again at once.
/// - A stall of the worker's own loop (``LocalHealth``, when `stallTolerance` is set) moves the
///   silence deadline by the stall: the worker could not listen, the coordinator was not silent.
/// - `Error{VERSION}` refuses the worker for good: `stop`, and nothing more is sent. So does
///   `Error{INVALID}` in reply to a `Register` (the current attempt's, or a given-up one's that is
///   still welcome): the registration itself is wrong (a name other than the sender, a data
///   endpoint others cannot reach), and sending it again would be refused again. An
///   `Error{INVALID}` in reply to anything else is not the session's concern.
public struct WorkerSession: Sendable, Equatable {
    public struct Settings: Sendable, Equatable {
        public var registerTimeout: Duration
        public var backoffInitial: Duration
        public var backoffMax: Duration
        /// Lateness of the loop that is scheduling noise; nil never excuses (manual-clock tests).
        public var stallTolerance: Duration?

        public init(registerTimeout: Duration = .seconds(2), backoffInitial: Duration = .seconds(2),
                    backoffMax: Duration = .seconds(30), stallTolerance: Duration? = .milliseconds(500)) {
            self.registerTimeout = registerTimeout
            self.backoffInitial = backoffInitial
            self.backoffMax = backoffMax
            self.stallTolerance = stallTolerance
        }
    }

    public enum Event: Sendable, Equatable {
        /// The shell's loop came round; `requestID` is free for whatever this tick sends.
        case tick(requestID: UInt64)
        /// A message from the coordinator arrived (before its own event, if it has one).
        case heard
        case registerAck(replyTo: UInt64, nodeID: String, heartbeatInterval: Duration, livenessTimeout: Duration)
        /// `Error{NOT_FOUND}` in reply to request `replyTo`.
        case notFound(replyTo: UInt64, message: String)
        /// `Error{VERSION}`: refused for good.
        case refused(String)
        /// `Error{INVALID}` in reply to request `replyTo`: refused for good when that request was
        /// a `Register` of this session.
        case invalid(replyTo: UInt64, message: String)
        /// The worker leaves (graceful shutdown).
        case leave
    }

    public enum Directive: Sendable, Equatable {
        case sendRegister(requestID: UInt64)
        case sendHeartbeat(requestID: UInt64)
        /// Something the shell logs; the session already acted on it.
        case note(Note)
        /// The coordinator refused this worker: stop.
        case stop(reason: String)
    }

    public enum Note: Sendable, Equatable {
        case registered(nodeID: String)
        case registerUnanswered(after: Duration, retryIn: Duration)
        case coordinatorSilent(for: Duration)
        case unknownToCoordinator(String)
        /// The worker's own loop stalled this long; the silence deadline moved by as much.
        case ownStall(Duration)
    }

    public let settings: Settings
    public private(set) var registered = false
    public private(set) var refusal: String?
    public private(set) var hasLeft = false
    public private(set) var heartbeatInterval: Duration = .seconds(1)
    public private(set) var livenessTimeout: Duration = .seconds(5)
    var registerRequest: UInt64?
    var lateRegisterRequest: UInt64?
    var registerSentAt = ClockTime(milliseconds: 0)
    var nextRegisterAt = ClockTime(milliseconds: 0)
    public private(set) var backoff: Duration
    var lastHeard = ClockTime(milliseconds: 0)
    var lastHeartbeat = ClockTime(milliseconds: 0)
    var lastHeartbeatRequest: UInt64?
    public private(set) var health: LocalHealth?

    public init(settings: Settings = Settings()) {
        self.settings = settings
        backoff = settings.backoffInitial
        health = settings.stallTolerance.map(LocalHealth.init)
    }

    /// The loop is about to wait for messages, at most until `deadline` (``LocalHealth``).
    public mutating func willWait(until deadline: ClockTime) {
        health?.willWait(until: deadline)
    }

    public mutating func handle(_ event: Event, now: ClockTime) -> [Directive] {
        guard !hasLeft, refusal == nil else { return [] }
        switch event {
        case .heard:
            lastHeard = now
            return []
        case .registerAck(let replyTo, let nodeID, let interval, let timeout):
            guard !registered, replyTo == registerRequest || replyTo == lateRegisterRequest else { return [] }
            lateRegisterRequest = nil
            registerRequest = nil
            registered = true
            backoff = settings.backoffInitial
            heartbeatInterval = max(interval, .milliseconds(1))
            livenessTimeout = max(timeout, heartbeatInterval + .milliseconds(1))
            lastHeartbeat = now
            lastHeard = now
            return [.note(.registered(nodeID: nodeID))]
        case .notFound(let replyTo, let message):
            guard registered, replyTo == lastHeartbeatRequest else { return [] }
            registerAgain(at: now)
            return [.note(.unknownToCoordinator(message))]
        case .refused(let reason):
            return refuse(reason)
        case .invalid(let replyTo, let message):
            guard !registered, replyTo != 0, replyTo == registerRequest || replyTo == lateRegisterRequest else { return [] }
            return refuse("\(message) (the registration is invalid; fix the worker's settings and start it again)")
        case .leave:
            hasLeft = true
            registered = false
            return []
        case .tick(let id):
            return tick(now, requestID: id)
        }
    }

    private mutating func tick(_ now: ClockTime, requestID id: UInt64) -> [Directive] {
        var out: [Directive] = []
        if let stall = health?.resumed(at: now), stall > .zero {
            out.append(.note(.ownStall(stall)))
            lastHeard = min(now, lastHeard + stall)
        }
        if registered && now - lastHeard >= livenessTimeout {
            out.append(.note(.coordinatorSilent(for: livenessTimeout)))
            registerAgain(at: now)
        }
        if !registered {
            if let pending = registerRequest {
                if now - registerSentAt >= settings.registerTimeout {
                    out.append(.note(.registerUnanswered(after: settings.registerTimeout, retryIn: backoff)))
                    lateRegisterRequest = pending
                    registerRequest = nil
                    nextRegisterAt = now + backoff
                    backoff = min(backoff * 2, settings.backoffMax)
                }
            } else if now >= nextRegisterAt {
                registerRequest = id
                registerSentAt = now
                out.append(.sendRegister(requestID: id))
            }
        } else if now - lastHeartbeat >= heartbeatInterval {
            lastHeartbeat = now
            lastHeartbeatRequest = id
            out.append(.sendHeartbeat(requestID: id))
        }
        return out
    }

    private mutating func refuse(_ reason: String) -> [Directive] {
        refusal = reason
        registered = false
        registerRequest = nil
        lateRegisterRequest = nil
        return [.stop(reason: reason)]
    }

    private mutating func registerAgain(at now: ClockTime) {
        registered = false
        registerRequest = nil
        nextRegisterAt = now
    }
}
