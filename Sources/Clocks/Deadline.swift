import Foundation

/// The one bounded-wait helper (DESIGN.md §4 "every wait has a timeout"): a deadline on an
/// injected `RuntimeClock`. Waits on queues and conditions take the remaining time in slices
/// of at most the clock's `waitSlice` of real time and read the clock again between them, so
/// on a `ManualClock` a timeout fires only when the test moves the clock past the deadline,
/// and on the real clock a wait is one call with the whole remaining time.
///
/// ```swift
/// let deadline = clock.deadline(after: timeout)
/// guard let a = try await deadline.wait({ try await queue.take(timeout: $0) }) else { throw … }
/// ```
public struct Deadline: Sendable {
    public let clock: any RuntimeClock
    /// When the wait ends, on `clock`.
    public let instant: ClockInstant
    /// The whole wait, as asked for (for error messages).
    public let timeout: Duration

    public init(after timeout: Duration, on clock: any RuntimeClock) {
        self.clock = clock
        self.instant = clock.instant() + max(.zero, timeout)
        self.timeout = timeout
    }

    /// Time left on the clock (zero once passed).
    public var remaining: Duration { instant - clock.instant() }

    /// True once the clock reads the deadline or later.
    public var hasPassed: Bool { clock.instant() >= instant }

    /// The real-time wait to hand to the next attempt: the remaining time, at most the
    /// clock's `waitSlice` and `limit` (e.g. 1 s, for a loop that checks a cancellation flag).
    public func slice(atMost limit: Duration? = nil) -> Duration {
        min(remaining, clock.waitSlice, limit ?? clock.waitSlice)
    }

    /// Calls `attempt` with successive slices until it returns a value or the deadline has
    /// passed (nil). `attempt` runs at least once — with a zero slice when the deadline has
    /// passed already, so a value that is there is still taken.
    public func wait<T>(_ attempt: (_ slice: Duration) async throws -> T?) async rethrows -> T? {
        while true {
            if let value = try await attempt(slice()) { return value }
            if hasPassed { return nil }
        }
    }

    /// Pauses one slice of real time (at most `limit`), for a polling loop that has nothing to
    /// wait on (e.g. for a listener to appear); the caller checks `hasPassed` afterwards.
    public func pause(atMost limit: Duration) async throws {
        try await SystemRuntimeClock().sleep(for: slice(atMost: limit))
    }

    /// Blocks this thread (for synchronous code on a thread of its own) until `ready()` holds,
    /// true, or the deadline has passed, false. Wakes when `signal` is signalled, so whoever
    /// makes `ready()` true must signal it, and at least every `limit` (to check a condition
    /// nobody signals, e.g. a cancellation flag); `ready()` is checked once more at the end.
    public func block(on signal: WakeSignal, atMost limit: Duration? = nil, until ready: () -> Bool) -> Bool {
        while true {
            let seen = signal.generation
            if ready() { return true }
            if hasPassed { return ready() }
            signal.wait(after: seen, atMost: slice(atMost: limit))
        }
    }
}

extension RuntimeClock {
    /// Blocks this thread for `duration` on this clock (synchronous code on a thread of its
    /// own, e.g. a stalled write injected by a test; async code uses `sleep(for:)`).
    public func blockingSleep(for duration: Duration) {
        _ = deadline(after: duration).block(on: WakeSignal(), until: { false })
    }
}

/// A wake-up for threads blocked in `Deadline.block(on:until:)`: `signal()` wakes every
/// thread waiting on it (a generation counter, so a signal between the check and the wait
/// is not lost).
public final class WakeSignal: @unchecked Sendable {
    private let condition = NSCondition()
    private var count: UInt64 = 0

    public init() {}

    var generation: UInt64 {
        condition.lock(); defer { condition.unlock() }
        return count
    }

    /// Wakes every waiter.
    public func signal() {
        condition.lock()
        count &+= 1
        condition.broadcast()
        condition.unlock()
    }

    /// Waits (real time, at most `limit`) until signalled after `seen`.
    func wait(after seen: UInt64, atMost limit: Duration) {
        let until = Date(timeIntervalSinceNow: min(limit, .seconds(86_400)).inSeconds)
        condition.lock(); defer { condition.unlock() }
        while count == seen {
            if !condition.wait(until: until) { return }
        }
    }
}
