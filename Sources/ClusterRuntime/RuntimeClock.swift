import ClusterCore
import Foundation
import Synchronization

/// The time source of the runtime shells. The cores (`Membership`, `RunLifecycle`) only see
/// `ClockTime`s handed to them, so a whole cluster can run on a `ManualClock` in tests and
/// be moved through liveness deadlines tick by tick.
public protocol RuntimeClock: Sendable {
    /// Monotonic time for deadlines (never jumps back).
    func now() -> ClockTime
    /// Wall-clock time in Unix milliseconds, for records and display.
    func wallMs() -> Int64
    /// The clock's time at a real instant (a message's arrival stamp, `Inbound.arrivedAt`),
    /// never later than `now()`.
    func time(of instant: ContinuousClock.Instant) -> ClockTime
}

/// The real clocks: `ContinuousClock` for deadlines, `Date` for records.
public struct SystemRuntimeClock: RuntimeClock {
    /// One origin for the whole process, so every instance tells the same time.
    private static let origin = ContinuousClock.now
    private var origin: ContinuousClock.Instant { Self.origin }

    public init() {}

    public func now() -> ClockTime { time(of: ContinuousClock.now) }

    public func time(of instant: ContinuousClock.Instant) -> ClockTime {
        ClockTime(milliseconds: UInt64(max(0, (instant - origin).wholeMilliseconds)))
    }

    public func wallMs() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }
}
