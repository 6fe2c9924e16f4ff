import ClusterCore

/// Why streaming or training on the data plane stopped. Every case names who was waited for.
public enum DataPlaneError: Error, Sendable, CustomStringConvertible {
    case noCredit(teacher: Int, replica: Int, after: Duration)
    case missingLogits(replica: Int, epoch: Int, step: Int, teachers: [Int], after: Duration)
    case badLogits(String)
    /// A resume checkpoint that does not fit the replica (docs/PROTOCOL.md "Resume").
    case badCheckpoint(String)
    case ring(RingError)
    case transport(String)
    /// Replicas' parameters differ: they no longer train the same model.
    case diverged(step: Int, hashes: [UInt64])

    public var description: String {
        switch self {
        case .noCredit(let t, let r, let after):
            return "teacher \(t) got no credit from replica \(r) within \(after.shortDescription); the replica is stuck, gone or unreachable"
        case .missingLogits(let r, let e, let s, let teachers, let after):
            return "replica \(r) got no logits for epoch \(e) step \(s) from teacher(s) "
                + "\(teachers.map(String.init).joined(separator: ", ")) within \(after.shortDescription)"
        case .badLogits(let text): return "bad logits: \(text)"
        case .badCheckpoint(let text): return text
        case .ring(let e): return e.description
        case .transport(let text): return text
        case .diverged(let step, let hashes):
            let list = hashes.enumerated().map { "replica \($0.offset) \(String($0.element, radix: 16))" }.joined(separator: ", ")
            return "the replicas' parameters differ after step \(step) (\(list)); they must stay bit-identical"
        }
    }
}

/// Parameter hashes exchanged through a ring all-reduce: replica r writes its 64-bit hash as
/// three 22-bit pieces (exact in Float32) at positions 3r…3r+2 of a zero vector of 3R floats;
/// the sum then holds every replica's hash, exactly, on every replica.
public enum ParameterHashes {
    public static func encode(_ hash: UInt64, rank: Int, ranks: Int) -> [Float] {
        var v = [Float](repeating: 0, count: 3 * ranks)
        for piece in 0..<3 { v[3 * rank + piece] = Float((hash >> (22 * UInt64(piece))) & 0x3F_FFFF) }
        return v
    }

    public static func decode(_ values: [Float]) -> [UInt64] {
        stride(from: 0, to: values.count - 2, by: 3).map { i in
            (0..<3).reduce(UInt64(0)) { $0 | (UInt64(values[i + $1]) << (22 * UInt64($1))) }
        }
    }
}
