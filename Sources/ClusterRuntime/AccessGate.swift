import Clocks
import Logging
import Synchronization
import Transport
import Wire

/// Who may send what to the coordinator (docs/PROTOCOL.md "Security"), as pure logic.
///
/// Under CURVE a message's identity is the key the transport authenticated (`Inbound.peerKey`),
/// never `Envelope.sender`: the key's line in authorized_keys gives its name and role.
/// - `worker` keys send the worker messages (register, heartbeat, reports, uploads), and only
///   under their own name: `Envelope.sender` must be the key's name;
/// - `read` keys read (status, runs, events, watch: the commands status, runs, watch, logs, report);
/// - `admin` keys read, submit, resume and cancel.
///
/// Without keys (``keys`` nil: a loopback or `--insecure` coordinator) everything is admitted
/// and a worker is its `Envelope.sender`, as before 0.11.
public struct AccessPolicy: Sendable, Equatable {
    public var keys: AuthorizedKeys?

    public init(keys: AuthorizedKeys?) { self.keys = keys }

    /// What a message needs: nil for messages the coordinator refuses anyway (replies, data plane).
    public static func neededRole(_ body: Body) -> KeyRole? {
        switch body {
        case .register, .heartbeat, .deregister, .taskStatus, .shardRequest, .shardAck, .metrics, .artifactChunk, .error:
            .worker
        case .submitRun, .cancelRun: .admin
        case .statusRequest, .listRuns, .listEvents, .watchRun: .read
        default: nil
        }
    }

    /// A refusal: the reply's text, and the key's entry when it is listed.
    public struct Refusal: Sendable, Equatable {
        public let message: String
        public let entry: AuthorizedKey?
        /// Short, for `status`'s refused keys: "role read may not send SubmitRun".
        public let reason: String
    }

    /// Nil when `body` from `sender`, authenticated as `peerKey`, is admitted.
    public func refusal(of body: Body, sender: String, peerKey: String?) -> Refusal? {
        guard let keys else { return nil }
        guard let peerKey else {
            return Refusal(message: "this coordinator admits only CURVE clients with a listed key; this message came without one",
                           entry: nil, reason: "no CURVE key")
        }
        guard let entry = keys.entry(for: peerKey) else {
            return Refusal(message: "the key \(peerKey) is no longer in the coordinator's authorized_keys (revoked); "
                + "ask its operator to list it again", entry: nil, reason: "not in authorized_keys (revoked)")
        }
        guard let needed = Self.neededRole(body) else { return nil }
        switch (entry.role, needed) {
        case (.worker, .worker):
            guard sender == entry.name else {
                return Refusal(message: "the key of worker '\(entry.name)' may speak only for '\(entry.name)', not for '\(sender)'",
                               entry: entry, reason: "worker key spoke for '\(sender)'")
            }
            return nil
        case (.admin, .admin), (.admin, .read), (.read, .read):
            return nil
        default:
            let what = Self.what(body)
            return Refusal(message: "the key '\(entry.name)' has the role '\(entry.role.rawValue)', which may not \(what): that needs "
                + "the role '\(needed.rawValue)' (\(Self.roleText(needed))); ask the coordinator's operator to change its line in "
                + "authorized_keys", entry: entry, reason: "role \(entry.role.rawValue) may not send \(body.name)")
        }
    }

    static func what(_ body: Body) -> String {
        switch body {
        case .submitRun(let m): m.resumeRunID.isEmpty ? "submit a run" : "resume a run"
        case .cancelRun: "cancel a run"
        case .statusRequest: "read the cluster's status"
        case .listRuns, .listEvents, .watchRun: "read runs"
        default: "send \(body.name) (a worker's message)"
        }
    }

    static func roleText(_ role: KeyRole) -> String {
        switch role {
        case .worker: "a worker node"
        case .admin: "submit, resume, cancel, and read"
        case .read: "status, runs, watch, logs and report only"
        }
    }
}

