// Time, injected (DESIGN.md §4 "Instance / Shell / Directive"): the cores never read a clock;
// every change is stamped by the shell.

/// A point on the injected monotonic clock, in milliseconds from an arbitrary origin.
/// Shells read it from an injected `RuntimeClock` (Clocks): the system clock, or in tests a
/// `ManualClock` that they jump.
///
/// The cores work in whole milliseconds: sub-millisecond parts of a `Duration` are dropped
/// (rounded toward zero) when it is added to a `ClockTime`.
public struct ClockTime: Comparable, Hashable, Sendable, CustomStringConvertible {
    public var milliseconds: UInt64

    public init(milliseconds: UInt64) {
        self.milliseconds = milliseconds
    }

    /// The origin of the clock.
    public static let zero = ClockTime(milliseconds: 0)

    /// `t` moved by `d` (which may be negative), saturating at 0 and at `UInt64.max` ms.
    public static func + (t: ClockTime, d: Duration) -> ClockTime {
        // Beyond ±Int64.max ms any move saturates (wholeMilliseconds would clamp there).
        if d >= .milliseconds(Int64.max) { return ClockTime(milliseconds: .max) }
        if d <= .milliseconds(Int64.min) { return ClockTime(milliseconds: 0) }
        let delta = d.wholeMilliseconds
        if delta >= 0 {
            let (sum, overflow) = t.milliseconds.addingReportingOverflow(UInt64(delta))
            return ClockTime(milliseconds: overflow ? .max : sum)
        }
        let back = delta.magnitude
        return ClockTime(milliseconds: t.milliseconds > back ? t.milliseconds - back : 0)
    }

    /// How long after `b` the time `a` is; zero when `b` is later than `a` (never negative).
    public static func - (a: ClockTime, b: ClockTime) -> Duration {
        a.milliseconds > b.milliseconds ? .milliseconds(a.milliseconds - b.milliseconds) : .zero
    }

    public static func < (a: ClockTime, b: ClockTime) -> Bool {
        a.milliseconds < b.milliseconds
    }

    /// Seconds from the origin, e.g. "t=12.345 s".
    public var description: String {
        "t=" + Duration.secondsText(milliseconds: milliseconds, negative: false)
    }
}
