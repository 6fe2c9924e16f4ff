import ClusterCore
import Foundation
import Synchronization
import Wire

/// The coordinator's membership, shared by its two lanes (see `CoordinatorService`):
/// - the **liveness lane** stamps every message as heard at its arrival, answers heartbeats,
///   notices stalls of its own (``LocalHealth``) and ticks liveness — on a thread of its own,
///   never waiting for the `Coordinator` actor, its store or a client's request;
/// - the **control lane** (the actor) registers, deregisters and places work, reading
///   membership through ``snapshot``.
///
/// A `Mutex` around the pure `Membership` value: every call is a few microseconds, so neither
/// lane ever waits on the other for long. Membership events found here (suspected, died,
/// recovered …) are the caller's to hand to the actor, which logs, stores and acts on them.
public final class LivenessDesk: Sendable {
    private struct State {
        var membership: Membership
        var health: LocalHealth?
        var answers = LatencyWindow()
        /// Time between successive heartbeats of each worker, as they arrived.
        var gaps = LatencyWindow()
        var lastBeat: [String: ClockTime] = [:]
    }

    private let state: Mutex<State>

    /// - Parameter stallTolerance: lateness of the lane's loop that is ordinary scheduling
    ///   noise; beyond it the lateness is a stall, excused to every worker. nil: never
    ///   excuse (tests that move a manual clock in jumps on purpose).
    public init(settings: LivenessSettings, stallTolerance: Duration?) {
        state = Mutex(State(membership: Membership(settings: settings), health: stallTolerance.map(LocalHealth.init)))
    }

    /// A copy of the membership as it is now.
    public var snapshot: Membership { state.withLock { $0.membership } }

    public var settings: LivenessSettings { state.withLock { $0.membership.settings } }

    public func member(_ name: String) -> Member? { state.withLock { $0.membership.member(name) } }

    /// Any message from `name`, heard at `at` (its arrival stamp). False when `name` is not a
    /// member that holds work (unknown, dead or left).
    @discardableResult
    public func heard(from name: String, at: ClockTime) -> Bool {
        state.withLock { $0.membership.heard(from: name, at: at) }
    }

    /// A heartbeat from `name`: nil when it must register first (unknown, dead or left), else
    /// the membership events it caused (a suspect member recovers).
    public func heartbeat(from name: String, load: WorkerLoad, at: ClockTime) -> [MembershipEvent]? {
        state.withLock { s in
            guard let m = s.membership.member(name), m.liveness.holdsWork else { return nil }
            if let previous = s.lastBeat[name], at > previous { s.gaps.record(at - previous) }
            s.lastBeat[name] = at
            return s.membership.heartbeat(from: name, load: load, at: at)
        }
    }

    public func register(_ info: WorkerInfo, at now: ClockTime) -> [MembershipEvent] {
        state.withLock { s in
            s.lastBeat[info.name] = nil
            return s.membership.register(info, at: now)
        }
    }

    public func deregister(_ name: String, reason: String, at now: ClockTime) -> [MembershipEvent] {
        state.withLock { $0.membership.deregister(name, reason: reason, at: now) }
    }

    /// The lane ticks at `now`, with every message already received stamped: a stall of its
    /// own (lateness past the previous tick's promise, beyond the tolerance) is excused to every
    /// worker, then liveness advances to `now`, and the lane promises its next tick by
    /// `nextTickBy`. Returns the stall (zero when none) and the events.
    public func tick(at now: ClockTime, nextTickBy: ClockTime) -> (stall: Duration, events: [MembershipEvent]) {
        state.withLock { s in
            let stall = s.health?.resumed(at: now) ?? .zero
            s.membership.excuse(stall: stall, at: now)
            let events = s.membership.tick(at: now)
            s.health?.willWait(until: nextTickBy)
            return (stall, events)
        }
    }

    /// When liveness next has something to decide.
    public func nextDeadline() -> ClockTime? { state.withLock { $0.membership.nextDeadline() } }

    /// Stalls the lane noticed so far: how many, their total and the longest.
    public var stalls: (count: Int, total: Duration, longest: Duration) {
        state.withLock { s in (s.health?.stalls ?? 0, s.health?.totalStalled ?? .zero, s.health?.longestStall ?? .zero) }
    }

    /// Records how long a heartbeat waited between its arrival and its answer.
    public func answered(after latency: Duration) {
        state.withLock { $0.answers.record(latency) }
    }

    /// Heartbeat-answer latencies since the last call (the window then starts afresh).
    public func takeAnswerLatencies() -> LatencySummary {
        state.withLock { s in
            defer { s.answers = LatencyWindow() }
            return s.answers.summary
        }
    }

    /// Gaps between successive heartbeats of the same worker, as they arrived, since the last
    /// call: how late a loaded worker's heartbeats really come (what the windows must allow).
    public func takeHeartbeatGaps() -> LatencySummary {
        state.withLock { s in
            defer { s.gaps = LatencyWindow() }
            return s.gaps.summary
        }
    }
}

/// Latencies of one window: every sample up to a bound (then a uniform thinning), and the max.
struct LatencyWindow {
    private var samples: [Duration] = []
    private var seen = 0
    private var longest: Duration = .zero
    private static let bound = 20_000

    mutating func record(_ d: Duration) {
        seen += 1
        longest = max(longest, d)
        if samples.count < Self.bound {
            samples.append(d)
        } else {
            // Reservoir sampling with a deterministic index stream (no randomness needed here).
            let slot = (seen &* 2_654_435_761) % seen
            if slot < Self.bound { samples[slot] = d }
        }
    }

    var summary: LatencySummary {
        let sorted = samples.sorted()
        func quantile(_ q: Double) -> Duration {
            sorted.isEmpty ? .zero : sorted[min(sorted.count - 1, Int((Double(sorted.count - 1) * q).rounded()))]
        }
        return LatencySummary(count: seen, median: quantile(0.5), p99: quantile(0.99), max: longest)
    }
}

/// Count, median, 99th percentile and maximum of a window of latencies.
public struct LatencySummary: Sendable, Equatable, CustomStringConvertible {
    public var count: Int
    public var median: Duration
    public var p99: Duration
    public var max: Duration

    /// "412 answered: median 0.21 ms, p99 1.30 ms, max 2.05 ms".
    public var description: String {
        "\(count) answered: median \(median.msText), p99 \(p99.msText), max \(max.msText)"
    }
}

extension Duration {
    /// "0.21 ms", "1250.00 ms".
    var msText: String {
        String(format: "%.2f ms", Double(components.seconds) * 1000 + Double(components.attoseconds) / 1e15)
    }
}
