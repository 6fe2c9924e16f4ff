// Liveness by silence (zguide Paranoid Pirate): any inbound message refreshes a member;
// `tick` turns silence into suspicion and death, and reports recoveries.

extension Membership {
    /// Any inbound message from `name`. Unknown names: no-op, returns false (the shell then
    /// asks the sender to register). A `dead`/`left` member heard again is NOT revived here
    /// (it must register again): returns false too.
    ///
    /// Rules: `lastHeard` only moves forward. A suspect member heard again is recovered by the
    /// next `tick` (which reports `recovered`; ``nextDeadline()`` asks for that tick at once)
    /// or right away by a `heartbeat`.
    @discardableResult
    public mutating func heard(from name: String, at now: ClockTime) -> Bool {
        guard var member = byName[name], member.liveness.holdsWork else { return false }
        member.lastHeard = max(member.lastHeard, now)
        byName[name] = member
        if member.liveness == .suspect {
            heardWhileSuspect.insert(name)
        }
        return true
    }

    /// Heartbeat with load figures (also counts as heard). Returns events (e.g. recovered).
    ///
    /// Rules: unknown, dead and left members: nothing changes, no events (call `heard` to
    /// tell whether the sender must register). Otherwise the load is stored and a suspect
    /// member recovers at once.
    public mutating func heartbeat(from name: String, load: WorkerLoad, at now: ClockTime) -> [MembershipEvent] {
        guard heard(from: name, at: now), var member = byName[name] else { return [] }
        member.load = load
        var events: [MembershipEvent] = []
        if member.liveness == .suspect {
            member.liveness = .alive
            heardWhileSuspect.remove(name)
            events.append(.recovered(name))
        }
        byName[name] = member
        return events
    }

    /// The observer itself could not listen for `gap` (its loop came back that much later than
    /// it had promised: the process was paused, the machine overloaded, a disk write stalled —
    /// see ``LocalHealth``). Its own stall is not the members' silence (the Lifeguard rule, as
    /// in SWIM's local health multiplier): every alive or suspect member's silence deadline
    /// moves by `gap`.
    ///
    /// Rules: `lastHeard` of each alive or suspect member moves forward by `gap`, but never past
    /// `now`; dead and left members are untouched; no events. A member that really stopped is
    /// then declared dead within `deadAfter` of the observer's recovery.
    public mutating func excuse(stall gap: Duration, at now: ClockTime) {
        guard gap > .zero else { return }
        for name in byName.keys {
            guard var member = byName[name], member.liveness.holdsWork else { continue }
            member.lastHeard = min(now, member.lastHeard + gap)
            byName[name] = member
        }
    }

    /// Advance liveness to `now`: alive→suspect→dead by silence. Idempotent for the same now.
    ///
    /// Rules, per alive or suspect member, with silence = `now − lastHeard`:
    /// - silence ≥ `deadAfter`: dead (directly, even when no tick saw it suspect), with the
    ///   reason "silent for 5.0 s; …";
    /// - a suspect member heard since it became suspect, silence < `suspectAfter`: recovered;
    /// - an alive member, silence ≥ `suspectAfter`: suspected.
    /// A suspect member recovers only by being heard, never by a tick at an earlier `now`.
    /// Events come sorted by name.
    public mutating func tick(at now: ClockTime) -> [MembershipEvent] {
        var events: [MembershipEvent] = []
        for name in byName.keys.sorted() {
            guard var member = byName[name], member.liveness.holdsWork else { continue }
            let silence = now - member.lastHeard
            let wasHeard = heardWhileSuspect.remove(name) != nil
            if now >= member.lastHeard + settings.deadAfter {
                member.liveness = .dead
                member.reason = "silent for \(silence.secondsText); it gets no work until it registers again "
                    + "(check that the worker process is running and can reach the coordinator)"
                events.append(.died(name, silentFor: silence))
            } else if member.liveness == .suspect, wasHeard, now < member.lastHeard + settings.suspectAfter {
                member.liveness = .alive
                events.append(.recovered(name))
            } else if member.liveness == .alive, now >= member.lastHeard + settings.suspectAfter {
                member.liveness = .suspect
                events.append(.suspected(name, silentFor: silence))
            }
            byName[name] = member
        }
        return events
    }

    /// The earliest time at which `tick` would change something (nil: nothing pending).
    ///
    /// Alive members turn suspect at `lastHeard + suspectAfter`, suspect ones die at
    /// `lastHeard + deadAfter`; a suspect member heard again recovers at the next tick, so its
    /// deadline is when it was heard, which may be in the past: tick right away.
    public func nextDeadline() -> ClockTime? {
        byName.values.compactMap { member -> ClockTime? in
            let dies = member.lastHeard + settings.deadAfter
            switch member.liveness {
            case .alive: return min(member.lastHeard + settings.suspectAfter, dies)
            case .suspect: return heardWhileSuspect.contains(member.name) ? member.lastHeard : dies
            case .dead, .left: return nil
            }
        }.min()
    }
}
