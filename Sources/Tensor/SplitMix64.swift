/// SplitMix64 (Steele, Lea & Flood 2014): a tiny, fast, seedable generator whose output is a
/// pure function of its seed, so every node of a cluster can replay the same stream.
///
///     state += 0x9E3779B97F4A7C15
///     z = state; z = (z ^ (z >> 30)) · 0xBF58476D1CE4E5B9; z = (z ^ (z >> 27)) · 0x94D049BB133111EB
///     output = z ^ (z >> 31)
public struct SplitMix64: RandomNumberGenerator, Sendable, Hashable {
    public var state: UInt64
    /// The golden-ratio increment added to the state before each output.
    public static let gamma: UInt64 = 0x9E37_79B9_7F4A_7C15

    /// The SplitMix64 finaliser (a strong 64-bit mixing function).
    @inlinable
    public static func mix64(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    public init(seed: UInt64) { state = seed }

    /// A generator for an independent sub-stream: seeds are combined through one SplitMix
    /// round each, so `(seed, a, b)` tuples that differ anywhere give unrelated streams.
    public init(seed: UInt64, stream: UInt64...) {
        var g = SplitMix64(seed: seed)
        var s = g.next()
        for part in stream {
            var h = SplitMix64(seed: s ^ (part &* 0xD1B5_4A32_D192_ED03))
            s = h.next()
        }
        state = s
    }

    @inlinable
    public mutating func next() -> UInt64 {
        state &+= SplitMix64.gamma
        return SplitMix64.mix64(state)
    }

    /// Moves the stream on by `draws` outputs without computing them (the state is a counter:
    /// after k draws it is `seed + k·γ`, mod 2⁶⁴).
    @inlinable
    public mutating func skip(_ draws: Int) {
        precondition(draws >= 0, "cannot skip a negative number of draws")
        state &+= UInt64(draws) &* SplitMix64.gamma
    }

    /// Uniform in [0, 1) with 24 bits of precision.
    @inlinable
    public mutating func nextFloat() -> Float { Float(next() >> 40) * (1.0 / 16_777_216.0) }

    /// Uniform in [0, 1) with 53 bits of precision.
    @inlinable
    public mutating func nextDouble() -> Double { Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0) }

    /// Uniform integer in `0..<bound` without modulo bias (Lemire's multiply-and-reject).
    @inlinable
    public mutating func nextInt(below bound: Int) -> Int {
        precondition(bound > 0, "bound must be positive")
        let b = UInt64(bound)
        var m = next().multipliedFullWidth(by: b)
        if m.low < b {
            let threshold = (0 &- b) % b
            while m.low < threshold { m = next().multipliedFullWidth(by: b) }
        }
        return Int(m.high)
    }

    /// Uniform in [lo, hi).
    @inlinable
    public mutating func uniform(_ lo: Float, _ hi: Float) -> Float { lo + (hi - lo) * nextFloat() }
}
