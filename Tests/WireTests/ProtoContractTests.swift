import DistilleryProtoC
import Testing

/// The generated protobuf-c code for Protos/distillery.proto packs and unpacks envelopes,
/// and refuses garbage without crashing. (The Swift `Wire` layer will wrap these structs.)
@Suite struct ProtoContractTests {
    @Test func heartbeatEnvelopeRoundTrips() throws {
        var hb = Distillery__V1__Heartbeat()
        distillery__v1__heartbeat__init(&hb)
        hb.sent_unix_ms = 1_700_000_000_123
        hb.cpu_percent = 42.5
        var env = Distillery__V1__Envelope()
        distillery__v1__envelope__init(&env)
        env.protocol_version = UInt32(DISTILLERY__V1__PROTOCOL_VERSION__PROTOCOL_VERSION_1.rawValue)
        env.request_id = 77
        "worker-b".withCString { sender in
            env.sender = UnsafeMutablePointer(mutating: sender)
            withUnsafeMutablePointer(to: &hb) { hbp in
                env.body_case = DISTILLERY__V1__ENVELOPE__BODY_HEARTBEAT
                env.heartbeat = hbp
                let size = distillery__v1__envelope__get_packed_size(&env)
                var bytes = [UInt8](repeating: 0, count: size)
                let written = bytes.withUnsafeMutableBufferPointer { distillery__v1__envelope__pack(&env, $0.baseAddress!) }
                #expect(written == size)
                let decoded = bytes.withUnsafeBufferPointer { distillery__v1__envelope__unpack(nil, size, $0.baseAddress!) }
                let d = try! #require(decoded)
                defer { distillery__v1__envelope__free_unpacked(d, nil) }
                #expect(d.pointee.protocol_version == 1)
                #expect(d.pointee.request_id == 77)
                #expect(String(cString: d.pointee.sender) == "worker-b")
                #expect(d.pointee.body_case == DISTILLERY__V1__ENVELOPE__BODY_HEARTBEAT)
                #expect(d.pointee.heartbeat.pointee.sent_unix_ms == 1_700_000_000_123)
                #expect(d.pointee.heartbeat.pointee.cpu_percent == 42.5)
            }
        }
    }

    @Test func garbageAndTruncatedBytesAreRefusedNotCrashed() {
        // A valid envelope, then every truncation of it and a few thousand random buffers.
        var env = Distillery__V1__Envelope()
        distillery__v1__envelope__init(&env)
        env.protocol_version = 1
        env.request_id = 123_456_789
        let size = distillery__v1__envelope__get_packed_size(&env)
        var bytes = [UInt8](repeating: 0, count: size)
        _ = bytes.withUnsafeMutableBufferPointer { distillery__v1__envelope__pack(&env, $0.baseAddress!) }
        for cut in 0..<size {
            if let d = bytes.withUnsafeBufferPointer({ distillery__v1__envelope__unpack(nil, cut, $0.baseAddress!) }) {
                distillery__v1__envelope__free_unpacked(d, nil)
            }
        }
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        var refused = 0
        for round in 0..<3000 {
            let n = 1 + round % 64
            var junk = [UInt8](repeating: 0, count: n)
            for i in 0..<n {
                state = state &* 6364136223846793005 &+ 1442695040888963407
                junk[i] = UInt8(truncatingIfNeeded: state >> 56)
            }
            if let d = junk.withUnsafeBufferPointer({ distillery__v1__envelope__unpack(nil, n, $0.baseAddress!) }) {
                distillery__v1__envelope__free_unpacked(d, nil)
            } else {
                refused += 1
            }
        }
        #expect(refused > 1000, "most random buffers are not valid envelopes (\(refused) refused)")
    }
}
