import CZeroMQ
import Transport

/// The ZAP handler (ZeroMQ's authentication protocol, RFC 27): admits CURVE clients whose public
/// key is authorized; runs on the poller thread.
extension Reactor {
    func startZAPHandler() throws {
        guard let zap = zmq_socket(context, ZMQ_REP) else { throw TransportError.security("cannot create the ZAP handler socket") }
        var linger: Int32 = 0
        zmq_setsockopt(zap, ZMQ_LINGER, &linger, 4)
        guard zmq_bind(zap, "inproc://zeromq.zap.01") == 0 else {
            zmq_close(zap)
            throw TransportError.security("cannot bind the ZAP handler: \(ZMQFrames.lastError())")
        }
        zapSocket = zap
    }

    /// Answers pending ZAP requests: CURVE clients whose public key is authorized get 200,
    /// everyone else 400 (counted and logged once per kind).
    func serviceZAP(_ zap: UnsafeMutableRawPointer) {
        while true {
            var request: [[UInt8]] = []
            var msg = zmq_msg_t()
            while true {
                zmq_msg_init(&msg)
                if zmq_msg_recv(&msg, zap, ZMQ_DONTWAIT) < 0 { zmq_msg_close(&msg); break }
                let size = zmq_msg_size(&msg)
                let bytes = size == 0 ? [] : Array(UnsafeRawBufferPointer(start: zmq_msg_data(&msg), count: size))
                request.append(bytes)
                let more = zmq_msg_more(&msg) != 0
                zmq_msg_close(&msg)
                if !more { break }
            }
            if request.isEmpty { return }
            guard let decision = ZAPPolicy.decide(request, authorized: authorized.withLock { $0 }) else {
                zapDrops.record("zap-malformed", detail: "a ZAP request of \(request.count) frames")
                // A REP socket must answer before it can receive again.
                sendZAP([Array("1.0".utf8), request.count > 1 ? request[1] : [], Array("500".utf8), Array("bad request".utf8), [], []], on: zap)
                continue
            }
            if !decision.admitted {
                zapDrops.record("curve-rejected", detail: "client \(decision.clientKey ?? "without CURVE") from \(decision.address) is not in the authorized keys")
                recordRefusal(key: decision.clientKey ?? "", reason: "not in authorized_keys (refused at the CURVE handshake)")
            }
            sendZAP(decision.reply, on: zap)
        }
    }

    func sendZAP(_ frames: [[UInt8]], on zap: UnsafeMutableRawPointer) {
        for (i, f) in frames.enumerated() {
            let flags = i < frames.count - 1 ? ZMQ_SNDMORE : 0
            _ = f.withUnsafeBytes { zmq_send(zap, $0.baseAddress, f.count, flags) }
        }
    }
}
