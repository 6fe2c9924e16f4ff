import Tensor
import Datasets
import Testing

@Suite("SplitMix64")
struct SplitMix64Tests {
    @Test("matches the reference splitmix64.c outputs")
    func referenceVector() {
        var rng = SplitMix64(seed: 1_234_567)
        let outputs = (0..<5).map { _ in rng.next() }
        #expect(outputs == [6_457_827_717_110_365_317, 3_203_168_211_198_807_973, 9_817_491_932_198_370_423,
                            4_593_380_528_125_082_431, 16_408_922_859_458_223_821])
        var zero = SplitMix64(seed: 0)
        #expect(zero.next() == 0xE220_A839_7B1D_CDAF)
    }

    @Test("nextFloat and nextDouble stay in [0, 1) and average about 1/2")
    func unitInterval() {
        var rng = SplitMix64(seed: 42)
        var floatSum = 0.0, doubleSum = 0.0
        for _ in 0..<10_000 {
            let f = rng.nextFloat(), d = rng.nextDouble()
            #expect(f >= 0 && f < 1)
            #expect(d >= 0 && d < 1)
            floatSum += Double(f)
            doubleSum += d
        }
        #expect(abs(floatSum / 10_000 - 0.5) < 0.02)
        #expect(abs(doubleSum / 10_000 - 0.5) < 0.02)
    }

    @Test("nextInt(below:) stays in range and is roughly uniform")
    func nextIntBelow() {
        var rng = SplitMix64(seed: 7)
        var counts = [Int](repeating: 0, count: 6)
        for _ in 0..<60_000 {
            let v = rng.nextInt(below: 6)
            #expect(v >= 0 && v < 6)
            counts[v] += 1
        }
        for c in counts { #expect(abs(c - 10_000) < 500) }
        var one = SplitMix64(seed: 1)
        #expect((0..<100).allSatisfy { _ in one.nextInt(below: 1) == 0 })
        var huge = SplitMix64(seed: 2)
        #expect((0..<100).allSatisfy { _ in huge.nextInt(below: Int.max) >= 0 })
    }

    @Test("usable as a RandomNumberGenerator, deterministically")
    func randomNumberGenerator() {
        var a = SplitMix64(seed: 99), b = SplitMix64(seed: 99)
        #expect(Array(0..<50).shuffled(using: &a) == Array(0..<50).shuffled(using: &b))
        #expect(Int.random(in: 0..<1000, using: &a) == Int.random(in: 0..<1000, using: &b))
    }
}

@Suite("Permutation")
struct PermutationTests {
    @Test("is a permutation of 0..<count", arguments: [0, 1, 2, 3, 10, 1000, 60_000])
    func isPermutation(count: Int) {
        let perm = Permutation.of(count: count, seed: 123, epoch: 4)
        #expect(perm.count == count)
        #expect(Permutation.isPermutation(perm))
    }

    @Test("matches an independent implementation of the documented rule")
    func goldenValues() {
        // Computed with a Python transcription of the rule in Permutation's documentation.
        #expect(Permutation.of(count: 10, seed: 42, epoch: 0) == [6, 1, 3, 5, 4, 9, 8, 7, 2, 0])
        #expect(Permutation.of(count: 10, seed: 42, epoch: 1) == [6, 7, 2, 3, 0, 5, 4, 1, 8, 9])
        #expect(Permutation.of(count: 10, seed: 7, epoch: 0) == [0, 2, 3, 6, 8, 9, 4, 7, 5, 1])
        #expect(Permutation.of(count: 16, seed: 0xDEAD_BEEF, epoch: -1)
            == [4, 10, 6, 5, 11, 8, 3, 7, 13, 1, 12, 9, 0, 15, 14, 2])
    }

    @Test("is reproducible and differs across epochs and seeds")
    func independence() {
        let base = Permutation.of(count: 1000, seed: 1, epoch: 0)
        #expect(Permutation.of(count: 1000, seed: 1, epoch: 0) == base)
        var seen: Set<[Int]> = [base]
        for epoch in 1..<20 { seen.insert(Permutation.of(count: 1000, seed: 1, epoch: epoch)) }
        for seed in 2..<20 as Range<UInt64> { seen.insert(Permutation.of(count: 1000, seed: seed, epoch: 0)) }
        #expect(seen.count == 1 + 19 + 18)
        #expect(Permutation.streamSeed(seed: 1, epoch: 2) != Permutation.streamSeed(seed: 2, epoch: 1))
        #expect(base != Array(0..<1000))
    }

    @Test("every element lands in every position about equally often")
    func uniformity() {
        // 4! = 24 orders; over 24 000 epochs each should appear ~1000 times.
        var counts: [[Int]: Int] = [:]
        for epoch in 0..<24_000 { counts[Permutation.of(count: 4, seed: 77, epoch: epoch), default: 0] += 1 }
        #expect(counts.count == 24)
        for (_, n) in counts { #expect(abs(n - 1000) < 150) }
    }

    @Test("isPermutation rejects duplicates and out-of-range values")
    func validator() {
        #expect(Permutation.isPermutation([2, 0, 1]))
        #expect(!Permutation.isPermutation([0, 0, 1]))
        #expect(!Permutation.isPermutation([0, 3, 1]))
        #expect(!Permutation.isPermutation([-1, 0, 1]))
    }
}
