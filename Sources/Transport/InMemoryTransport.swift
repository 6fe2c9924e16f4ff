import Clocks
import Logging
import Synchronization
import Wire

/// A set of in-memory endpoints that can reach each other: the fake network for tests that run
/// whole clusters in one process. Messages are really encoded to frames and decoded with the
/// same rules as over ZeroMQ, so invalid messages behave the same way. Its queues' timeouts and
/// arrival stamps run on `clock` (the real one unless a test injects a `ManualClock`; then a
/// receive with a timeout returns empty only when the test moves the clock).
public final class InMemoryNetwork: Sendable {
    public let clock: any RuntimeClock
    private let listeners = Mutex<[String: InMemoryListener]>([:])
    private let counter = Mutex<UInt64>(0)
    private let holds = Mutex<[String: @Sendable (Message) -> Bool]>([:])
    /// Kept-back messages by sender, each as the delivery to perform on `release`.
    private let held = Mutex<[String: [@Sendable () async -> Void]]>([:])

    public init(clock: any RuntimeClock = SystemRuntimeClock()) { self.clock = clock }

    /// Fault injection: from now on, messages that node `node` sends on its connections (or, for
    /// a listening node, to its peers) and that `predicate` selects are kept back (a slow or reordering network) until `release`.
    public func hold(from node: String, where predicate: @escaping @Sendable (Message) -> Bool) {
        holds.withLock { $0[node] = predicate }
    }

    /// Stops holding `node`'s messages and delivers the ones held, in the order they were sent.
    public func release(from node: String) async {
        holds.withLock { _ = $0.removeValue(forKey: node) }
        let kept = held.withLock { $0.removeValue(forKey: node) ?? [] }
        for deliver in kept { await deliver() }
    }

    /// True when the message was kept back (`deliver` then runs on `release`).
    func keepBack(_ message: Message, from node: String, deliver: @escaping @Sendable () async -> Void) -> Bool {
        guard let predicate = holds.withLock({ $0[node] }), predicate(message) else { return false }
        held.withLock { $0[node, default: []].append(deliver) }
        return true
    }

    /// A transport for one node of this network.
    ///
    /// - Parameter key: the public key this node's connections authenticate with (what CURVE
    ///   would prove), stamped on everything they send as `Inbound.peerKey`; nil: none.
    public func transport(
        name: String, limits: WireLimits = .standard, queueCapacity: Int = 1024,
        sendTimeout: Duration = .seconds(5), key: String? = nil, logger: Logger = Logger(label: "distillery.transport.memory")
    ) -> InMemoryTransport {
        InMemoryTransport(network: self, name: name, limits: limits, queueCapacity: queueCapacity,
                          sendTimeout: sendTimeout, key: key, logger: logger)
    }

    func register(_ listener: InMemoryListener, at address: String) throws {
        try listeners.withLock { l in
            if l[address] != nil { throw TransportError.endpointFailed(address, reason: "address already in use") }
            l[address] = listener
        }
    }

    func unregister(_ address: String) { _ = listeners.withLock { $0.removeValue(forKey: address) } }
    func listener(at address: String) -> InMemoryListener? { listeners.withLock { $0[address] } }

    func freshID() -> UInt64 { counter.withLock { $0 += 1; return $0 } }
}

/// One node's view of an `InMemoryNetwork`. Addresses are `mem://NAME`; `mem://*` picks a
/// fresh name.
public final class InMemoryTransport: Transport {
    let network: InMemoryNetwork
    let name: String
    let limits: WireLimits
    let queueCapacity: Int
    let sendTimeout: Duration
    let logger: Logger
    /// The key this node's connections authenticate with.
    let key: String?
    /// The keys this node's listeners admit (as ZAP would); nil: everyone.
    private let admitted = Mutex<Set<String>?>(nil)
    var clock: any RuntimeClock { network.clock }
    private let endpoints = Mutex<[any EndpointClosing]>([])

    init(network: InMemoryNetwork, name: String, limits: WireLimits, queueCapacity: Int, sendTimeout: Duration,
         key: String?, logger: Logger) {
        self.network = network
        self.name = name
        self.limits = limits
        self.queueCapacity = queueCapacity
        self.sendTimeout = sendTimeout
        self.key = key
        self.logger = logger
    }

    /// From now on this node's listeners take messages only from connections whose key is in
    /// `keys` (nil: from everyone), as a CURVE listener's authenticator would; the others are
    /// dropped and counted as "curve-rejected", and their connection reports `keyRefused`.
    public func admit(_ keys: Set<String>?) { admitted.withLock { $0 = keys } }
    public func admit(_ keys: Set<String>) { admit(Optional(keys)) }

    func admits(_ key: String?) -> Bool {
        guard let keys = admitted.withLock({ $0 }) else { return true }
        return key.map { keys.contains($0) } ?? false
    }

    public func listen(at address: String) async throws -> any Listener {
        guard address.hasPrefix("mem://"), address.count > 6 else {
            throw TransportError.invalidAddress(address, reason: "in-memory addresses look like mem://NAME")
        }
        let resolved = address == "mem://*" ? "mem://\(name)-\(network.freshID())" : address
        let listener = InMemoryListener(address: resolved, transport: self)
        try network.register(listener, at: resolved)
        endpoints.withLock { $0.append(listener) }
        return listener
    }

    public func connect(to address: String, identity: String?) async throws -> any Connection {
        guard address.hasPrefix("mem://") else {
            throw TransportError.invalidAddress(address, reason: "in-memory addresses look like mem://NAME")
        }
        let peer = PeerID(identity ?? "\(name)-conn-\(network.freshID())")
        let connection = InMemoryConnection(address: address, peer: peer, transport: self)
        endpoints.withLock { $0.append(connection) }
        return connection
    }

