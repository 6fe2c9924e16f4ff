import Tensor
import Testing
import Wire

/// Tensor frames are passed through encode and decode by reference, never copied.
@Suite struct ZeroCopyTests {
    @Test func encodeReturnsTheCallersTensorFrames() throws {
        let logits = Tensor(shape: [4, 10], values: (0..<40).map(Float.init))
        let frame = Frame(tensor: logits)
        let message = Message(Envelope(tensors: [TensorMeta(name: "logits", dtype: .f32, shape: [4, 10])],
                                       body: .logitsBatch(LogitsBatch(runID: "r", sampleBegin: 8, sampleEnd: 12))),
                              frames: [frame])
        let frames = try WireCodec.encode(message)
        #expect(frames.count == 2)
        #expect(frames[1].base == frame.base)
        #expect(frames[1].owner === frame.owner)
        #expect(frames[0].base != frame.base)
    }

    @Test func decodeSharesTheReceivedFrames() throws {
        let message = try #require(Handwritten.all.first {
            if case .logitsBatch(let b) = $0.envelope.body { return b.topK > 0 }
            return false
        })
        let wire = try WireCodec.encode(message)
        let decoded = try WireCodec.decode(wire)
        #expect(decoded.frames.count == 3)
        for i in 0..<3 {
            #expect(decoded.frames[i].base == wire[i + 1].base)
            #expect(decoded.frames[i].owner === wire[i + 1].owner)
            #expect(decoded.frames[i].base == message.frames[i].base)
        }
    }

    @Test func encodedEnvelopeFrameOutlivesTheMessage() throws {
        var frames: [Frame] = []
        do {
            let message = Message(Envelope(sender: "short-lived", requestID: 3, body: .heartbeat(Heartbeat(sentUnixMs: 9))))
            frames = try WireCodec.encode(message)
        }
        let decoded = try WireCodec.decode(frames)
        #expect(decoded.envelope.sender == "short-lived")
        #expect(decoded.envelope.body == .heartbeat(Heartbeat(sentUnixMs: 9)))
    }
}
