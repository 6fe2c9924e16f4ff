import DistilleryTestKit
import Testing
import Wire

/// Decode never crashes on hostile input, and classifies crafted bad input exactly.
@Suite struct FuzzTests {
    /// Small limits keep the oversized and too-many samples cheap.
    static let limits = WireLimits(maxEnvelopeBytes: 1 << 16, maxTensorFrames: 16, maxRank: 8, maxTensorBytes: 1 << 20,
                                   maxRepeated: 1000, maxStringBytes: 1 << 12)

    /// Counts outcomes by kind ("ok" for a successful decode) and checks the invariant that
    /// sender and request id are known exactly when the header was readable.
    struct Tally {
        var counts: [String: Int] = [:]

        mutating func decode(_ frames: [Frame], limits: WireLimits = .standard) -> WireError? {
            do {
                _ = try WireCodec.decode(frames, limits: limits)
                counts["ok", default: 0] += 1
                return nil
            } catch {
                counts[error.kind.rawValue, default: 0] += 1
                // A frame 0 over its limit is answered only when its header can be peeked.
                let envelopeTooBig = error.kind == .oversized && error.detail.hasPrefix("frame 0")
                    && frames.first.flatMap(EnvelopeHeader.peek) == nil
                let headerRead = !(error.kind == .empty || error.kind == .malformed || envelopeTooBig)
                #expect((error.sender != nil) == headerRead, "\(error)")
                #expect((error.requestID != nil) == headerRead, "\(error)")
                #expect(!error.detail.isEmpty)
                return error
            }
        }

        var summary: String {
            counts.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", ")
        }
    }

    @Test func fiftyThousandMutationsNeverCrashDecode() {
        var samples = WireSamples(seed: 0xF022)
        var rng = FuzzRNG(seed: 77)
        var tally = Tally()
        let valid: [[Frame]] = (0..<400).compactMap { _ in try? WireCodec.encode(samples.validMessage()) }
        #expect(valid.count == 400, "every generated message encodes")
        let bad: [[Frame]] = (0..<180).map { _ in samples.badFrames(limits: Self.limits).frames.map { Frame(bytes: $0) } }
        let corpus = valid + bad + [[]]
        for round in 0..<50_000 {
            var frames = corpus[round % corpus.count]
            var envelope = frames.first?.bytes ?? []
            for _ in 0...rng.below(3) {
                switch rng.below(7) {
                case 0, 1:  // flip bits
                    if !envelope.isEmpty {
                        envelope[rng.below(envelope.count)] ^= UInt8(1 << rng.below(8))
                    }
                case 2:  // truncate
                    envelope.removeLast(rng.below(envelope.count + 1))
                case 3:  // insert random bytes
                    let at = rng.below(envelope.count + 1)
                    envelope.insert(contentsOf: (0...rng.below(8)).map { _ in rng.byte() }, at: at)
                case 4:  // overwrite a byte with an interesting value
                    if !envelope.isEmpty {
                        envelope[rng.below(envelope.count)] = [0x00, 0x7F, 0x80, 0xFF, 0x0F, 0x08][rng.below(6)]
                    }
                case 5:  // duplicate a slice (repeated fields, a oneof twice)
                    if !envelope.isEmpty {
                        let start = rng.below(envelope.count)
                        let end = min(envelope.count, start + 1 + rng.below(16))
                        envelope.insert(contentsOf: envelope[start..<end], at: rng.below(envelope.count + 1))
                    }
                default:  // tamper with the tensor frames
                    if frames.count > 1 && rng.below(2) == 0 {
                        frames.remove(at: 1 + rng.below(frames.count - 1))
                    } else {
                        frames.append(Frame(bytes: (0..<rng.below(9)).map { _ in rng.byte() }))
                    }
                }
            }
            if frames.isEmpty {
                if rng.below(2) == 0 { frames = [Frame(bytes: envelope)] }
            } else {
                frames[0] = Frame(bytes: envelope)
            }
            _ = tally.decode(frames, limits: Self.limits)
        }
        print("WireTests fuzz: 50000 mutations of valid and bad messages → \(tally.summary)")
        #expect(tally.counts.values.reduce(0, +) == 50_000)
        #expect(tally.counts["ok", default: 0] > 100, "some mutations leave a valid message")
        #expect(tally.counts["malformed", default: 0] > 1000)
        #expect(tally.counts.count >= 6, "mutations reach many different checks")
    }

    @Test func badFramesAreClassifiedExactly() {
        var samples = WireSamples(seed: 0xBAD)
        var tally = Tally()
        var mismatches = 0
        for _ in 0..<20_000 {
            let (kind, bytes) = samples.badFrames(limits: Self.limits)
            let error = tally.decode(bytes.map { Frame(bytes: $0) }, limits: Self.limits)
            if error?.kind != kind {
                mismatches += 1
                if mismatches <= 5 {
                    Issue.record("expected \(kind), decode said \(error.map { "\($0)" } ?? "ok")")
                }
            }
        }
        print("WireTests badFrames: 20000 samples → \(tally.summary)")
        #expect(mismatches == 0)
        #expect(Set(tally.counts.keys) == Set(WireSamples.badKinds.map(\.rawValue)))
        #expect(WireSamples.badKinds.count == WireError.Kind.allCases.count - 1, "every kind but .empty")
    }

    @Test func badFramesWithStandardLimits() {
        var samples = WireSamples(seed: 5)
        var tally = Tally()
        for _ in 0..<(WireSamples.badKinds.count * 6) {
            let (kind, bytes) = samples.badFrames()
            let error = tally.decode(bytes.map { Frame(bytes: $0) })
            #expect(error?.kind == kind, "\(error.map { "\($0)" } ?? "ok")")
        }
    }
}

/// The fuzzer's own stream, independent of `WireSamples`.
struct FuzzRNG {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        var z = state
        z = (z ^ (z >> 33)) &* 0xFF51_AFD7_ED55_8CCD
        return z ^ (z >> 33)
    }

    mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(max(1, bound))) }
    mutating func byte() -> UInt8 { UInt8(truncatingIfNeeded: next()) }
}
