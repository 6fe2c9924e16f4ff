import Clocks
import ClusterCore
import Synchronization

/// A clock that moves only when told to (tests, simulations): every reading — `now()`,
/// the precise `instant()`, wall time (from a fixed start) — and every sleep and bounded wait
/// (`Deadline`) on it moves only when the test calls `advance(by:)` or `set(milliseconds:)`.
/// Sleepers whose time has come are woken by that call, in deadline order.
///
/// Arrival stamps: `time(of:)` counts a message as heard when it is handled (`now()`), not
/// at its stamp — the in-memory transports of the embedded clusters stamp with the real clock,
/// whose readings mean nothing on this one.
public final class ManualClock: RuntimeClock {
    private struct Sleeper {
        let id: UInt64
        let deadline: ClockInstant
        let continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var current: Duration
        var sleepers: [Sleeper] = []
        var cancelled: Set<UInt64> = []
        var nextID: UInt64 = 1
    }

    private let state: Mutex<State>
    private let wallStart: Int64
    /// Real time a bounded wait on this clock hands to a queue before reading the clock again.
    public let waitSlice: Duration

    public init(startMs: UInt64 = 0, wallStart: Int64 = 1_764_547_200_000, waitSlice: Duration = .milliseconds(2)) {
        state = Mutex(State(current: .milliseconds(startMs)))
        self.wallStart = wallStart
        self.waitSlice = waitSlice
    }

    public func instant() -> ClockInstant { ClockInstant(sinceOrigin: state.withLock { $0.current }) }
    public func wallMs() -> Int64 { wallStart + Int64(now().milliseconds) }
    public func time(of instant: ClockInstant) -> ClockTime { now() }

    /// Tasks sleeping on this clock (for drivers that advance it when everyone waits).
    public var sleepers: Int { state.withLock { $0.sleepers.count } }

    public func sleep(until deadline: ClockInstant) async throws {
        let id = state.withLock { s -> UInt64 in defer { s.nextID += 1 }; return s.nextID }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let outcome: Result<Void, any Error>? = state.withLock { s in
                    if s.cancelled.remove(id) != nil { return .failure(CancellationError()) }
                    if deadline <= ClockInstant(sinceOrigin: s.current) { return .success(()) }
                    s.sleepers.append(Sleeper(id: id, deadline: deadline, continuation: continuation))
                    return nil
                }
                if let outcome { continuation.resume(with: outcome) }
            }
        } onCancel: {
            let sleeper: Sleeper? = state.withLock { s in
                guard let i = s.sleepers.firstIndex(where: { $0.id == id }) else { s.cancelled.insert(id); return nil }
                return s.sleepers.remove(at: i)
            }
            sleeper?.continuation.resume(throwing: CancellationError())
        }
    }

    /// Moves the clock forward by `duration` (nothing for zero or less) and wakes the sleepers
    /// whose deadline it reached.
    public func advance(by duration: Duration) {
        move { $0 + max(.zero, duration) }
    }

    /// Sets the clock to `milliseconds` (never backwards) and wakes the sleepers due.
    public func set(milliseconds: UInt64) {
        move { max($0, .milliseconds(milliseconds)) }
    }

    private func move(_ change: (Duration) -> Duration) {
        let due: [Sleeper] = state.withLock { s in
            s.current = change(s.current)
            let now = ClockInstant(sinceOrigin: s.current)
            let due = s.sleepers.filter { $0.deadline <= now }.sorted { ($0.deadline, $0.id) < ($1.deadline, $1.id) }
            s.sleepers.removeAll { $0.deadline <= now }
            return due
        }
        for sleeper in due { sleeper.continuation.resume() }
    }
}
