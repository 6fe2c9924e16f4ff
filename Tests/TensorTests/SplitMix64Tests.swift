import Tensor
import Testing

@Suite("SplitMix64")
struct SplitMix64Tests {
    @Test("the reference stream: seed 0 gives the outputs of Vigna's splitmix64.c")
    func knownAnswers() {
        var g = SplitMix64(seed: 0)
        #expect(g.next() == 0xE220_A839_7B1D_CDAF)
        #expect(g.next() == 0x6E78_9E6A_A1B9_65F4)
        #expect(g.next() == 0x06C4_5D18_8009_454F)
    }

    @Test("skip(n) lands where n calls of next() land, for small, odd and large n", arguments: [
        0, 1, 2, 7, 15, 16, 17, 1000, 12_345, 1 << 20,
    ])
    func skipEqualsStepping(n: Int) {
        for seed: UInt64 in [0, 1, 42, 0xDEAD_BEEF, .max] {
            var stepped = SplitMix64(seed: seed, stream: 3, UInt64(n))
            var skipped = stepped
            for _ in 0..<n { _ = stepped.next() }
            skipped.skip(n)
            #expect(skipped == stepped, "seed \(seed), n \(n)")
            // And the streams go on identically.
            #expect((0..<5).map { _ in skipped.next() } == (0..<5).map { _ in stepped.next() })
        }
    }

    @Test("skips compose: skip(a) then skip(b) is skip(a + b), and skip wraps around 2⁶⁴ like the counter")
    func skipsCompose() {
        var one = SplitMix64(seed: 9), two = one
        one.skip(123)
        one.skip(4_567)
        two.skip(4_690)
        #expect(one == two)
        var wrapped = SplitMix64(seed: .max)
        wrapped.skip(1)
        #expect(wrapped.state == UInt64.max &+ SplitMix64.gamma)
        var skippedNothing = SplitMix64(seed: 5)
        skippedNothing.skip(0)
        #expect(skippedNothing == SplitMix64(seed: 5))
    }

    @Test("sub-streams differ from each other and from the parent seed")
    func streams() {
        let outputs = [SplitMix64(seed: 1), SplitMix64(seed: 1, stream: 0), SplitMix64(seed: 1, stream: 1),
                       SplitMix64(seed: 1, stream: 0, 1), SplitMix64(seed: 1, stream: 1, 0)].map { g -> UInt64 in
            var g = g
            return g.next()
        }
        #expect(Set(outputs).count == outputs.count)
        #expect(SplitMix64(seed: 1, stream: 4, 2) == SplitMix64(seed: 1, stream: 4, 2))
    }

    @Test("bounded draws stay in range and cover it")
    func ranges() {
        var g = SplitMix64(seed: 77)
        var seen = Set<Int>()
        for _ in 0..<2_000 {
            let f = g.nextFloat(), d = g.nextDouble(), i = g.nextInt(below: 7), u = g.uniform(-3, 5)
            #expect(f >= 0 && f < 1 && d >= 0 && d < 1 && u >= -3 && u < 5)
            #expect((0..<7).contains(i))
            seen.insert(i)
        }
        #expect(seen.count == 7)
    }
}
