// Local health (Lifeguard): a node that notices it was itself slow stops trusting its own
// timeouts. Dadgar, Phillips, Currey, "Lifeguard: Local Health Awareness for More Accurate
// Failure Detection" (2018); swift-cluster-membership's `SWIM.Instance` keeps the same idea
// as its local health multiplier.

/// Notices that the loop observing other nodes was itself stalled, so that a stall of its own
/// is not taken for their silence.
///
/// The loop says when it will be back (``willWait(until:)``: the end of the wait it is about
/// to start); when it is back (``resumed(at:)``) any lateness beyond ``tolerance`` is a stall:
/// the process was paused (SIGSTOP, a VM steal, a laptop lid), the machine was too busy to run
/// it, or work in the loop itself (a slow disk) took that long. In every case the loop could
/// not hear anyone during the stall, so the caller excuses everyone's silence by the whole
/// lateness (``Membership/excuse(stall:at:)``).
///
/// Where Lifeguard multiplies its probe timeouts by a health score, this keeps the timeouts
/// and moves each deadline by the stall actually measured: the deadlines stay exact when the
/// node is healthy, and a node that really stopped is still found `deadAfter` after the
/// observer recovers.
public struct LocalHealth: Sendable, Equatable {
    /// Lateness that is ordinary scheduling noise, not a stall.
    public var tolerance: Duration
    /// When the loop promised to be back; nil before the first wait.
    var expectedBy: ClockTime?
    /// Stalls noticed so far, their sum and the longest.
    public private(set) var stalls = 0
    public private(set) var totalStalled: Duration = .zero
    public private(set) var longestStall: Duration = .zero

    public init(tolerance: Duration = .milliseconds(500)) {
        self.tolerance = tolerance
    }

    /// The loop is about to wait, at most until `deadline`.
    public mutating func willWait(until deadline: ClockTime) {
        expectedBy = deadline
    }

    /// The loop is back at `now`. Returns the stall — the whole lateness past the promised
    /// time when it exceeds ``tolerance`` — or zero. Rules: zero before any `willWait`, and
    /// each promise is judged once (a second call without a new `willWait` returns zero).
    public mutating func resumed(at now: ClockTime) -> Duration {
        guard let expected = expectedBy else { return .zero }
        expectedBy = nil
        let late = now - expected
        guard late > tolerance else { return .zero }
        stalls += 1
        totalStalled += late
        longestStall = max(longestStall, late)
        return late
    }
}
