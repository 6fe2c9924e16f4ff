import Distillation
import Tensor
import Testing

/// How logits travel and how soft labels are kept: exact in float32, float16 within its
/// precision, top-k with an explicit tail bucket that keeps every row a distribution.
@Suite struct LogitsCodecTests {
    static let logits: [Float] = [2.0, -1.0, 0.5, 3.0, 0.0,   // sample 0
                                  -4.0, 1.0, 1.0, 0.2, -0.3]  // sample 1

    static func softmax(_ z: [Float], classes: Int, temperature: Float) -> [Float] {
        var p = [Float](repeating: 0, count: z.count)
        z.withUnsafeBufferPointer { zp in
            p.withUnsafeMutableBufferPointer { Rows.softmax(zp.baseAddress!, $0.baseAddress!, rows: z.count / classes, cols: classes, temperature: temperature) }
        }
        return p
    }

    @Test func fullFloat32LogitsRoundTripExactly() throws {
        let codec = LogitsCodec(classes: 5)
        let encoded = Self.logits.withUnsafeBufferPointer { codec.encode($0.baseAddress!, rows: 1..<2) }
        #expect(encoded.frames.count == 1 && encoded.frames[0].count == 20)
        #expect(try codec.decode(encoded.frames, samples: 1) == Array(Self.logits[5..<10]))
    }

    @Test func float16HalvesTheBytesAndKeepsThreeSignificantDigits() throws {
        let codec = LogitsCodec(classes: 5, float16: true)
        let encoded = Self.logits.withUnsafeBufferPointer { codec.encode($0.baseAddress!, rows: 0..<2) }
        #expect(encoded.frames[0].count == 20)
        let back = try codec.decode(encoded.frames, samples: 2)
        for (a, b) in zip(back, Self.logits) { #expect(abs(a - b) <= abs(b) * 1e-3) }
        #expect(back != Self.logits, "0.2 and −0.3 are not exact in float16")
    }

    @Test func topKKeepsTheLargestProbabilitiesAndSpreadsTheTailEvenly() throws {
        let T: Float = 2
        let codec = LogitsCodec(classes: 5, topK: 2, temperature: T)
        let encoded = Self.logits.withUnsafeBufferPointer { codec.encode($0.baseAddress!, rows: 0..<2) }
        #expect(encoded.frames.map(\.count) == [16, 16, 8])
        let decoded = try codec.decode(encoded.frames, samples: 2)
        let p = Self.softmax(Self.logits, classes: 5, temperature: T)
        let restored = Self.softmax(decoded, classes: 5, temperature: T)
        // Sample 0: classes 3 and 0 are the top 2; classes 1, 2, 4 share the rest.
        #expect(abs(restored[3] - p[3]) < 1e-6 && abs(restored[0] - p[0]) < 1e-6)
        let tail = 1 - p[3] - p[0]
        for c in [1, 2, 4] { #expect(abs(restored[c] - tail / 3) < 1e-6) }
        // Sample 1: a tie between classes 1 and 2 keeps both.
        #expect(abs(restored[6] - p[6]) < 1e-6 && abs(restored[7] - p[7]) < 1e-6)
        for b in 0..<2 { #expect(abs(restored[(b * 5)..<(b * 5 + 5)].reduce(0, +) - 1) < 1e-6) }
    }

    @Test func badFramesAreRefusedWithTheirSizes() {
        let codec = LogitsCodec(classes: 5, topK: 2)
        #expect(throws: LogitsCodec.DecodeError.self) { _ = try codec.decode([[0, 0, 0, 0]], samples: 1) }
        var badIndex = [UInt8](repeating: 0, count: 8)
        badIndex[0] = 9  // class 9 of 5
        do {
            _ = try codec.decode([[UInt8](repeating: 0, count: 8), badIndex, [0, 0, 0, 0]], samples: 1)
            Issue.record("a class index beyond the classes must be refused")
        } catch {
            #expect(error.description.contains("class 9 of 5"))
        }
    }

    @Test func theCacheKeepsFullTargetsExactlyAndTopKAsADistribution() {
        let p = Self.softmax(Self.logits, classes: 5, temperature: 3)
        var full = SoftLabelCache(count: 2, classes: 5)
        var topK = SoftLabelCache(count: 2, classes: 5, topK: 1)
        #expect(!full.isComplete)
        p.withUnsafeBufferPointer { src in
            for i in 0..<2 {
                full.store(sample: i, target: src.baseAddress! + i * 5)
                topK.store(sample: i, target: src.baseAddress! + i * 5)
            }
        }
        #expect(full.isComplete && topK.isComplete)
        var row = [Float](repeating: 0, count: 5)
        row.withUnsafeMutableBufferPointer { full.read(sample: 1, into: $0.baseAddress!) }
        #expect(row == Array(p[5..<10]))
        row.withUnsafeMutableBufferPointer { topK.read(sample: 0, into: $0.baseAddress!) }
        #expect(row[3] == p[3])
        #expect(abs(row.reduce(0, +) - 1) < 1e-6)
        #expect(row[0] == row[1] && row[1] == row[2] && row[2] == row[4])
        #expect(topK.bytes == 2 * 12 && full.bytes == 2 * 20)
    }

    /// A joining replica receives the cache as floats summed with zeros (an all-reduce where
    /// one replica holds it): packing and loading give back every target, and which samples
    /// are present, bit for bit.
    @Test(arguments: [0, 2])
    func aPackedCacheLoadsBackExactly(topK: Int) {
        var cache = SoftLabelCache(count: 3, classes: 5, topK: topK)
        let targets = Self.softmax(Self.logits, classes: 5, temperature: 2)
        targets.withUnsafeBufferPointer { t in
            cache.store(sample: 0, target: t.baseAddress!)
            cache.store(sample: 2, target: t.baseAddress! + 5)
        }
        var copy = SoftLabelCache(count: 3, classes: 5, topK: topK)
        let packed = cache.packed
        #expect(packed.count == cache.packedCount)
        copy.load(packed: zip(packed, [Float](repeating: 0, count: packed.count)).map { $0 + $1 })
        #expect(copy.filled == 2 && copy.contains(0) && !copy.contains(1) && copy.contains(2))
        for sample in [0, 2] {
            var a = [Float](repeating: 0, count: 5), b = a
            cache.read(sample: sample, into: &a)
            copy.read(sample: sample, into: &b)
            #expect(a == b, "sample \(sample)")
        }
        #expect(copy.packed == packed)
    }
}
