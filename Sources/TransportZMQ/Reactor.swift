import Clocks
import ClusterCore
import CZeroMQ
import Foundation
import Logging
import Synchronization
import Transport
import Wire

/// A message waiting to be sent: for a listener (ROUTER) `peer` is the routing id to prepend.
struct Outgoing: Sendable {
    let peer: PeerID?
    let frames: [Frame]
}

/// What the async side shares with the poller thread for one socket: the two queues. The
/// socket itself is touched only by the poller thread (ZeroMQ sockets are not thread-safe).
final class SocketChannel: Sendable {
    enum Kind: Sendable { case listener, connection }
    let id: Int
    let kind: Kind
    let address: String
    let inbox: BoundedQueue<RawInbound>
    let outbox: BoundedQueue<Outgoing>
    let drops: DropCounter
    /// The last failed security handshake on this socket (connections); cleared by a success.
    let handshake = Mutex<HandshakeFailure?>(nil)

    init(id: Int, kind: Kind, address: String, capacity: Int, drops: DropCounter, clock: any RuntimeClock,
         wake: @escaping @Sendable () -> Void) {
        self.id = id
        self.kind = kind
        self.address = address
        self.drops = drops
        self.inbox = BoundedQueue(capacity: capacity, clock: clock, onSpace: wake)
        self.outbox = BoundedQueue(capacity: capacity, clock: clock, onItem: wake)
    }
}

/// What to open: a listener binds, a connection connects.
struct SocketRequest: Sendable {
    let kind: SocketChannel.Kind
    let address: String
    let identity: String?
    /// CURVE server (listeners) or client with this server key (connections); nil: no CURVE.
    let curveServerKey: String?
}

/// The poller thread: owns the ZeroMQ context and every socket, moves messages between the
/// sockets and the `SocketChannel` queues, and never blocks Swift's cooperative pool.
///
/// Loop rule: drain commands; for each socket receive while its inbox has room and send while
/// libzmq accepts (non-blocking, at most `burst` messages per socket per pass); then
/// `zmq_poll` the sockets (POLLIN only where the inbox has room, POLLOUT where a send is
/// pending) together with an eventfd that async callers signal. Shutdown closes every socket
/// with the configured linger, so `zmq_ctx_term` returns within that bound.
final class Reactor: @unchecked Sendable {
    let context: UnsafeMutableRawPointer
    private let wakeFD: Int32
    private let wakePending = Atomic<Bool>(false)
    /// Commands for the poller thread; nil once it has stopped (later commands are answered
    /// at once with `closed`, so no caller ever waits for a thread that is gone).
    private let commands = Mutex<[Command]?>([])
    let options: ZMQOptions
    let security: CurveSecurity?
    let logger: Logger
    /// Stamps arrivals and times the linger and peer-full limits.
    let clock: any RuntimeClock
    private let nextID = Atomic<Int>(1)
    let zapDrops: DropCounter
    /// The client keys the ZAP handler admits now (``ZMQTransport/admit(_:)`` replaces them).
    let authorized: Mutex<Set<String>>
    /// Clients refused at the handshake, by key (``ZMQTransport/handshakeRefusals()``).
    let refusals = Mutex<[String: HandshakeRefusal]>([:])

    func recordRefusal(key: String, reason: String) {
        let now = clock.instant()
        refusals.withLock { table in
            var r = table[key] ?? HandshakeRefusal(key: key, reason: reason, count: 0, last: now)
            r.count += 1
            r.reason = reason
            r.last = now
            table[key] = r
        }
    }

    enum Command {
        case open(SocketRequest, DropCounter, CheckedContinuation<SocketChannel, any Error>)
        case close(Int, CheckedContinuation<Void, Never>)
        case shutdown(@Sendable () -> Void)
    }

    // Poller-thread state.
    struct Socket {
        let channel: SocketChannel
        let handle: UnsafeMutableRawPointer
        /// The PAIR socket receiving this socket's handshake events (``Reactor/monitor(_:of:)``).
        var monitor: UnsafeMutableRawPointer?
        /// Connections refused at the handshake: when to connect again, and the wait after that.
        var reconnectAt: ClockInstant?
        var reconnectBackoff: Duration = Reactor.refusedReconnectInitial
        /// Taken from the outbox but refused by libzmq with EAGAIN (peer's pipe full).
        var pending: Outgoing?
        /// When `pending` was first refused (listeners give up on a full peer after a while).
        var pendingSince: ClockInstant?
    }
    var sockets: [Int: Socket] = [:]
    var zapSocket: UnsafeMutableRawPointer?
    private let burst = 256
    /// Poll items of monitors are tagged `monitorItem - socket id` (below every other tag).
    static let monitorItem = -1000
    private var thread: Thread?

