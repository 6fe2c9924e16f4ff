// Membership of the workers (DESIGN.md §4 "Instance / Shell / Directive", like SWIM.Instance):
// a value type the coordinator's shell feeds with registrations, messages and ticks, and
// whose events it performs. Liveness by silence is in Membership+Liveness.swift.

/// Membership and liveness of the workers, as the coordinator sees them. Pure value type.
///
/// A name is a member for good: dead and left members stay listed, and registering the same
/// name again brings back the same member (info replaced, alive).
public struct Membership: Sendable, Equatable {
    public private(set) var settings: LivenessSettings
    /// Every member ever seen, by name.
    var byName: [String: Member] = [:]
    /// Suspect members heard since they became suspect: the next `tick` recovers them
    /// (`heard` returns only a Bool, so the `recovered` event is the tick's to report).
    var heardWhileSuspect: Set<String> = []

    public init(settings: LivenessSettings = LivenessSettings()) {
        self.settings = settings
    }

    /// All members ever seen (dead and left ones stay listed), sorted by name.
    public var members: [Member] {
        byName.values.sorted { $0.name < $1.name }
    }

    public func member(_ name: String) -> Member? {
        byName[name]
    }

    /// Members that are alive or suspect (suspect ones still hold their work) and have `role`,
    /// sorted by name.
    public func available(withRole role: WorkerRole) -> [Member] {
        members.filter { $0.liveness.holdsWork && $0.info.roles.contains(role) }
    }

    /// Register (or re-register: same name ⇒ same member, info replaced, liveness alive).
    ///
    /// Rules: a new name is `joined`. A known name starts afresh (`joinedAt` and `lastHeard`
    /// are `now`, load and reason cleared) and is `restarted` when it held work (alive or
    /// suspect) and comes with another non-empty incarnation than before — its work is gone —
    /// else `rejoined` with its previous liveness. The version check (``VersionPolicy``) is the
    /// shell's to make before registering.
    public mutating func register(_ info: WorkerInfo, at now: ClockTime) -> [MembershipEvent] {
        let name = info.name
        let previous = byName[name]
        byName[name] = Member(info: info, liveness: .alive, lastHeard: now, joinedAt: now)
        heardWhileSuspect.remove(name)
        guard let previous else { return [.joined(name)] }
        if previous.liveness.holdsWork, !info.incarnation.isEmpty, previous.info.incarnation != info.incarnation {
            return [.restarted(name, previousIncarnation: previous.info.incarnation)]
        }
        return [.rejoined(name, previously: previous.liveness)]
    }

    /// The worker said goodbye (clean shutdown).
    ///
    /// Rules: an alive, suspect or dead member becomes `left` with `reason` (a dead worker
    /// that says goodbye did shut down cleanly after all); unknown names and members that
    /// already left change nothing and return no event. An empty reason is replaced by one
    /// that says so.
    public mutating func deregister(_ name: String, reason: String, at now: ClockTime) -> [MembershipEvent] {
        guard var member = byName[name], member.liveness != .left else { return [] }
        let text = reason.isEmpty ? "the worker deregistered without giving a reason" : reason
        member.liveness = .left
        member.reason = text
        member.lastHeard = max(member.lastHeard, now)
        byName[name] = member
        heardWhileSuspect.remove(name)
        return [.left(name, reason: text)]
    }
}
