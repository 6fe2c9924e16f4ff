/// SplitMix64, a small, fast, seedable pseudo-random generator (Steele, Lea & Flood,
/// "Fast splittable pseudorandom number generators", OOPSLA 2014; the reference C code
/// is <https://prng.di.unimi.it/splitmix64.c>).
///
/// Every output is a pure function of the seed and the number of previous calls, and
/// the algorithms below are specified exactly, so any node — in Swift or another
/// language — can reproduce the same stream:
///
/// ```text
/// next():         state = state &+ 0x9E3779B97F4A7C15; return mix64(state)
/// mix64(z):       z = (z ^ (z >> 30)) &* 0xBF58476D1CE4E5B9
///                 z = (z ^ (z >> 27)) &* 0x94D049BB133111EB
///                 return z ^ (z >> 31)
/// nextFloat():    Float(next() >> 40) * 2^-24          in [0, 1)
/// nextDouble():   Double(next() >> 11) * 2^-53         in [0, 1)
/// nextInt(below: n):  Lemire's multiply-and-reject, see ``nextInt(below:)``
/// ```
///
/// Seed 1234567 yields 6457827717110365317, 3203168211198807973, 9817491932198370423, …
///
/// It also conforms to `RandomNumberGenerator`, so it can drive the standard library's
/// `shuffled(using:)` or `Int.random(in:using:)` — but those algorithms are the standard
/// library's, not specified here; use ``Permutation`` and ``nextInt(below:)`` for
/// anything other nodes must recompute.
public struct SplitMix64: RandomNumberGenerator, Sendable, Hashable {
    /// The golden-ratio increment added to the state on every step.
    public static let gamma: UInt64 = 0x9E37_79B9_7F4A_7C15

    /// The internal state: the seed plus `gamma` times the number of outputs so far.
    public private(set) var state: UInt64

    /// A generator whose state starts at `seed`.
    public init(seed: UInt64) {
        state = seed
    }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state = state &+ SplitMix64.gamma
        return SplitMix64.mix64(state)
    }

    /// A uniform `Float` in `[0, 1)`: the top 24 bits of ``next()`` times 2⁻²⁴.
    public mutating func nextFloat() -> Float {
        Float(next() >> 40) * 0x1p-24
    }

    /// A uniform `Double` in `[0, 1)`: the top 53 bits of ``next()`` times 2⁻⁵³.
    public mutating func nextDouble() -> Double {
        Double(next() >> 11) * 0x1p-53
    }

    /// A uniform integer in `0..<bound`, without modulo bias.
    ///
    /// Lemire's method ("Fast random integer generation in an interval", 2019):
    /// `m = next() × bound` as a 128-bit product; if `low(m) < (2⁶⁴ − bound) mod bound`,
    /// draw again; the result is `high(m)`. `bound` must be positive.
    public mutating func nextInt(below bound: Int) -> Int {
        precondition(bound > 0, "SplitMix64.nextInt(below:): bound must be positive, got \(bound)")
        let n = UInt64(bound)
        var m = next().multipliedFullWidth(by: n)
        if m.low < n {
            let threshold = (0 &- n) % n
            while m.low < threshold {
                m = next().multipliedFullWidth(by: n)
            }
        }
        return Int(m.high)
    }

    /// The SplitMix64 output function (a bijection on `UInt64`), also used to mix seeds.
    public static func mix64(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
