import ClusterCore
import Foundation

/// The real clock: `ContinuousClock` for monotonic time and sleeps, `Date` for wall time. This
/// file (with `WakeSignal`'s real-time wait) is the only place that reads the machine's clocks.
public struct SystemRuntimeClock: RuntimeClock {
    /// One origin for the whole process, so every instance tells the same time.
    private static let origin = ContinuousClock.now

    public init() {}

    public func instant() -> ClockInstant { ClockInstant(sinceOrigin: Self.origin.duration(to: .now)) }

    /// Arrival stamps come from the same monotonic clock; one stamped after `now()` was read
    /// (another thread) is taken as now.
    public func time(of instant: ClockInstant) -> ClockTime { min(instant.clockTime, now()) }

    public func wallMs() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

    public func sleep(until deadline: ClockInstant) async throws {
        let left = deadline - instant()
        guard left > .zero else { try Task.checkCancellation(); return }
        try await Task.sleep(for: left)
    }

    /// A real clock's deadline passes by itself: a wait takes the whole remaining time at once.
    public var waitSlice: Duration { .seconds(86_400 * 365) }
}
