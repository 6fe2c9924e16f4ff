/// Who is rank r in generation g of a run's ring of student replicas: the pure record the
/// coordinator hands out with the student tasks and every replica checks gradient chunks
/// against.
///
/// Rank r sends to rank `(r + 1) mod R` and receives from `(r − 1) mod R` (`RingSchedule`).
/// A *generation* is one membership: the first is 1, and every change of membership — a lost
/// replica removed, a joining worker added — makes the next one. Ranks are dense (0 ..< R) in
/// every generation: survivors keep their relative order and are renumbered from 0, newcomers
/// take the ranks after them. Messages carry the generation they were sent in, so a replica
/// drops what an older ring sent and notices a newer ring it has not been told about yet.
public struct RingMembership: Sendable, Equatable, CustomStringConvertible {
    /// 1 for a run's first ring; each change of membership adds 1.
    public let generation: UInt64
    /// The members (worker names) in rank order: `members[r]` is rank r.
    public let members: [String]

    /// nil when `members` is empty or names a worker twice, or `generation` is 0 (0 means
    /// "no ring" on the wire).
    public init?(generation: UInt64, members: [String]) {
        guard generation >= 1, !members.isEmpty, Set(members).count == members.count else { return nil }
        self.generation = generation
        self.members = members
    }

    /// The number of ranks R.
    public var ranks: Int { members.count }

    /// The rank of `member` in this generation, nil if it is not in the ring.
    public func rank(of member: String) -> Int? { members.firstIndex(of: member) }

    /// The member that is rank `rank` (0 ..< R).
    public func member(at rank: Int) -> String { members[rank] }

    /// The rank that `rank` sends its chunks to: `(rank + 1) mod R`.
    public func next(of rank: Int) -> Int { (rank + 1) % ranks }

    /// The rank that `rank` receives its chunks from: `(rank − 1) mod R`.
    public func previous(of rank: Int) -> Int { (rank + ranks - 1) % ranks }

    /// The next generation without `lost`: the survivors in their old order, ranks renumbered
    /// from 0. nil when nobody would be left. Names not in the ring are ignored; when none of
    /// `lost` is a member the membership is unchanged and so is the generation.
    public func removing(_ lost: Set<String>) -> RingMembership? {
        guard members.contains(where: lost.contains) else { return self }
        return RingMembership(generation: generation + 1, members: members.filter { !lost.contains($0) })
    }

    /// The next generation with `joining` appended after the current members, in the order
    /// given (names already in the ring, and repeats, are skipped). Unchanged when nobody new
    /// joins.
    public func adding(_ joining: [String]) -> RingMembership {
        var seen = Set(members)
        let newcomers = joining.filter { seen.insert($0).inserted }
        guard !newcomers.isEmpty else { return self }
        // Never nil: the generation grows from ≥ 1 and the names are distinct and non-empty.
        return RingMembership(generation: generation + 1, members: members + newcomers)!
    }

    /// Where a message of generation `g` stands against this ring.
    public func classify(generation g: UInt64) -> GenerationCheck {
        Self.classify(generation: g, against: generation)
    }

    /// Where a message of generation `g` stands against a receiver in generation `current`
    /// (for a replica that knows its generation but not the members' names).
    public static func classify(generation g: UInt64, against current: UInt64) -> GenerationCheck {
        g == current ? .current : g < current ? .stale : .newer
    }

    /// How a message's ring generation compares with the receiver's.
    public enum GenerationCheck: Sendable, Equatable {
        /// Sent in this ring: handle it.
        case current
        /// Sent in an older ring (a replica that has not yet heard of the change): drop it.
        case stale
        /// Sent in a ring this replica has not been told about: it is behind, and must wait for
        /// its new assignment rather than mix the two.
        case newer
    }

    /// e.g. "ring generation 2: 0=student-a 1=student-c".
    public var description: String {
        "ring generation \(generation): " + members.enumerated().map { "\($0.offset)=\($0.element)" }.joined(separator: " ")
    }
}