    init(options: ZMQOptions, security: CurveSecurity?, clock: any RuntimeClock, logger: Logger) throws {
        guard let ctx = zmq_ctx_new() else { throw TransportError.endpointFailed("zmq context", reason: ZMQFrames.lastError()) }
        context = ctx
        // One libzmq I/O thread is plenty below ~1 GB/s per node (libzmq guide).
        zmq_ctx_set(ctx, ZMQ_IO_THREADS, 1)
        zmq_ctx_set(ctx, ZMQ_BLOCKY, 0)
        let fd = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))
        guard fd >= 0 else {
            zmq_ctx_term(ctx)
            throw TransportError.endpointFailed("eventfd", reason: String(cString: strerror(errno)))
        }
        wakeFD = fd
        self.options = options
        self.security = security
        self.logger = logger
        self.clock = clock
        self.zapDrops = DropCounter(endpoint: "ZAP handler", logger: logger)
        self.authorized = Mutex(security?.authorizedClients ?? [])
        if security != nil { try startZAPHandler() }
        let thread = Thread { [self] in self.run() }
        thread.name = "distillery-zmq"
        self.thread = thread
        thread.start()
    }

    deinit { close(wakeFD) }

    // MARK: async side

    /// Signals the poller thread (at most one pending eventfd write at a time).
    func wake() {
        if !wakePending.exchange(true, ordering: .sequentiallyConsistent) {
            var one: UInt64 = 1
            _ = write(wakeFD, &one, 8)
        }
    }

    func allocateID() -> Int { nextID.wrappingAdd(1, ordering: .relaxed).oldValue }

    func submit(_ command: Command) {
        let accepted = commands.withLock { c -> Bool in
            guard c != nil else { return false }
            c!.append(command)
            return true
        }
        if accepted { wake(); return }
        switch command {
        case .open(_, _, let c): c.resume(throwing: TransportError.closed)
        case .close(_, let c): c.resume()
        case .shutdown(let done): done()
        }
    }

    // MARK: poller thread

    private func run() {
        var items: [zmq_pollitem_t] = []
        var ids: [Int] = []
        /// Sockets whose monitor had events at the last poll (read at the next pass only: no
        /// extra work per pass for quiet monitors).
        var monitorsReady = Set(sockets.keys)
        while true {
            // Drain first, then clear the flag. The other order loses wake-ups: a wake() that
            // sets the flag and writes between the two steps has its write drained while the
            // flag stays set, so every later wake() skips the write and the loop below sleeps
            // in zmq_poll(-1) with work waiting (seen under load: a full receive queue whose
            // consumer had made room, never refilled). Any wake() whose write lands after the
            // drain leaves the eventfd readable, so the poll returns at once.
            var drained: UInt64 = 0
            _ = read(wakeFD, &drained, 8)
            wakePending.store(false, ordering: .sequentiallyConsistent)

            for command in commands.withLock({ c -> [Command] in defer { c = [] }; return c ?? [] }) {
                switch command {
                case .open(let request, let drops, let continuation):
                    do { continuation.resume(returning: try open(request, drops: drops)) }
                    catch { continuation.resume(throwing: error) }
                case .close(let id, let continuation):
                    closeSocket(id, flushBy: clock.deadline(after: .milliseconds(Int(options.lingerMs))))
                    continuation.resume()
                case .shutdown(let done):
                    let deadline = clock.deadline(after: .milliseconds(Int(options.lingerMs)))
                    for id in Array(sockets.keys) { closeSocket(id, flushBy: deadline) }
                    if let zap = zapSocket { zmq_close(zap); zapSocket = nil }
                    zmq_ctx_term(context)
                    // The eventfd stays open until deinit: a late wake() must never write into a
                    // descriptor number the kernel has handed to someone else (e.g. another
                    // context's libzmq signaler).
                    // Commands that raced with shutdown still get an answer.
                    for late in commands.withLock({ c -> [Command] in defer { c = nil }; return c ?? [] }) {
                        switch late {
                        case .open(_, _, let c): c.resume(throwing: TransportError.closed)
                        case .close(_, let c): c.resume()
                        case .shutdown(let done): done()
                        }
                    }
                    done()
                    return
                }
            }

            var busy = false
            var routerBlocked = false
            for id in sockets.keys {
                if serviceSocket(id) { busy = true }
                if let s = sockets[id], s.pending != nil, s.channel.kind == .listener { routerBlocked = true }
            }
            if let zap = zapSocket { serviceZAP(zap) }
            for id in monitorsReady { serviceMonitor(id) }
            monitorsReady.removeAll(keepingCapacity: true)
            let reconnectIn = reconnectRefused()

            items.removeAll(keepingCapacity: true)
            ids.removeAll(keepingCapacity: true)
            items.append(zmq_pollitem_t(socket: nil, fd: wakeFD, events: Int16(ZMQ_POLLIN), revents: 0))
            ids.append(-1)
            if let zap = zapSocket {
                items.append(zmq_pollitem_t(socket: zap, fd: 0, events: Int16(ZMQ_POLLIN), revents: 0))
                ids.append(-2)
            }
            for (id, s) in sockets {
                if let monitor = s.monitor {
                    items.append(zmq_pollitem_t(socket: monitor, fd: 0, events: Int16(ZMQ_POLLIN), revents: 0))
                    ids.append(Reactor.monitorItem - id)
                }
                var events: Int32 = 0
                if !s.channel.inbox.isFull { events |= Int32(ZMQ_POLLIN) }
                if s.pending != nil { events |= Int32(ZMQ_POLLOUT) }
                guard events != 0 else { continue }
                items.append(zmq_pollitem_t(socket: s.handle, fd: 0, events: Int16(events), revents: 0))
                ids.append(id)
            }
            // A ROUTER reports POLLOUT when *any* peer can take a message, so a send blocked on
            // one slow peer is retried on a short timer instead.
            var timeout: Int32 = busy ? 0 : (routerBlocked ? 1 : -1)
            if let wait = reconnectIn, timeout != 0 {
                let ms = Int32(clamping: max(1, wait.wholeMilliseconds))
                timeout = timeout < 0 ? ms : min(timeout, ms)
            }
            _ = zmq_poll(&items, Int32(items.count), Int(timeout))
            for (i, item) in items.enumerated() where ids[i] <= Reactor.monitorItem && item.revents != 0 {
                monitorsReady.insert(Reactor.monitorItem - ids[i])
            }
        }
    }

    private func open(_ request: SocketRequest, drops: DropCounter) throws -> SocketChannel {
        let type = request.kind == .listener ? ZMQ_ROUTER : ZMQ_DEALER
        guard let handle = zmq_socket(context, type) else {
            throw TransportError.endpointFailed(request.address, reason: ZMQFrames.lastError())
        }
        do {
            try configure(handle, for: request)
            let rc = request.kind == .listener ? zmq_bind(handle, request.address) : zmq_connect(handle, request.address)
            guard rc == 0 else {
                let reason = ZMQFrames.lastError()
                if zmq_errno() == EINVAL || zmq_errno() == EPROTONOSUPPORT {
                    throw TransportError.invalidAddress(request.address, reason: "\(reason) (use tcp://HOST:PORT, ipc://PATH or inproc://NAME)")
                }
                throw TransportError.endpointFailed(request.address, reason: reason)
            }
        } catch {
            zmq_close(handle)
            throw error
        }
        var address = request.address
        if request.kind == .listener {
            var buffer = [CChar](repeating: 0, count: 1024)
            var size = buffer.count
            if zmq_getsockopt(handle, ZMQ_LAST_ENDPOINT, &buffer, &size) == 0 { address = ZMQFrames.string(buffer) }
        }
        let channel = SocketChannel(id: allocateID(), kind: request.kind, address: address,
                                    capacity: options.queueCapacity, drops: drops, clock: clock,
                                    wake: { [weak self] in self?.wake() })
        sockets[channel.id] = Socket(channel: channel, handle: handle, monitor: monitor(channel.id, of: handle), pending: nil, pendingSince: nil)
        return channel
    }

    private func configure(_ s: UnsafeMutableRawPointer, for request: SocketRequest) throws {
        func set(_ option: Int32, _ value: Int32) throws {
            var v = value
            guard zmq_setsockopt(s, option, &v, MemoryLayout<Int32>.size) == 0 else {
                throw TransportError.endpointFailed(request.address, reason: "setsockopt \(option): \(ZMQFrames.lastError())")
            }
        }
        func set(_ option: Int32, _ text: String) throws {
            let ok = text.withCString { zmq_setsockopt(s, option, $0, strlen($0)) == 0 }
            guard ok else { throw TransportError.endpointFailed(request.address, reason: "setsockopt \(option): \(ZMQFrames.lastError())") }
        }
        try set(ZMQ_LINGER, options.lingerMs)
        try set(ZMQ_SNDHWM, options.highWaterMark)
        try set(ZMQ_RCVHWM, options.highWaterMark)
        var maxSize = options.maxFrameBytes
        guard zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &maxSize, MemoryLayout<Int64>.size) == 0 else {
            throw TransportError.endpointFailed(request.address, reason: "setsockopt MAXMSGSIZE: \(ZMQFrames.lastError())")
        }
        try set(ZMQ_HEARTBEAT_IVL, options.heartbeatIntervalMs)
        try set(ZMQ_HEARTBEAT_TIMEOUT, options.heartbeatTimeoutMs)
        try set(ZMQ_HEARTBEAT_TTL, options.heartbeatTTLMs)
        try set(ZMQ_HANDSHAKE_IVL, options.handshakeMs)
        try set(ZMQ_TCP_KEEPALIVE, 1)
        switch request.kind {
        case .listener:
            try set(ZMQ_ROUTER_MANDATORY, 1)
            try set(ZMQ_ROUTER_HANDOVER, 1)
            if let security {
                try set(ZMQ_CURVE_SERVER, 1)
                try set(ZMQ_CURVE_SECRETKEY, security.keys.secretKey)
                try set(ZMQ_ZAP_DOMAIN, "distillery")
            }
        case .connection:
            try set(ZMQ_RECONNECT_IVL, options.reconnectMs)
            try set(ZMQ_RECONNECT_IVL_MAX, options.reconnectMaxMs)
            try set(ZMQ_IMMEDIATE, 1)
            if let identity = request.identity { try set(ZMQ_ROUTING_ID, identity) }
            if let security, let serverKey = request.curveServerKey {
                try set(ZMQ_CURVE_SERVERKEY, serverKey)
                try set(ZMQ_CURVE_PUBLICKEY, security.keys.publicKey)
                try set(ZMQ_CURVE_SECRETKEY, security.keys.secretKey)
            }
        }
    }

    /// Closes a socket. Messages callers already queued are handed to libzmq first, waiting
    /// at most until `deadline` for room; libzmq then delivers them within the linger time.
    private func closeSocket(_ id: Int, flushBy deadline: Deadline) {
        guard let s = sockets.removeValue(forKey: id) else { return }
        s.channel.inbox.close()
        s.channel.outbox.close()
        var leftovers = s.pending.map { [$0] } ?? []
        leftovers += s.channel.outbox.drain()
        for out in leftovers {
            var ms = Int32(clamping: deadline.remaining.wholeMilliseconds)
            zmq_setsockopt(s.handle, ZMQ_SNDTIMEO, &ms, 4)
            if send(out, on: s.handle, channel: s.channel, blocking: true) == .wouldBlock {
                s.channel.drops.record("unsent-at-close", detail: "\(leftovers.count) queued message(s) could not be handed over before closing")
                break
            }
        }
        if let monitor = s.monitor {
            zmq_socket_monitor(s.handle, nil, 0)
            zmq_close(monitor)
        }
        zmq_close(s.handle)
    }

    /// Moves messages between one socket and its queues; true when it stopped at the burst
    /// limit (more work may be ready without waiting).
    private func serviceSocket(_ id: Int) -> Bool {
        guard var s = sockets[id] else { return false }
        var busy = false
        // Receive.
        var received = 0
        while received < burst, !s.channel.inbox.isFull {
            guard let message = receive(on: s.handle, channel: s.channel) else { break }
            received += 1
            if case .full = s.channel.inbox.offer(message) {
                // Cannot happen (only this thread offers and it checked isFull); count defensively.
                s.channel.drops.record("queue-overflow", detail: "receive queue full")
            }
        }
        if received == burst { busy = true }
        // Send.
        var sent = 0
        while sent < burst {
            guard let out = s.pending ?? s.channel.outbox.poll() else { break }
            switch send(out, on: s.handle, channel: s.channel) {
            case .sent, .dropped:
                s.pending = nil
                s.pendingSince = nil
                sent += 1
            case .wouldBlock:
                // A listener serves many peers: one peer whose pipe stays full (stuck, or not
                // reading) must not block replies to the others for long.
                let now = clock.instant()
                let since = s.pendingSince ?? now
                if s.channel.kind == .listener, now - since > options.peerFullTimeout {
                    s.channel.drops.record("peer-full", detail: "peer \(out.peer.map { "\($0)" } ?? "?") did not take messages for \(options.peerFullTimeout)")
                    s.pending = nil
                    s.pendingSince = nil
                    sent += 1
                    continue
                }
                s.pending = out
                s.pendingSince = since
                sent = burst + 1  // stop
            }
        }
        if sent == burst { busy = true }
        sockets[id] = s
        return busy
    }

}
