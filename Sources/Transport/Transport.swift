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
}

extension Transport {
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
    func receive(timeout: Duration) async throws -> Message?
    func send(_ message: Message) async throws
    var drops: DropCounter { get }
    func close() async
}

/// A message, the peer it came from, and when the transport took it off the wire (see
/// ``RawInbound``): liveness counts a message as heard at its arrival, not when a possibly
/// stalled receiver got round to it. The stamp is a reading of the transport's clock; without
/// one (messages a test builds by hand) it is the real clock's now.
public struct Inbound: Sendable {
    public let peer: PeerID
    public let message: Message
    public let arrivedAt: ClockInstant

    public init(peer: PeerID, message: Message, arrivedAt: ClockInstant = SystemRuntimeClock().instant()) {
        self.peer = peer
        self.message = message
        self.arrivedAt = arrivedAt
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