/// The coordinator's ``AccessPolicy`` as it is now, shared by the liveness and control lanes:
/// replaced when authorized_keys is read again (SIGHUP or a change of the file), and the keys
/// it refused, for `status`.
public final class AccessGate: Sendable {
    public let security: ListenerSecurity
    private let state: Mutex<AccessPolicy>
    private let refused = Mutex<[String: RefusedEntry]>([:])
    /// Refusals by the transport's authenticator (CURVE handshakes), merged into ``refusedKeys(now:)``.
    private let handshakeRefusals: Mutex<(@Sendable () -> [HandshakeRefusal])?>
    let drops: DropCounter
    let clock: any RuntimeClock

    struct RefusedEntry {
        var name: String
        var reason: String
        var count: UInt64
        var last: ClockInstant
    }

    /// - Parameters:
    ///   - keys: nil without CURVE.
    ///   - security: what `status` reports (``ListenerSecurity``).
    public init(keys: AuthorizedKeys?, security: ListenerSecurity, clock: any RuntimeClock = SystemRuntimeClock(),
                logger: Logger = Logger(label: "distillery.coordinator")) {
        self.security = security
        self.state = Mutex(AccessPolicy(keys: keys))
        self.handshakeRefusals = Mutex(nil)
        self.clock = clock
        self.drops = DropCounter(endpoint: "coordinator access", logger: logger)
    }

    /// Everyone admitted: a coordinator without keys.
    public static func open(loopback: Bool = true) -> AccessGate {
        AccessGate(keys: nil, security: loopback ? .loopback : .insecure)
    }

    public var policy: AccessPolicy { state.withLock { $0 } }

    /// Replaces the authorized keys (a revoked key's messages are refused from now on).
    public func reload(_ keys: AuthorizedKeys) { state.withLock { $0.keys = keys } }

    /// Where the transport's handshake refusals come from (`ZMQTransport`'s authenticator).
    public func handshakeRefusals(from source: @escaping @Sendable () -> [HandshakeRefusal]) {
        handshakeRefusals.withLock { $0 = source }
    }

    /// Nil when admitted; else the `Error{PERMISSION_DENIED}` to answer, the refusal counted
    /// and its first of each kind logged.
    public func check(_ inbound: Inbound) -> ErrorReply? {
        let envelope = inbound.message.envelope
        guard let refusal = policy.refusal(of: envelope.body, sender: envelope.sender, peerKey: inbound.peerKey) else { return nil }
        let key = inbound.peerKey ?? ""
        drops.record("permission-denied", detail: "\(refusal.entry.map { "'\($0.name)' " } ?? "")\(key.isEmpty ? "(no key)" : key): "
            + refusal.message)
        refused.withLock { table in
            var e = table[key] ?? RefusedEntry(name: refusal.entry?.name ?? "", reason: refusal.reason, count: 0, last: clock.instant())
            e.count += 1
            e.reason = refusal.reason
            e.last = clock.instant()
            table[key] = e
        }
        return ErrorReply(code: .permissionDenied, message: refusal.message)
    }

    /// The public key listed for worker `name`.
    public func publicKey(ofWorker name: String) -> String? {
        policy.keys?.entries.first { $0.name == name && $0.role == .worker }?.publicKey
    }

    /// Refused keys for `status`: message refusals here and handshake refusals of the transport,
    /// the most recent first, at most ``ClusterStatus/maxRefusedKeys``.
    public func refusedKeys() -> [RefusedKey] {
        let now = clock.instant()
        var out = refused.withLock { table in
            table.map { key, e in
                RefusedKey(publicKey: key, name: e.name, reason: e.reason, count: e.count,
                           lastMsAgo: UInt64(max(0, (now - e.last).wholeMilliseconds)))
            }
        }
        let keys = policy.keys
        for h in handshakeRefusals.withLock({ $0 })?() ?? [] {
            out.append(RefusedKey(publicKey: h.key, name: keys?.entry(for: h.key)?.name ?? "", reason: h.reason, count: h.count,
                                  lastMsAgo: UInt64(max(0, (now - h.last).wholeMilliseconds))))
        }
        out.sort { $0.lastMsAgo < $1.lastMsAgo }
        return Array(out.prefix(ClusterStatus.maxRefusedKeys))
    }
}
