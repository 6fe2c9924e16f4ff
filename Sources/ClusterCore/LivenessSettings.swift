// Heartbeat discipline (zguide Paranoid Pirate): any message counts as a heartbeat; silence
// makes a worker suspect, then dead.

/// Heartbeat discipline (zguide Paranoid Pirate): any message counts; silence for
/// `suspectAfter` makes a worker suspect, for `deadAfter` dead.
///
/// `twoAndFive` (1 s / 2 s / 5 s, the first defaults) is kept for tests that count milliseconds.
public struct LivenessSettings: Sendable, Equatable {
    /// How often workers send a heartbeat when they have nothing else to say (default 1 s).
    public var heartbeatInterval: Duration
    /// Silence after which a worker is suspect: no new work is placed on it (default 3 s).
    public var suspectAfter: Duration
    /// Silence after which a worker is dead: its work is taken away (default 10 s).
    public var deadAfter: Duration

    /// The defaults come from measurements under load (docs/BENCHMARKS.md "Liveness under
    /// load"): with every core saturated by training and stress-ng, a healthy worker's
    /// heartbeats arrived at most 1.7 s apart; suspect at 3 s leaves room for that, dead at
    /// 10 s for a worker's own stall of several seconds (the coordinator's own stalls are
    /// excused, see ``LocalHealth``). The trade-off is in docs/OPERATIONS.md "Liveness".
    public init(heartbeatInterval: Duration = .seconds(1), suspectAfter: Duration = .seconds(3), deadAfter: Duration = .seconds(10)) {
        self.heartbeatInterval = heartbeatInterval
        self.suspectAfter = suspectAfter
        self.deadAfter = deadAfter
    }

    /// nil when consistent, else what is wrong and what is allowed.
    ///
    /// Rules: `heartbeatInterval` is at least 1 ms (the clock's resolution);
    /// `suspectAfter` ≥ `heartbeatInterval` (a worker is not suspect before it could have
    /// sent a heartbeat); `deadAfter` > `suspectAfter`.
    public var problem: String? {
        if heartbeatInterval < .milliseconds(1) {
            return "heartbeatInterval (\(heartbeatInterval.secondsText)) must be at least 1 ms"
        }
        if suspectAfter < heartbeatInterval {
            return "suspectAfter (\(suspectAfter.secondsText)) must be at least heartbeatInterval (\(heartbeatInterval.secondsText))"
        }
        if deadAfter <= suspectAfter {
            return "deadAfter (\(deadAfter.secondsText)) must be greater than suspectAfter (\(suspectAfter.secondsText))"
        }
        return nil
    }
}

extension LivenessSettings {
    /// Heartbeat 1 s, suspect 2 s, dead 5 s: the first defaults, kept as a fixed setting for
    /// tests that check deadlines to the millisecond.
    public static let twoAndFive = LivenessSettings(heartbeatInterval: .seconds(1), suspectAfter: .seconds(2),
                                                    deadAfter: .seconds(5))
}
