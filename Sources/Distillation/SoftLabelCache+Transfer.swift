// A replica that joins a ring takes the soft-label cache from one that has it
// (docs/PROTOCOL.md "Elastic rings", round 2⁶¹ + 2).

extension SoftLabelCache {
    /// The whole cache as floats, every value exact, so that it can travel through a ring
    /// all-reduce in which the other replicas contribute zeros (x + 0 = x):
    /// `present[N]` as 0/1, then the full targets `[N × C]` (top-k 0), or the top-k
    /// probabilities `[N × k]`, their classes `[N × k]` (integers < 2²⁴, exact as floats) and
    /// the tail buckets `[N]`.
    public var packed: [Float] {
        var out = present.map { $0 ? Float(1) : 0 }
        if topK == 0 {
            out += dense
        } else {
            out.reserveCapacity(count * (2 * topK + 2))
            out += values
            out += indices.map { Float($0) }
            out += tails
        }
        return out
    }

    /// How many floats ``packed`` has.
    public var packedCount: Int { topK == 0 ? count * (1 + classes) : count * (2 + 2 * topK) }

    /// Replaces the cache by `packed` (another cache's ``packed`` of the same shape).
    public mutating func load(packed: [Float]) {
        precondition(packed.count == packedCount, "a packed soft-label cache of \(packed.count) floats for \(packedCount)")
        present = packed[0 ..< count].map { $0 != 0 }
        filled = present.reduce(0) { $0 + ($1 ? 1 : 0) }
        var at = count
        func take(_ n: Int) -> ArraySlice<Float> {
            defer { at += n }
            return packed[at ..< at + n]
        }
        if topK == 0 {
            dense = Array(take(count * classes))
        } else {
            values = Array(take(count * topK))
            indices = take(count * topK).map { Int32($0) }
            tails = Array(take(count))
        }
    }
}
