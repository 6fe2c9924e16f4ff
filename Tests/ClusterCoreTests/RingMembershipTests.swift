import Testing
@testable import ClusterCore

/// Ring membership across generations: ranks dense, survivors in order, generations counted,
/// messages of other generations classified.
@Suite struct RingMembershipTests {
    @Test func refusesEmptyDuplicateAndGenerationZero() {
        #expect(RingMembership(generation: 1, members: []) == nil)
        #expect(RingMembership(generation: 1, members: ["a", "b", "a"]) == nil)
        #expect(RingMembership(generation: 0, members: ["a"]) == nil)
        #expect(RingMembership(generation: 1, members: ["a"]) != nil)
    }

    @Test func ranksNeighboursAndMembers() throws {
        let ring = try #require(RingMembership(generation: 1, members: ["s0", "s1", "s2"]))
        #expect(ring.ranks == 3)
        #expect((0..<3).map(ring.member(at:)) == ["s0", "s1", "s2"])
        #expect(ring.rank(of: "s2") == 2)
        #expect(ring.rank(of: "nobody") == nil)
        #expect((0..<3).map(ring.next(of:)) == [1, 2, 0])
        #expect((0..<3).map(ring.previous(of:)) == [2, 0, 1])
        for r in 0..<3 { #expect(ring.previous(of: ring.next(of: r)) == r) }
        let single = try #require(RingMembership(generation: 5, members: ["only"]))
        #expect(single.next(of: 0) == 0 && single.previous(of: 0) == 0)
    }

    @Test func neighboursAgreeWithTheSchedule() throws {
        for r in 1...7 {
            let ring = try #require(RingMembership(generation: 1, members: (0..<r).map { "w\($0)" }))
            let schedule = try #require(RingSchedule(ranks: r, count: 64))
            for rank in 0..<r {
                #expect(ring.next(of: rank) == schedule.next(of: rank))
                #expect(ring.previous(of: rank) == schedule.previous(of: rank))
            }
        }
    }

    @Test func losingAMemberRenumbersSurvivorsInOrder() throws {
        let ring = try #require(RingMembership(generation: 1, members: ["a", "b", "c", "d"]))
        let without = try #require(ring.removing(["b"]))
        #expect(without.generation == 2)
        #expect(without.members == ["a", "c", "d"])
        #expect(without.rank(of: "c") == 1, "c moves from rank 2 to 1")
        #expect(without.next(of: 0) == 1 && without.member(at: without.next(of: 0)) == "c")
        // Two lost at once, in any order of the set: one new generation.
        let two = try #require(ring.removing(["d", "a"]))
        #expect(two.generation == 2 && two.members == ["b", "c"])
    }

    @Test func losingEveryoneLeavesNoRing() throws {
        let ring = try #require(RingMembership(generation: 3, members: ["a", "b"]))
        #expect(ring.removing(["a", "b"]) == nil)
    }

    @Test func losingAStrangerChangesNothing() throws {
        let ring = try #require(RingMembership(generation: 3, members: ["a", "b"]))
        #expect(ring.removing(["z"]) == ring)
        #expect(ring.removing([]) == ring)
    }

    @Test func joiningAppendsAfterTheMembers() throws {
        let ring = try #require(RingMembership(generation: 2, members: ["a", "c"]))
        let grown = ring.adding(["b", "e", "b", "a"])
        #expect(grown.generation == 3)
        #expect(grown.members == ["a", "c", "b", "e"], "repeats and members are skipped, order kept")
        #expect(ring.adding(["a"]) == ring, "nobody new: same generation")
        #expect(ring.adding([]) == ring)
    }

    /// Odd orders of events: a loss then a join, or a join then the same loss, end with the same
    /// members in different ranks but both count two generations.
    @Test func lossAndJoinInEitherOrder() throws {
        let ring = try #require(RingMembership(generation: 1, members: ["a", "b", "c"]))
        let lossFirst = try #require(ring.removing(["b"])).adding(["d"])
        let joinFirst = try #require(ring.adding(["d"]).removing(["b"]))
        #expect(lossFirst.generation == 3 && joinFirst.generation == 3)
        #expect(Set(lossFirst.members) == Set(joinFirst.members))
        #expect(lossFirst.members == ["a", "c", "d"] && joinFirst.members == ["a", "c", "d"])
        // The lost one coming back is a newcomer: it takes the last rank.
        let back = lossFirst.adding(["b"])
        #expect(back.members == ["a", "c", "d", "b"] && back.generation == 4)
    }

    @Test func classifiesGenerations() throws {
        let ring = try #require(RingMembership(generation: 4, members: ["a", "b"]))
        #expect(ring.classify(generation: 4) == .current)
        #expect(ring.classify(generation: 3) == .stale)
        #expect(ring.classify(generation: 0) == .stale)
        #expect(ring.classify(generation: 5) == .newer)
        #expect(ring.classify(generation: .max) == .newer)
    }

    @Test func describesItself() throws {
        let ring = try #require(RingMembership(generation: 2, members: ["student-a", "student-c"]))
        #expect(ring.description == "ring generation 2: 0=student-a 1=student-c")
    }
}
