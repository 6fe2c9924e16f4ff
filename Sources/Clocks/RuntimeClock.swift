import ClusterCore

/// The one time source of the runtime, the data plane, the transports and the training loops
/// (docs/ARCHITECTURE.md "One clock"). Everything that waits, times out or measures reads an
/// injected `RuntimeClock`, so a whole cluster can run on a `ManualClock` in tests and be moved
/// through its deadlines tick by tick; `SystemRuntimeClock` is the only code that reads the
/// machine's clocks or sleeps.
///
/// - `now()`: monotonic whole milliseconds (`ClockTime`) for the pure cores' deadlines;
/// - `instant()`: the same clock, precise (`ClockInstant`), for measurements (step-time
///   split, samples/s, epoch seconds) and arrival stamps;
/// - `wallMs()`: Unix milliseconds, for records and display only (never for deadlines);
/// - `sleep(until:)`, and `deadline(after:)` with its bounded waits (``Deadline``).
public protocol RuntimeClock: Sendable {
    /// Precise monotonic time since this clock's origin (never jumps back).
    func instant() -> ClockInstant
    /// Wall-clock time in Unix milliseconds, for records and display.
    func wallMs() -> Int64
    /// The clock's time at an arrival stamp (`Inbound.arrivedAt`), never later than `now()`.
    func time(of instant: ClockInstant) -> ClockTime
    /// Returns once the clock reads `deadline` or later; throws `CancellationError` when the
    /// task is cancelled first.
    func sleep(until deadline: ClockInstant) async throws
    /// The longest real-time slice a bounded wait hands to a queue or a condition before it
    /// reads this clock again (``Deadline``): the whole remaining time on a real clock; a few
    /// milliseconds on a manual clock, whose deadlines pass only when a test moves it.
    var waitSlice: Duration { get }
}

extension RuntimeClock {
    /// Monotonic time for deadlines, in the cores' whole milliseconds.
    public func now() -> ClockTime { instant().clockTime }

    /// Sleeps `duration` on this clock (returns at once for zero or less).
    public func sleep(for duration: Duration) async throws {
        try await sleep(until: instant() + duration)
    }

    /// How long ago `start` was on this clock (zero if `start` is later).
    public func elapsed(since start: ClockInstant) -> Duration { instant() - start }

    /// A deadline `timeout` from now on this clock, for one bounded wait.
    public func deadline(after timeout: Duration) -> Deadline { Deadline(after: timeout, on: self) }
}

/// A precise reading of a `RuntimeClock`: the time since the clock's origin. Readings of one
/// clock compare and subtract; readings of different clocks mean nothing to each other.
public struct ClockInstant: Comparable, Hashable, Sendable {
    public var sinceOrigin: Duration

    public init(sinceOrigin: Duration) { self.sinceOrigin = sinceOrigin }

    /// The origin of the clock.
    public static let zero = ClockInstant(sinceOrigin: .zero)

    /// The reading in the cores' whole milliseconds (sub-millisecond parts dropped).
    public var clockTime: ClockTime { ClockTime.zero + sinceOrigin }

    public static func + (a: ClockInstant, d: Duration) -> ClockInstant { ClockInstant(sinceOrigin: a.sinceOrigin + d) }

    /// How long after `b` the reading `a` is; zero when `b` is later (never negative).
    public static func - (a: ClockInstant, b: ClockInstant) -> Duration { max(.zero, a.sinceOrigin - b.sinceOrigin) }

    public static func < (a: ClockInstant, b: ClockInstant) -> Bool { a.sinceOrigin < b.sinceOrigin }
}

extension Duration {
    /// The duration in seconds, with its sub-second part (for rates and figures).
    public var inSeconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
