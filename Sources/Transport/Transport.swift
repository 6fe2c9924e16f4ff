import Clocks
import Wire

/// How the runtime talks to other nodes (DESIGN.md §4 "abstraction / real / fake"): the
/// coordinator and each worker's data endpoint *listen* (ZeroMQ ROUTER: many peers, replies
/// routed by peer), workers and CLI calls *connect* (DEALER). Messages are `Wire.Message`s:
/// an `Envelope` plus raw tensor frames, validated on receipt.
///
/// Implementations: `InMemoryTransport` (tests, whole clusters in one process) and
/// `ZMQTransport` (libzmq over tcp/ipc/inproc).
public protocol Transport: Sendable {
    /// Binds a listening endpoint at `address` (e.g. `tcp://127.0.0.1:*` for any free port).
    func listen(at address: String) async throws -> any Listener
    /// Connects to a listening endpoint. `identity` is the routing id the listener sees
    /// (nil: a fresh random one). Connecting does not wait for the peer to be up; sends wait
    /// (bounded) until it is.
    func connect(to address: String, identity: String?) async throws -> any Connection
    /// Closes every endpoint of this transport; bounded by the configured linger time.
    func shutdown() async
    /// CURVE: the server key of the listener at `address`, for later connects to it (without
    /// CURVE: nothing).
    func trustServer(at address: String, publicKey: String) throws
    /// CURVE: the client keys this transport's listeners admit from now on (without CURVE:
    /// nothing). Connections admitted earlier stay; receivers check `Inbound.peerKey`.
    func admit(_ keys: Set<String>)
}

extension Transport {
    public func trustServer(at address: String, publicKey: String) throws {}
    public func admit(_ keys: Set<String>) {}

    public func connect(to address: String) async throws -> any Connection {
        try await connect(to: address, identity: nil)
    }
}

/// A bound endpoint that receives from many peers and answers each by its `PeerID`.
public protocol Listener: Sendable {
    /// The address peers can connect to (wildcards resolved, e.g. the chosen port).
    var address: String { get }
    /// The next valid message, or nil after `timeout`. Invalid input never arrives here: it
    /// is counted in `drops` (and answered with an `ErrorReply` when the sender is known).
    func receive(timeout: Duration) async throws -> Inbound?
    /// Queues `message` for `peer`; waits (bounded) only while the send queue is full.
    func send(_ message: Message, to peer: PeerID) async throws
    /// Counts of refused input and undeliverable output, by kind.
    var drops: DropCounter { get }
    func close() async
}

/// A connection to one listener.
public protocol Connection: Sendable {
    var address: String { get }
    /// Why the listener refused this connection's security handshake, once it did (a refused
    /// CURVE handshake is otherwise silent: sends just wait); nil while none failed.
    var handshakeFailure: HandshakeFailure? { get }
    func receive(timeout: Duration) async throws -> Message?
    func send(_ message: Message) async throws
    var drops: DropCounter { get }
    func close() async
}

extension Connection {
    public var handshakeFailure: HandshakeFailure? { nil }
}

/// Why a connection's security handshake failed, as its socket saw it.
public enum HandshakeFailure: Sendable, Equatable {
    /// The listener's authenticator refused this client's key (ZAP status, e.g. 400).
    case keyRefused(status: Int)
    /// The listener speaks CURVE and this side does not (or the other way round).
    case mechanismMismatch(localCurve: Bool)
    /// The handshake's cryptography failed (seen by the side that could not decrypt).
    case cryptographic
    /// The listener closed the connection during the handshake without saying why (libzmq:
    /// HANDSHAKE_FAILED_NO_DETAIL). What a client sees when the listener wants CURVE and it has
    /// none (`localCurve` false), or when the server key it used is not the listener's (true).
    case closedByListener(localCurve: Bool)
    /// Another protocol error.
    case other(String)
}

/// Clients a listener refused at the security handshake, by key ("" for clients whose key it
/// could not learn: no CURVE, or a failed cryptography).
public struct HandshakeRefusal: Sendable, Equatable {
    public var key: String
    public var reason: String
    public var count: UInt64
    public var last: ClockInstant

    public init(key: String, reason: String, count: UInt64, last: ClockInstant) {
        self.key = key
        self.reason = reason
        self.count = count
        self.last = last
    }
}

/// A message, the peer it came from, and when the transport took it off the wire (see
/// ``RawInbound``): liveness counts a message as heard at its arrival, not when a possibly
/// stalled receiver got round to it. The stamp is a reading of the transport's clock; without
/// one (messages a test builds by hand) it is the real clock's now.
public struct Inbound: Sendable {
    public let peer: PeerID
    public let message: Message
    public let arrivedAt: ClockInstant
    /// Who sent it, as the transport authenticated it: the sender's CURVE public key (Z85), nil
    /// without CURVE. Unlike `Envelope.sender`, a peer cannot choose it.
    public let peerKey: String?

    public init(peer: PeerID, message: Message, arrivedAt: ClockInstant = SystemRuntimeClock().instant(), peerKey: String? = nil) {
        self.peer = peer
        self.message = message
        self.arrivedAt = arrivedAt
        self.peerKey = peerKey
    }
}

/// The routing id a listener knows a connected peer by (ZeroMQ ROUTER identity).
public struct PeerID: Hashable, Sendable, CustomStringConvertible {
    public let bytes: [UInt8]

    public init(bytes: [UInt8]) { self.bytes = bytes }
    public init(_ name: String) { self.bytes = Array(name.utf8) }

    /// The id as text when printable, else as hex (ZeroMQ's generated ids are binary).
    public var description: String {
        if !bytes.isEmpty, bytes.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) { return String(decoding: bytes, as: UTF8.self) }
        return "0x" + bytes.map { b in
            let s = String(b, radix: 16)
            return s.count == 1 ? "0" + s : s
        }.joined()
    }
}

/// What can go wrong when using a transport. Every case says what happened and where.
public enum TransportError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The endpoint or transport was closed.
    case closed
    /// A bounded wait ran out.
    case timedOut(String)
    /// The address is not one this transport understands.
    case invalidAddress(String, reason: String)
    /// Binding or connecting failed (address in use, unknown host …).
    case endpointFailed(String, reason: String)
    /// An outgoing message broke the wire rules (a bug in the sender).
    case invalidMessage(WireError)
    /// Security configuration is unusable (bad key, missing file).
    case security(String)

    public var description: String {
        switch self {
        case .closed: return "the transport endpoint is closed"
        case .timedOut(let what): return "timed out: \(what)"
        case .invalidAddress(let a, let reason): return "invalid address '\(a)': \(reason)"
        case .endpointFailed(let a, let reason): return "cannot use endpoint '\(a)': \(reason)"
        case .invalidMessage(let e): return "refusing to send an invalid message: \(e)"
        case .security(let s): return "security: \(s)"
        }
    }
}

/// Sending frames exactly as given, without the sender-side validation of `send`. Only tests
/// and fuzzers use it, to check that receivers survive bad input.
public protocol UnvalidatedSending: Sendable {
    func sendUnvalidated(_ frames: [Frame]) async throws
}
