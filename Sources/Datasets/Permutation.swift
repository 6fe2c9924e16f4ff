import Tensor
/// Deterministic permutations of `0..<count`, reproducible on every node of a cluster.
///
/// Epoch `e` of a run with seed `s` visits the samples in the order
/// `Permutation.of(count: n, seed: s, epoch: e)`. The result is a pure function of
/// `(count, seed, epoch)`, defined exactly as follows so that any implementation
/// recomputes the same order independently:
///
/// ```text
/// streamSeed = mix64(mix64(seed) ^ mix64(UInt64(bitPattern: Int64(epoch)) &+ 0x9E3779B97F4A7C15))
/// rng        = SplitMix64(seed: streamSeed)
/// perm       = [0, 1, …, count − 1]
/// for i in stride(from: count − 1, through: 1, by: −1):      // Fisher–Yates
///     j = rng.nextInt(below: i + 1)                            // 0 ≤ j ≤ i, Lemire, unbiased
///     swap(perm[i], perm[j])
/// ```
///
/// `mix64` and `nextInt(below:)` are those of ``SplitMix64``. Because `mix64` is a
/// bijection, distinct epochs of one seed, and distinct seeds at one epoch, get distinct
/// generator streams.
public enum Permutation {
    /// The epoch reserved for choosing the validation samples in
    /// ``LabeledImages/split(validationCount:seed:)``; training epochs are `0, 1, 2, …`.
    public static let validationSplitEpoch = -1

    /// The permutation of `0..<count` for `(seed, epoch)`; see the type's documentation
    /// for the exact rule. `count` must not be negative.
    public static func of(count: Int, seed: UInt64, epoch: Int) -> [Int] {
        precondition(count >= 0, "Permutation.of: count must not be negative, got \(count)")
        var rng = SplitMix64(seed: streamSeed(seed: seed, epoch: epoch))
        var perm = Array(0..<count)
        perm.withUnsafeMutableBufferPointer { p in
            var i = count - 1
            while i > 0 {
                let j = rng.nextInt(below: i + 1)
                p.swapAt(i, j)
                i -= 1
            }
        }
        return perm
    }

    /// The seed of the SplitMix64 stream that shuffles epoch `epoch` of a run seeded `seed`:
    /// `mix64(mix64(seed) ^ mix64(UInt64(bitPattern: Int64(epoch)) &+ gamma))`.
    public static func streamSeed(seed: UInt64, epoch: Int) -> UInt64 {
        let epochBits = UInt64(bitPattern: Int64(epoch))
        return SplitMix64.mix64(SplitMix64.mix64(seed) ^ SplitMix64.mix64(epochBits &+ SplitMix64.gamma))
    }

    /// Whether `values` holds each of `0..<values.count` exactly once.
    public static func isPermutation(_ values: [Int]) -> Bool {
        var seen = [Bool](repeating: false, count: values.count)
        for v in values {
            guard v >= 0, v < values.count, !seen[v] else { return false }
            seen[v] = true
        }
        return true
    }
}
