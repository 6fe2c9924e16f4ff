import ClusterCore
import ClusterRuntime
import Synchronization

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
