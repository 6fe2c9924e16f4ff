#if canImport(Glibc)
import Glibc
#endif
import Tensor

/// How a teacher's logits travel from teacher to student (DESIGN.md §2 step 5; the wire
/// layout is `LogitsBatch` in docs/PROTOCOL.md):
///
/// - `topK == 0`: the raw logits `z[n × C]`, as float32 or float16.
/// - `topK == k > 0`: per sample, the k largest probabilities of `p = softmax(z / T)` (values
///   `[n × k]`, float32 or float16), their class indices (`[n × k]` int32, largest first) and the
///   **tail bucket** `t = 1 − Σ top-k` (`[n]`), the mass of the C − k classes left out.
///   The receiver spreads t evenly over those classes: `p̂_c = t / (C − k)` — the explicit
///   tail keeps p̂ a distribution (Σ p̂ = 1) instead of renormalising the top k.
///
/// Decoding always yields logits the ensemble rules can take: raw logits for `topK == 0`, and
/// `ẑ = T · log p̂` for top-k, so that `softmax(ẑ / T) = p̂` exactly (probabilities below
/// `floorProbability` are raised to it before the log).
public struct LogitsCodec: Sendable, Equatable {
    public var classes: Int
    public var topK: Int
    public var float16: Bool
    public var temperature: Float

    /// Smallest probability kept before taking `log` (an empty tail bucket would give −∞).
    public static let floorProbability: Float = 1e-30

    public init(classes: Int, topK: Int = 0, float16: Bool = false, temperature: Float = 1) {
        precondition(classes >= 1 && topK >= 0 && topK < max(classes, 2), "top-k must be below the class count")
        self.classes = classes; self.topK = topK; self.float16 = float16; self.temperature = temperature
    }

    /// The frames' byte payloads, in wire order (logits; or values, indices, tail).
    public struct Encoded: Sendable, Equatable {
        public var frames: [[UInt8]]
    }

    /// Bytes per sample on the wire.
    public var bytesPerSample: Int {
        let value = float16 ? 2 : 4
        return topK == 0 ? classes * value : topK * (value + 4) + value
    }

    /// Encodes rows `[rows.lowerBound, rows.upperBound)` of `logits[· × C]`.
    public func encode(_ logits: UnsafePointer<Float>, rows: Range<Int>) -> Encoded {
        let n = rows.count, C = classes
        let start = logits + rows.lowerBound * C
        if topK == 0 { return Encoded(frames: [Self.bytes(UnsafeBufferPointer(start: start, count: n * C), float16: float16)]) }
        var values = [Float](repeating: 0, count: n * topK)
        var indices = [Int32](repeating: 0, count: n * topK)
        var tails = [Float](repeating: 0, count: n)
        var p = [Float](repeating: 0, count: C)
        for b in 0..<n {
            p.withUnsafeMutableBufferPointer { Rows.softmax(start + b * C, $0.baseAddress!, rows: 1, cols: C, temperature: temperature) }
            let order = p.withUnsafeBufferPointer { Self.largest(topK, of: $0.baseAddress!, classes: C) }
            var kept: Float = 0
            for j in 0..<topK {
                let c = order[j]
                let stored = float16 ? Float(Float16(p[c])) : p[c]
                values[b * topK + j] = stored
                indices[b * topK + j] = Int32(c)
                kept += stored
            }
            tails[b] = max(0, 1 - kept)
        }
        let indexBytes = indices.withUnsafeBytes { [UInt8]($0) }
        return Encoded(frames: [values.withUnsafeBufferPointer { Self.bytes($0, float16: float16) }, indexBytes,
                                tails.withUnsafeBufferPointer { Self.bytes($0, float16: float16) }])
    }

    /// Why frames cannot be decoded (sizes, class indices), said as a sentence.
    public struct DecodeError: Error, Equatable, CustomStringConvertible {
        public let description: String
    }

    /// Decodes `n` samples into logits `[n × C]` (see the type's comment).
    public func decode(_ frames: [[UInt8]], samples n: Int) throws(DecodeError) -> [Float] {
        let C = classes, value = float16 ? 2 : 4
        if topK == 0 {
            guard frames.count == 1, frames[0].count == n * C * value else {
                throw DecodeError(description: "expected 1 frame of \(n * C * value) bytes (\(n) × \(C) \(float16 ? "f16" : "f32")), "
                    + "got \(frames.map { "\($0.count)" }.joined(separator: ", ")) bytes")
            }
            return Self.floats(frames[0], float16: float16)
        }
        guard frames.count == 3, frames[0].count == n * topK * value, frames[1].count == n * topK * 4, frames[2].count == n * value else {
            throw DecodeError(description: "expected top-\(topK) frames of \(n * topK * value), \(n * topK * 4) and \(n * value) bytes, "
                + "got \(frames.map { "\($0.count)" }.joined(separator: ", "))")
        }
        let values = Self.floats(frames[0], float16: float16)
        let tails = Self.floats(frames[2], float16: float16)
        let indices: [Int32] = frames[1].withUnsafeBytes { raw in (0..<(n * topK)).map { raw.loadUnaligned(fromByteOffset: $0 * 4, as: Int32.self) } }
        var out = [Float](repeating: 0, count: n * C)
        let spread = Float(C - topK)
        for b in 0..<n {
            let row = b * C
            let bucket = max(0, tails[b]) / spread
            for c in 0..<C { out[row + c] = bucket }
            for j in 0..<topK {
                let c = Int(indices[b * topK + j])
                guard (0..<C).contains(c) else { throw DecodeError(description: "sample \(b) names class \(c) of \(C)") }
                out[row + c] = max(0, values[b * topK + j])
            }
            for c in 0..<C { out[row + c] = temperature * logf(max(out[row + c], Self.floorProbability)) }
        }
        return out
    }

