// Whole milliseconds and human-readable seconds, for deadlines and for reason texts.

extension Duration {
    /// Whole milliseconds, rounded toward zero, clamped to the range of `Int64`.
    public var wholeMilliseconds: Int64 {
        let (seconds, attoseconds) = components
        let (ms, overflow) = seconds.multipliedReportingOverflow(by: 1000)
        if overflow { return seconds < 0 ? .min : .max }
        // `components` gives both parts the same sign, so truncation is toward zero.
        let (sum, overflowAgain) = ms.addingReportingOverflow(attoseconds / 1_000_000_000_000_000)
        if overflowAgain { return ms < 0 ? .min : .max }
        return sum
    }

    /// Seconds with at least one and at most three decimals, as reason texts show them:
    /// "5.0 s", "1.5 s", "0.25 s", "0.001 s", "-2.0 s".
    public var secondsText: String {
        let ms = wholeMilliseconds
        return Self.secondsText(milliseconds: ms.magnitude, negative: ms < 0)
    }

    /// `milliseconds` (negated when `negative`) as seconds, like ``secondsText``.
    public static func secondsText(milliseconds: UInt64, negative: Bool) -> String {
        var fraction = String(milliseconds % 1000)
        fraction = String(repeating: "0", count: 3 - fraction.count) + fraction
        while fraction.count > 1, fraction.hasSuffix("0") {
            fraction.removeLast()
        }
        return (negative ? "-" : "") + "\(milliseconds / 1000).\(fraction) s"
    }

    /// "1.5 s", "250 ms": short, for log lines and reasons about waits.
    public var shortDescription: String {
        let ms = wholeMilliseconds
        if ms < 1000 { return "\(ms) ms" }
        let tenths = (ms.magnitude + 50) / 100  // rounded to one decimal, as "%.1f" would
        return "\(tenths / 10).\(tenths % 10) s"
    }
}
