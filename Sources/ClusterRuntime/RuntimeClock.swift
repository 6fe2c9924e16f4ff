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

/// A clock that moves only when told to (tests, simulations). Wall time moves with it from a
/// fixed start.
public final class ManualClock: RuntimeClock {
    private let current = Mutex<UInt64>(0)
    private let wallStart: Int64

    public init(startMs: UInt64 = 0, wallStart: Int64 = 1_764_547_200_000) {
        current.withLock { $0 = startMs }
        self.wallStart = wallStart
    }

    public func now() -> ClockTime { ClockTime(milliseconds: current.withLock { $0 }) }
    public func wallMs() -> Int64 { wallStart + Int64(current.withLock { $0 }) }
    /// A manual clock cannot place real instants on its own time line: every instant is `now()`
    /// (in-memory tests count a message as heard when it is handled).
    public func time(of instant: ContinuousClock.Instant) -> ClockTime { now() }

    /// Moves the clock forward by `duration`.
    public func advance(by duration: Duration) {
        let ms = duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
        current.withLock { $0 += UInt64(max(0, ms)) }
    }

    /// Sets the clock to `milliseconds` (never backwards).
    public func set(milliseconds: UInt64) { current.withLock { $0 = max($0, milliseconds) } }
}

extension Duration {
    /// Whole milliseconds (truncated), for wire fields and display.
    var wholeMilliseconds: Int64 {
        components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000
    }

    /// "1.5 s", "250 ms".
    var shortDescription: String {
        let ms = wholeMilliseconds
        if ms < 1000 { return "\(ms) ms" }
        return String(format: "%.1f s", Double(ms) / 1000)
    }
}