    /// The classes of the k largest of `row[C]`, largest first; ties go to the lower class,
    /// so every node picks the same k.
    public static func largest(_ k: Int, of row: UnsafePointer<Float>, classes: Int) -> [Int] {
        Array(Array(0..<classes).sorted { row[$0] > row[$1] || (row[$0] == row[$1] && $0 < $1) }.prefix(k))
    }

    /// Little-endian float32 or float16 bytes of `values`.
    public static func bytes(_ values: UnsafeBufferPointer<Float>, float16: Bool) -> [UInt8] {
        if !float16 { return [UInt8](UnsafeRawBufferPointer(values)) }
        let halves = values.map { Float16($0) }
        return halves.withUnsafeBytes { [UInt8]($0) }
    }

    /// Floats from little-endian float32 or float16 bytes.
    public static func floats(_ bytes: [UInt8], float16: Bool) -> [Float] {
        bytes.withUnsafeBytes { raw in
            if float16 { return (0..<(raw.count / 2)).map { Float(raw.loadUnaligned(fromByteOffset: $0 * 2, as: Float16.self)) } }
            return (0..<(raw.count / 4)).map { raw.loadUnaligned(fromByteOffset: $0 * 4, as: Float.self) }
        }
    }
}

/// The soft targets of every training sample, kept by a student replica once epoch 0 has
/// delivered them (offline mode: frozen teachers, no augmentation, so a sample's target never
/// changes; DESIGN.md §2 step 5). Stored in full (`[N × C]`) or, with `topK = k > 0`, as each
/// sample's k largest probabilities, their classes and a tail bucket `1 − Σ top-k` spread evenly
/// over the other C − k classes when read back — `N · (8k + 4)` bytes instead of `4 · N · C`.
public struct SoftLabelCache: Sendable {
    public let count: Int
    public let classes: Int
    public let topK: Int
    // Internal (not private) for SoftLabelCache+Transfer.swift.
    var dense: [Float]
    var values: [Float]
    var indices: [Int32]
    var tails: [Float]
    var present: [Bool]
    /// Samples stored so far.
    public internal(set) var filled = 0

    public init(count: Int, classes: Int, topK: Int = 0) {
        precondition(topK >= 0 && topK < max(classes, 2))
        self.count = count; self.classes = classes; self.topK = topK
        dense = topK == 0 ? [Float](repeating: 0, count: count * classes) : []
        values = [Float](repeating: 0, count: count * topK)
        indices = [Int32](repeating: 0, count: count * topK)
        tails = [Float](repeating: 0, count: topK == 0 ? 0 : count)
        present = [Bool](repeating: false, count: count)
    }

    /// Whether every sample has its target.
    public var isComplete: Bool { filled == count }
    public func contains(_ sample: Int) -> Bool { present[sample] }

    /// Bytes the cached targets take.
    public var bytes: Int { topK == 0 ? count * classes * 4 : count * (topK * 8 + 4) }

    /// Stores sample `sample`'s target distribution `target[C]`.
    public mutating func store(sample: Int, target: UnsafePointer<Float>) {
        if !present[sample] { present[sample] = true; filled += 1 }
        if topK == 0 {
            dense.withUnsafeMutableBufferPointer { ($0.baseAddress! + sample * classes).update(from: target, count: classes) }
            return
        }
        let order = LogitsCodec.largest(topK, of: target, classes: classes)
        var kept: Float = 0
        for j in 0..<topK {
            values[sample * topK + j] = target[order[j]]
            indices[sample * topK + j] = Int32(order[j])
            kept += target[order[j]]
        }
        tails[sample] = max(0, 1 - kept)
    }

    /// Writes sample `sample`'s target `[C]` to `out`.
    public func read(sample: Int, into out: UnsafeMutablePointer<Float>) {
        precondition(present[sample], "sample \(sample) has no cached target")
        if topK == 0 {
            dense.withUnsafeBufferPointer { out.update(from: $0.baseAddress! + sample * classes, count: classes) }
            return
        }
        out.update(repeating: tails[sample] / Float(classes - topK), count: classes)
        for j in 0..<topK { out[Int(indices[sample * topK + j])] = values[sample * topK + j] }
    }
}
