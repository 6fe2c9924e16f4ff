// Heartbeat discipline (zguide Paranoid Pirate): any message counts as a heartbeat; silence
// makes a worker suspect, then dead.

/// Heartbeat discipline (zguide Paranoid Pirate): any message counts; silence for
/// `suspectAfter` makes a worker suspect, for `deadAfter` dead.
public struct LivenessSettings: Sendable, Equatable {
    /// How often workers send a heartbeat when they have nothing else to say (default 1 s).
    public var heartbeatInterval: Duration
    /// Silence after which a worker is suspect (default 2 s: two missed heartbeats).
    public var suspectAfter: Duration
    /// Silence after which a worker is dead (default 5 s).
    public var deadAfter: Duration

    public init(heartbeatInterval: Duration = .seconds(1), suspectAfter: Duration = .seconds(2), deadAfter: Duration = .seconds(5)) {
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
