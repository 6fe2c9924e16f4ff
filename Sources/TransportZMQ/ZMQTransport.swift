import Clocks
import Foundation
import Logging
import Synchronization
import Transport
import Wire

/// `Transport` over libzmq: listeners are ROUTER sockets, connections DEALER sockets, all
/// owned by one poller thread per transport (see `Reactor`). Tensor frames are sent and
/// received without copying. With `security`, listeners are CURVE servers that admit only
/// the authorized client keys (ZAP), and connections are CURVE clients.
///
/// Call `shutdown()` before dropping the transport; it returns within the linger time.
public final class ZMQTransport: Transport {
    public let name: String
    public let options: ZMQOptions
    public let security: CurveSecurity?
    private let reactor: Reactor
    private let logger: Logger
    private let isShutDown = Mutex(false)
    private let serverKeys: Mutex<[String: String]>

    /// - Parameters:
    ///   - name: this node's name, the `sender` of the error replies it sends.
    ///   - clock: stamps arrivals and runs every timeout of this transport's queues.
    public init(name: String, options: ZMQOptions = ZMQOptions(), security: CurveSecurity? = nil,
                clock: any RuntimeClock = SystemRuntimeClock(),
                logger: Logger = Logger(label: "distillery.transport.zmq")) throws {
        self.name = name
        self.options = options
        self.security = security
        self.logger = logger
        self.serverKeys = Mutex(security?.serverKeys ?? [:])
        self.reactor = try Reactor(options: options, security: security, clock: clock, logger: logger)
    }

    /// Drops of the CURVE authenticator: "curve-rejected" counts refused clients.
    public var authenticationDrops: DropCounter { reactor.zapDrops }

    /// From now on the listeners' authenticator admits exactly `keys` (CURVE public keys, Z85):
    /// new connections with any other key are refused. Connections already admitted stay
    /// (the receiver checks `Inbound.peerKey` against what it trusts now).
    public func admit(_ keys: Set<String>) { reactor.authorized.withLock { $0 = keys } }

    /// Clients the listeners refused at the handshake, by key (a client without CURVE, or
    /// whose handshake failed its cryptography, under "").
    public func handshakeRefusals() -> [HandshakeRefusal] { reactor.refusals.withLock { Array($0.values) } }

    /// Records the CURVE public key of the server at `address` (used by later `connect`s).
    public func trustServer(at address: String, publicKey: String) throws {
        guard CurveKeyPair.isZ85Key(publicKey) else { throw TransportError.security("server key for \(address) is not a Z85 key") }
        serverKeys.withLock { $0[address] = publicKey }
    }

    public func listen(at address: String) async throws -> any Listener {
        let channel = try await open(SocketRequest(kind: .listener, address: address, identity: nil, curveServerKey: nil),
                                     endpointName: address)
        return ZMQListener(channel: channel, transport: self)
    }

    public func connect(to address: String, identity: String?) async throws -> any Connection {
        var serverKey: String?
        if security != nil {
            serverKey = serverKeys.withLock { $0[address] } ?? security?.defaultServerKey
            guard serverKey != nil else {
                throw TransportError.security("no CURVE server key known for \(address); pass the server's .pub file")
            }
        }
        let channel = try await open(SocketRequest(kind: .connection, address: address, identity: identity, curveServerKey: serverKey),
                                     endpointName: "connection to \(address)")
        return ZMQConnection(channel: channel, transport: self)
    }

    public func shutdown() async {
        let already = isShutDown.withLock { s -> Bool in defer { s = true }; return s }
        guard !already else { return }
        // Bounded: libzmq gets the linger time plus a margin; should its context termination
        // ever stall, the caller is released anyway and the stall is logged.
        let finished = BoundedQueue<Bool>(capacity: 1, clock: reactor.clock)
        reactor.submit(.shutdown { _ = finished.offer(true) })
        let limit = Duration.milliseconds(Int(options.lingerMs)) * 2 + .seconds(2)
        if (try? await finished.take(timeout: limit)) == nil {
            logger.error("\(name): ZeroMQ shutdown did not finish within \(limit); continuing without it")
        }
    }

    private func open(_ request: SocketRequest, endpointName: String) async throws -> SocketChannel {
        if isShutDown.withLock({ $0 }) { throw TransportError.closed }
        let drops = DropCounter(endpoint: endpointName, logger: logger)
        return try await withCheckedThrowingContinuation { reactor.submit(.open(request, drops, $0)) }
    }

    func close(_ channel: SocketChannel) async {
        if isShutDown.withLock({ $0 }) { return }
        await withCheckedContinuation { reactor.submit(.close(channel.id, $0)) }
    }

    func decoder(for channel: SocketChannel) -> InboundDecoder {
        InboundDecoder(limits: options.limits, drops: channel.drops, localName: name, clock: reactor.clock)
    }
}

/// A bound ROUTER socket.
final class ZMQListener: Listener {
    private let channel: SocketChannel
    private let transport: ZMQTransport
    private let decoder: InboundDecoder

    init(channel: SocketChannel, transport: ZMQTransport) {
        self.channel = channel
        self.transport = transport
        self.decoder = transport.decoder(for: channel)
    }

    var address: String { channel.address }
    var drops: DropCounter { channel.drops }

    func receive(timeout: Duration) async throws -> Inbound? {
        try await decoder.next(from: channel.inbox, timeout: timeout) { peer, frames in
            channel.outbox.offer(Outgoing(peer: peer, frames: frames)) == .accepted
        }
    }

    func send(_ message: Message, to peer: PeerID) async throws {
        let frames: [Frame]
        do { frames = try WireCodec.encode(message) } catch { throw TransportError.invalidMessage(error) }
        try await channel.outbox.put(Outgoing(peer: peer, frames: frames), timeout: transport.options.sendTimeout)
    }

    func close() async { await transport.close(channel) }
}

/// A DEALER socket connected to one listener.
final class ZMQConnection: Connection, UnvalidatedSending {
    private let channel: SocketChannel
    private let transport: ZMQTransport
    private let decoder: InboundDecoder

    init(channel: SocketChannel, transport: ZMQTransport) {
        self.channel = channel
        self.transport = transport
        self.decoder = transport.decoder(for: channel)
    }

    var address: String { channel.address }
    var drops: DropCounter { channel.drops }
    var handshakeFailure: HandshakeFailure? { channel.handshake.withLock { $0 } }

    func receive(timeout: Duration) async throws -> Message? {
        try await decoder.next(from: channel.inbox, timeout: timeout) { _, frames in
            channel.outbox.offer(Outgoing(peer: nil, frames: frames)) == .accepted
        }?.message
    }

    func send(_ message: Message) async throws {
        let frames: [Frame]
        do { frames = try WireCodec.encode(message) } catch { throw TransportError.invalidMessage(error) }
        try await sendUnvalidated(frames)
    }

    func sendUnvalidated(_ frames: [Frame]) async throws {
        try await channel.outbox.put(Outgoing(peer: nil, frames: frames), timeout: transport.options.sendTimeout)
    }

    func close() async { await transport.close(channel) }
}
