// What changed in the membership, for the shell to log, store and act on.

/// What changed in the membership. The shell logs and stores each one; `died` and `left`
/// (and `rejoined` of a worker that held work) mean the worker's work is gone.
public enum MembershipEvent: Sendable, Equatable {
    /// A new name registered.
    case joined(String)
    /// A known name registered again (restart / reconnect). A worker that was `alive` or
    /// `suspect` before restarted, so the work it held is gone.
    case rejoined(String, previously: Liveness)
    /// Alive → suspect by silence.
    case suspected(String, silentFor: Duration)
    /// Suspect → alive because it was heard again.
    case recovered(String)
    /// Alive or suspect → dead by silence.
    case died(String, silentFor: Duration)
    /// It deregistered.
    case left(String, reason: String)
}
