import Clocks
import CZeroMQ
import Transport

/// Handshake events (libzmq's socket monitor, poller thread). A CURVE handshake that fails is
/// silent at the socket level — the client's sends just wait — so each socket's monitor turns
/// the failures into something the caller can say: a connection keeps its last failure
/// (`SocketChannel.handshake`, read as `Connection.handshakeFailure`), a listener counts them
/// by kind in its drops (the first of each kind is logged).
extension Reactor {
    static let monitoredEvents = ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL
        | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH

    /// Starts monitoring `handle`'s handshakes; returns the PAIR socket the events arrive on,
    /// nil if libzmq refused (the socket then works, unmonitored).
    func monitor(_ id: Int, of handle: UnsafeMutableRawPointer) -> UnsafeMutableRawPointer? {
        let endpoint = "inproc://distillery-monitor-\(ObjectIdentifier(self).hashValue)-\(id)"
        guard zmq_socket_monitor(handle, endpoint, Int32(Reactor.monitoredEvents)) == 0,
              let pair = zmq_socket(context, ZMQ_PAIR) else { return nil }
        var linger: Int32 = 0
        zmq_setsockopt(pair, ZMQ_LINGER, &linger, 4)
        guard zmq_connect(pair, endpoint) == 0 else {
            zmq_close(pair)
            zmq_socket_monitor(handle, nil, 0)
            return nil
        }
        return pair
    }

    /// Reads every pending event of socket `id`'s monitor.
    func serviceMonitor(_ id: Int) {
        guard let s = sockets[id], let monitor = s.monitor else { return }
        while let (event, value) = Reactor.nextEvent(monitor) {
            let failure: HandshakeFailure
            switch Int32(event) {
            case ZMQ_EVENT_HANDSHAKE_SUCCEEDED:
                s.channel.handshake.withLock { $0 = nil }
                sockets[id]?.reconnectBackoff = Reactor.refusedReconnectInitial
                continue
            case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH:
                failure = .keyRefused(status: Int(value))
            case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
                switch Int32(bitPattern: value) {
                case ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH: failure = .mechanismMismatch(localCurve: security != nil)
                case ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC: failure = .cryptographic
                default: failure = .other("protocol error 0x\(String(value, radix: 16))")
                }
            default:
                failure = .closedByListener(localCurve: security != nil)
            }
            switch s.channel.kind {
            case .connection:
                s.channel.handshake.withLock { $0 = failure }
                // libzmq gives up on a connection whose handshake the peer refused (a protocol
                // error ends the session; only connection errors reconnect): connect again later,
                // as the key may be admitted by then (an assignment that names it, a reload).
                if Int32(event) != ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL, var socket = sockets[id] {
                    socket.reconnectAt = clock.instant() + socket.reconnectBackoff
                    socket.reconnectBackoff = min(socket.reconnectBackoff * 2, .milliseconds(Int(options.reconnectMaxMs)))
                    sockets[id] = socket
                }
            case .listener:
                // Refused keys are counted by the ZAP handler, with the key.
                if case .keyRefused = failure { continue }
                s.channel.drops.record(Reactor.dropKind(failure), detail: Reactor.listenerText(failure))
                recordRefusal(key: "", reason: Reactor.listenerText(failure))
            }
        }
    }

    /// The first wait before connecting again after a refused handshake (then doubling, up to
    /// the reconnect maximum).
    static let refusedReconnectInitial: Duration = .milliseconds(500)

    /// Connects again the connections whose refused handshake's wait is over; returns how long
    /// until the next one is due (nil: none waits).
    func reconnectRefused() -> Duration? {
        let now = clock.instant()
        var next: Duration?
        for (id, s) in sockets {
            guard let at = s.reconnectAt else { continue }
            if at <= now {
                zmq_disconnect(s.handle, s.channel.address)
                if zmq_connect(s.handle, s.channel.address) != 0 {
                    s.channel.drops.record("reconnect-failed", detail: "\(s.channel.address): \(ZMQFrames.lastError())")
                }
                sockets[id]?.reconnectAt = nil
            } else {
                let wait = at - now
                next = min(next ?? wait, wait)
            }
        }
        return next
    }

    static func dropKind(_ failure: HandshakeFailure) -> String {
        switch failure {
        case .keyRefused: "curve-rejected"
        case .mechanismMismatch: "handshake-mechanism"
        case .cryptographic: "handshake-cryptographic"
        case .closedByListener, .other: "handshake-failed"
        }
    }

    static func listenerText(_ failure: HandshakeFailure) -> String {
        switch failure {
        case .keyRefused(let status): "a client's key was refused (ZAP status \(status))"
        case .mechanismMismatch(let curve):
            curve ? "a client connected without CURVE (no keys); refused" : "a client connected with CURVE to a plaintext listener"
        case .cryptographic: "a client's CURVE handshake failed its cryptography (it used another server key)"
        case .closedByListener: "a client's handshake failed without detail"
        case .other(let text): "a client's handshake failed: \(text)"
        }
    }

    /// One monitor event (frame 1: uint16 event, uint32 value; frame 2: the endpoint), without waiting.
    private static func nextEvent(_ monitor: UnsafeMutableRawPointer) -> (UInt16, UInt32)? {
        var first = zmq_msg_t()
        zmq_msg_init(&first)
        defer { zmq_msg_close(&first) }
        guard zmq_msg_recv(&first, monitor, ZMQ_DONTWAIT) >= 0 else { return nil }
        var event: UInt16 = 0
        var value: UInt32 = 0
        if zmq_msg_size(&first) >= 6, let data = zmq_msg_data(&first) {
            event = data.loadUnaligned(as: UInt16.self)
            value = data.loadUnaligned(fromByteOffset: 2, as: UInt32.self)
        }
        var more = zmq_msg_more(&first) != 0
        while more {
            var rest = zmq_msg_t()
            zmq_msg_init(&rest)
            more = zmq_msg_recv(&rest, monitor, ZMQ_DONTWAIT) >= 0 && zmq_msg_more(&rest) != 0
            zmq_msg_close(&rest)
        }
        return (event, value)
    }
}
