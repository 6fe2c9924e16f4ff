import Logging
import Tensor
import Transport
import TransportZMQ
import Wire

/// Runs `body` with a fresh ZeroMQ transport and always shuts it down afterwards.
func withZMQ<R>(
    name: String = "test", options: ZMQOptions = ZMQOptions(), security: CurveSecurity? = nil,
    logger: Logger = Logger(label: "test"), _ body: (ZMQTransport) async throws -> R
) async throws -> R {
    let transport = try ZMQTransport(name: name, options: options, security: security, logger: logger)
    do {
        let r = try await body(transport)
        await transport.shutdown()
        return r
    } catch {
        await transport.shutdown()
        throw error
    }
}

/// A loopback address with a port the OS picks.
let anyLoopbackPort = "tcp://127.0.0.1:*"

func heartbeat(_ requestID: UInt64, from sender: String = "client") -> Message {
    Message(Envelope(sender: sender, requestID: requestID, body: .heartbeat(Heartbeat(sentUnixMs: requestID))))
}

/// A logits batch of `rows`×`classes` float32 values k·0.5, as a teacher would stream it.
func logitsMessage(rows: Int, classes: Int, step: UInt64 = 1) -> Message {
    let values = (0..<(rows * classes)).map { Float($0 % 1000) * 0.5 }
    let tensor = Tensor(shape: [rows, classes], values: values)
    let meta = TensorMeta(name: "logits", dtype: .f32, shape: [UInt64(rows), UInt64(classes)])
    let body = Body.logitsBatch(LogitsBatch(runID: "run-1", epoch: 0, step: step, replica: 0, teacher: 1,
                                            sampleBegin: 0, sampleEnd: UInt64(rows), dtype: .f32, topK: 0))
    return Message(Envelope(sender: "teacher-1", requestID: step, tensors: [meta], body: body), frames: [Frame(tensor: tensor)])
}

/// Answers every valid request on `listener` with a heartbeat carrying `replyTo`, until
/// cancelled or the listener closes. Returns how many requests it answered.
func echoServer(_ listener: any Listener) async -> Int {
    var answered = 0
    while !Task.isCancelled {
        let next: Inbound?
        do { next = try await listener.receive(timeout: .milliseconds(100)) } catch { break }
        guard let inbound = next else { continue }
        var reply = Envelope(sender: "server", requestID: 0, replyTo: inbound.message.envelope.requestID,
                             body: .heartbeat(Heartbeat(sentUnixMs: 0)))
        reply.tensors = []
        try? await listener.send(Message(reply), to: inbound.peer)
        answered += 1
    }
    return answered
}