    public func shutdown() async {
        let all = endpoints.withLock { e -> [any EndpointClosing] in defer { e = [] }; return e }
        for e in all { await e.close() }
    }
}

protocol EndpointClosing: Sendable { func close() async }

/// Receives frames from connections; decodes them on `receive`.
final class InMemoryListener: Listener, EndpointClosing {
    let address: String
    let drops: DropCounter
    private let transport: InMemoryTransport
    private let decoder: InboundDecoder
    let inbox: BoundedQueue<RawInbound>
    private let peers = Mutex<[PeerID: InMemoryConnection]>([:])

    init(address: String, transport: InMemoryTransport) {
        self.address = address
        self.transport = transport
        self.drops = DropCounter(endpoint: address, logger: transport.logger)
        self.decoder = InboundDecoder(limits: transport.limits, drops: drops, localName: transport.name, clock: transport.clock)
        self.inbox = BoundedQueue(capacity: transport.queueCapacity, clock: transport.clock)
    }

    func attach(_ connection: InMemoryConnection) { peers.withLock { $0[connection.peer] = connection } }
    func admits(_ key: String?) -> Bool { transport.admits(key) }

    func receive(timeout: Duration) async throws -> Inbound? {
        try await decoder.next(from: inbox, timeout: timeout) { peer, frames in
            guard let connection = peers.withLock({ $0[peer] }) else { return false }
            return connection.inbox.offer(RawInbound(peer: PeerID(address), frames: frames, arrivedAt: transport.clock.instant())) == .accepted
        }
    }

    func send(_ message: Message, to peer: PeerID) async throws {
        let frames: [Frame]
        do { frames = try WireCodec.encode(message) } catch { throw TransportError.invalidMessage(error) }
        guard let connection = peers.withLock({ $0[peer] }) else {
            drops.record("unroutable", detail: "no connected peer \(peer)")
            return
        }
        let raw = RawInbound(peer: PeerID(address), frames: frames, arrivedAt: transport.clock.instant())
        if transport.network.keepBack(message, from: transport.name, deliver: { [transport] in
            try? await connection.inbox.put(raw, timeout: transport.sendTimeout)
        }) { return }
        do {
            try await connection.inbox.put(RawInbound(peer: PeerID(address), frames: frames, arrivedAt: transport.clock.instant()), timeout: transport.sendTimeout)
        } catch TransportError.closed {
            drops.record("unroutable", detail: "peer \(peer) closed its connection")
        }
    }

    func close() async {
        transport.network.unregister(address)
        inbox.close()
    }
}

/// Sends to a listener found by address at send time (so connecting before the listener
/// exists works, as with ZeroMQ); waits up to the send timeout for it to appear.
final class InMemoryConnection: Connection, EndpointClosing, UnvalidatedSending {
    let address: String
    let peer: PeerID
    let drops: DropCounter
    private let transport: InMemoryTransport
    private let decoder: InboundDecoder
    let inbox: BoundedQueue<RawInbound>

    init(address: String, peer: PeerID, transport: InMemoryTransport) {
        self.address = address
        self.peer = peer
        self.transport = transport
        self.drops = DropCounter(endpoint: "\(address) (connection \(peer))", logger: transport.logger)
        self.decoder = InboundDecoder(limits: transport.limits, drops: drops, localName: transport.name, clock: transport.clock)
        self.inbox = BoundedQueue(capacity: transport.queueCapacity, clock: transport.clock)
    }

    func send(_ message: Message) async throws {
        let frames: [Frame]
        do { frames = try WireCodec.encode(message) } catch { throw TransportError.invalidMessage(error) }
        if transport.network.keepBack(message, from: transport.name, deliver: { [self] in try? await sendUnvalidated(frames) }) { return }
        try await sendUnvalidated(frames)
    }

    private let refused = Mutex<HandshakeFailure?>(nil)
    var handshakeFailure: HandshakeFailure? { refused.withLock { $0 } }

    func sendUnvalidated(_ frames: [Frame]) async throws {
        if inbox.isClosed { throw TransportError.closed }
        let deadline = transport.clock.deadline(after: transport.sendTimeout)
        while true {
            if let listener = transport.network.listener(at: address) {
                guard listener.admits(transport.key) else {
                    // As over ZeroMQ: a client without a key is closed at the handshake, one
                    // with an unlisted key refused by the authenticator.
                    refused.withLock { $0 = transport.key == nil ? .closedByListener(localCurve: false) : .keyRefused(status: 400) }
                    listener.drops.record("curve-rejected", detail: "client \(transport.key ?? "without a key") (\(peer)) is not admitted")
                    return
                }
                listener.attach(self)
                try await listener.inbox.put(RawInbound(peer: peer, frames: frames, arrivedAt: transport.clock.instant(), peerKey: transport.key),
                                             timeout: max(deadline.remaining, .milliseconds(1)))
                return
            }
            guard !deadline.hasPassed else {
                throw TransportError.timedOut("nobody listens at \(address) after \(transport.sendTimeout)")
            }
            try await deadline.pause(atMost: .milliseconds(5))
        }
    }

    func receive(timeout: Duration) async throws -> Message? {
        try await decoder.next(from: inbox, timeout: timeout) { _, frames in
            guard let listener = transport.network.listener(at: address), listener.admits(transport.key) else { return false }
            return listener.inbox.offer(RawInbound(peer: peer, frames: frames, arrivedAt: transport.clock.instant(), peerKey: transport.key)) == .accepted
        }?.message
    }

    func close() async { inbox.close() }
}
