import CZeroMQ
import Glibc
import Wire

/// Keeps a received `zmq_msg_t` alive for as long as the `Frame` viewing its bytes: received
/// tensor frames are not copied (zero-copy receive). Closing a message is thread-safe.
final class ZMQMessageOwner: FrameOwner, @unchecked Sendable {
    let message: UnsafeMutablePointer<zmq_msg_t>

    init(_ message: UnsafeMutablePointer<zmq_msg_t>) { self.message = message }

    deinit {
        zmq_msg_close(message)
        message.deallocate()
    }
}

/// libzmq's `zmq_free_fn` for zero-copy sends: `hint` is a retained `FrameOwner`, released
/// when libzmq no longer needs the bytes (called on a libzmq I/O thread).
private let releaseFrameOwner: @convention(c) (UnsafeMutableRawPointer?, UnsafeMutableRawPointer?) -> Void = { _, hint in
    guard let hint else { return }
    Unmanaged<AnyObject>.fromOpaque(hint).release()
}

enum ZMQFrames {
    /// Initialises `msg` with `frame`'s bytes: copied when small, otherwise borrowed with
    /// `zmq_msg_init_data`, the frame's owner retained until libzmq's release callback.
    static func initMessage(_ msg: UnsafeMutablePointer<zmq_msg_t>, with frame: Frame, zeroCopyThreshold: Int) -> Bool {
        if frame.count < zeroCopyThreshold || frame.base == nil {
            guard zmq_msg_init_size(msg, frame.count) == 0 else { return false }
            if frame.count > 0, let base = frame.base { memcpy(zmq_msg_data(msg), base, frame.count) }
            return true
        }
        let hint = Unmanaged.passRetained(frame.owner as AnyObject).toOpaque()
        let data = UnsafeMutableRawPointer(mutating: frame.base)
        guard zmq_msg_init_data(msg, data, frame.count, releaseFrameOwner, hint) == 0 else {
            Unmanaged<AnyObject>.fromOpaque(hint).release()
            return false
        }
        return true
    }

    /// A frame viewing a received message (takes ownership of `msg`).
    static func frame(taking msg: UnsafeMutablePointer<zmq_msg_t>) -> Frame {
        let owner = ZMQMessageOwner(msg)
        return Frame(owner: owner, base: UnsafeRawPointer(zmq_msg_data(msg)), count: zmq_msg_size(msg))
    }

    /// The NUL-terminated text in a C character buffer.
    static func string(_ buffer: [CChar]) -> String {
        String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The text of libzmq's last error.
    static func lastError() -> String {
        let e = zmq_errno()
        return String(cString: zmq_strerror(e))
    }
}
