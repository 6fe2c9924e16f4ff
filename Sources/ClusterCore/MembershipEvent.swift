// What changed in the membership, for the shell to log, store and act on.

/// What changed in the membership. The shell logs and stores each one; `died` and `left`
/// (and `rejoined` of a worker that held work) mean the worker's work is gone.
public enum MembershipEvent: Sendable, Equatable {
    /// A new name registered.
    case joined(String)
    /// A known name registered again: a reconnection of the same process (same incarnation,
    /// or a worker that held no work), which keeps whatever work it holds.
    case rejoined(String, previously: Liveness)
    /// A known name that held work (`alive` or `suspect`) registered with another incarnation:
    /// the process restarted, so the work it held is gone at once (the shell treats it like a
    /// death, then admits the new process).
    case restarted(String, previousIncarnation: String)
    /// Alive → suspect by silence.
    case suspected(String, silentFor: Duration)
    /// Suspect → alive because it was heard again.
    case recovered(String)
    /// Alive or suspect → dead by silence.
    case died(String, silentFor: Duration)
    /// It deregistered.
    case left(String, reason: String)
}
