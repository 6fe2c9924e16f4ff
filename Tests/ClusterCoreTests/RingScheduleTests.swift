import Testing
@testable import ClusterCore

/// The ring schedule, executed in memory hop by hop exactly as the replicas do.
@Suite struct RingScheduleTests {
    /// Runs the schedule on `inputs` (one buffer per rank), with every message of a hop
    /// computed from the state before the hop, as on a real network.
    static func simulate(_ inputs: [[Float]]) -> [[Float]] {
        let schedule = RingSchedule(ranks: inputs.count, count: inputs[0].count)!
        var buffers = inputs
        for hop in 0..<schedule.hops {
            let sent = (0..<schedule.ranks).map { r in
                let c = schedule.reduceScatterSend(rank: r, hop: hop)
                return (c, Array(buffers[r][schedule.chunk(c)]))
            }
            for r in 0..<schedule.ranks {
                let (c, values) = sent[schedule.previous(of: r)]
                #expect(c == schedule.reduceScatterReceive(rank: r, hop: hop))
                for (i, v) in zip(schedule.chunk(c), values) { buffers[r][i] += v }
            }
        }
        for r in 0..<schedule.ranks {
            let owned = schedule.ownedAfterReduceScatter(rank: r)
            #expect(owned == schedule.allGatherSend(rank: r, hop: 0), "the first all-gather hop sends the owned chunk")
        }
        for hop in 0..<schedule.hops {
            let sent = (0..<schedule.ranks).map { r in
                let c = schedule.allGatherSend(rank: r, hop: hop)
                return (c, Array(buffers[r][schedule.chunk(c)]))
            }
            for r in 0..<schedule.ranks {
                let (c, values) = sent[schedule.previous(of: r)]
                #expect(c == schedule.allGatherReceive(rank: r, hop: hop))
                for (i, v) in zip(schedule.chunk(c), values) { buffers[r][i] = v }
            }
        }
        return buffers
    }

    @Test(arguments: [1, 2, 3, 4, 5, 8])
    func everyRankEndsWithTheSameSum(ranks: Int) {
        var state: UInt64 = 0x5EED &+ UInt64(ranks)
        func random() -> Float {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(bitPattern: state >> 11) % 2000 - 1000) / 997
        }
        for count in [ranks, ranks + 1, 1000, 1003] {
            let inputs = (0..<ranks).map { _ in (0..<count).map { _ in random() } }
            let out = Self.simulate(inputs)
            for r in 1..<ranks { #expect(out[r] == out[0], "rank \(r) differs from rank 0 (count \(count))") }
            for i in 0..<count {
                let exact = inputs.reduce(0.0) { $0 + Double($1[i]) }
                #expect(abs(Double(out[0][i]) - exact) <= 1e-5 * Double(ranks) * (1 + abs(exact)))
            }
        }
    }

    @Test func chunksCoverTheBufferContiguouslyAndNearlyEqually() {
        for ranks in 1...9 {
            for count in ranks...(ranks + 20) {
                let s = RingSchedule(ranks: ranks, count: count)!
                var next = 0
                for c in 0..<ranks {
                    #expect(s.chunk(c).lowerBound == next)
                    #expect(s.chunk(c).count == count / ranks || s.chunk(c).count == count / ranks + 1)
                    next = s.chunk(c).upperBound
                }
                #expect(next == count)
            }
        }
    }

    @Test func impossibleRingsAreRefused() {
        #expect(RingSchedule(ranks: 0, count: 10) == nil)
        #expect(RingSchedule(ranks: 4, count: 3) == nil)
        #expect(RingSchedule(ranks: 1, count: 1) != nil)
    }

    @Test func neighboursFormOneRing() {
        let s = RingSchedule(ranks: 5, count: 50)!
        #expect((0..<5).map { s.next(of: $0) } == [1, 2, 3, 4, 0])
        #expect((0..<5).map { s.previous(of: $0) } == [4, 0, 1, 2, 3])
        #expect(s.hops == 4)
    }
}
