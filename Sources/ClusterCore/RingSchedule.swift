/// Who sends which chunk to whom in a ring all-reduce of `count` floats over `ranks` replicas
/// (the bandwidth-optimal ring of Patarasuk & Yuan 2009, as in Horovod and gloo).
///
/// The buffer is cut into R contiguous chunks of near-equal length (the first `count mod R`
/// chunks one element longer). Rank r sends only to `next(r) = (r + 1) mod R` and receives
/// only from `previous(r) = (r − 1) mod R`:
/// - *reduce-scatter*, hops h = 0 … R−2: r sends chunk `(r − h) mod R` and receives chunk
///   `(r − h − 1) mod R`, which it adds to its own. Afterwards r holds the complete sum of
///   chunk `(r + 1) mod R`.
/// - *all-gather*, hops h = 0 … R−2: r sends chunk `(r + 1 − h) mod R` and receives chunk
///   `(r − h) mod R`, which replaces its own.
/// Every rank sends and receives 2·(R−1)/R·count floats in all, whatever R. Each final chunk
/// is summed once, by one rank, in one order, and copied to the others, so all replicas end
/// with bit-identical buffers.
public struct RingSchedule: Sendable, Equatable {
    public let ranks: Int
    public let count: Int

    /// nil when the ring cannot be formed: ranks < 1, or fewer floats than ranks (a chunk
    /// would be empty).
    public init?(ranks: Int, count: Int) {
        guard ranks >= 1, count >= ranks else { return nil }
        self.ranks = ranks
        self.count = count
    }

    /// The elements of chunk `c` (0 ..< ranks).
    public func chunk(_ c: Int) -> Range<Int> {
        let base = count / ranks, extra = count % ranks
        let start = c * base + min(c, extra)
        return start..<(start + base + (c < extra ? 1 : 0))
    }

    public func next(of rank: Int) -> Int { (rank + 1) % ranks }
    public func previous(of rank: Int) -> Int { (rank + ranks - 1) % ranks }

    /// Hops per phase: R − 1.
    public var hops: Int { ranks - 1 }

    public func reduceScatterSend(rank: Int, hop: Int) -> Int { mod(rank - hop) }
    public func reduceScatterReceive(rank: Int, hop: Int) -> Int { mod(rank - hop - 1) }
    public func allGatherSend(rank: Int, hop: Int) -> Int { mod(rank + 1 - hop) }
    public func allGatherReceive(rank: Int, hop: Int) -> Int { mod(rank - hop) }

    /// The chunk rank r holds completely reduced after the reduce-scatter phase.
    public func ownedAfterReduceScatter(rank: Int) -> Int { mod(rank + 1) }

    private func mod(_ x: Int) -> Int { ((x % ranks) + ranks) % ranks }
}
