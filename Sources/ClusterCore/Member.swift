// One worker as the coordinator's membership sees it.

/// How the coordinator sees a worker.
///
/// - `alive`: heard within `suspectAfter`.
/// - `suspect`: silent for `suspectAfter` or longer; it keeps its work, and recovers when heard.
/// - `dead`: silent for `deadAfter` or longer; its work is lost, and only registering again
///   brings it back.
/// - `left`: it deregistered (clean shutdown); only registering again brings it back.
public enum Liveness: String, Sendable, CaseIterable {
    case alive, suspect, dead, left

    /// Alive and suspect members hold work; dead and left ones do not.
    public var holdsWork: Bool {
        self == .alive || self == .suspect
    }
}

/// A worker known to the membership. Dead and left members stay listed.
public struct Member: Sendable, Equatable {
    public var info: WorkerInfo
    public var name: String { info.name }
    public var liveness: Liveness
    /// When the last message from it arrived (or when it registered).
    public var lastHeard: ClockTime
    /// When it (last) registered.
    public var joinedAt: ClockTime
    public var load: WorkerLoad
    /// Reason for `left` (the Deregister reason) or `dead` ("silent for 5.0 s; …"); "" otherwise.
    public var reason: String

    public init(info: WorkerInfo, liveness: Liveness, lastHeard: ClockTime, joinedAt: ClockTime,
                load: WorkerLoad = WorkerLoad(), reason: String = "") {
        self.info = info
        self.liveness = liveness
        self.lastHeard = lastHeard
        self.joinedAt = joinedAt
        self.load = load
        self.reason = reason
    }
}
