import Testing
@testable import ClusterCore

/// Liveness by silence: heard, heartbeat, tick and nextDeadline (defaults: suspect after 2 s,
/// dead after 5 s).
@Suite struct MembershipLivenessTests {
    /// One member "w1" registered at `t`.
    func oneMember(at t: UInt64 = 0) -> Membership {
        var membership = Membership(settings: .twoAndFive)
        _ = membership.register(info("w1"), at: at(t))
        return membership
    }

    @Test func boundariesAreExactlyAtTheDeadline() {
        var membership = oneMember(at: 1000)
        #expect(membership.tick(at: at(2999)) == [])
        #expect(membership.member("w1")?.liveness == .alive)
        #expect(membership.tick(at: at(3000)) == [.suspected("w1", silentFor: .seconds(2))])
        #expect(membership.member("w1")?.liveness == .suspect)
        #expect(membership.tick(at: at(5999)) == [])
        #expect(membership.member("w1")?.liveness == .suspect)
        #expect(membership.tick(at: at(6000)) == [.died("w1", silentFor: .seconds(5))])
        #expect(membership.member("w1")?.liveness == .dead)
        #expect(membership.member("w1")?.reason
            == "silent for 5.0 s; it gets no work until it registers again (check that the worker process is running and can reach the coordinator)")
    }

    @Test func aliveOneMillisecondBeforeDeadAfterWhenHeardInBetween() {
        var membership = oneMember()
        #expect(membership.heard(from: "w1", at: at(1000)) == true)
        #expect(membership.tick(at: at(2999)) == [])
        #expect(membership.tick(at: at(3000)) == [.suspected("w1", silentFor: .seconds(2))])
        #expect(membership.tick(at: at(5999)) == [])
        #expect(membership.member("w1")?.liveness == .suspect)
        #expect(membership.tick(at: at(6000)) == [.died("w1", silentFor: .seconds(5))])
    }

    @Test func silencePastDeadAfterDiesDirectly() {
        var membership = oneMember()
        #expect(membership.tick(at: at(7250)) == [.died("w1", silentFor: .milliseconds(7250))])
        #expect(membership.member("w1")?.reason.hasPrefix("silent for 7.25 s;") == true)
    }

    @Test func tickIsIdempotentForTheSameNow() {
        var membership = oneMember()
        #expect(membership.tick(at: at(2000)).count == 1)
        let afterFirst = membership
        #expect(membership.tick(at: at(2000)) == [])
        #expect(membership == afterFirst)
        #expect(membership.tick(at: at(5000)).count == 1)
        let afterDeath = membership
        #expect(membership.tick(at: at(5000)) == [])
        #expect(membership.tick(at: at(9000)) == [])
        #expect(membership == afterDeath)
    }

    @Test func heardKeepsAMemberAlive() {
        var membership = oneMember()
        for t in stride(from: UInt64(1500), through: 20_000, by: 1500) {
            #expect(membership.heard(from: "w1", at: at(t)) == true)
            #expect(membership.tick(at: at(t + 1999)) == [])
        }
        #expect(membership.member("w1")?.liveness == .alive)
        #expect(membership.member("w1")?.lastHeard == at(19_500))
    }

    @Test func lastHeardNeverMovesBack() {
        var membership = oneMember(at: 1000)
        #expect(membership.heard(from: "w1", at: at(500)) == true)
        #expect(membership.member("w1")?.lastHeard == at(1000))
        _ = membership.heartbeat(from: "w1", load: WorkerLoad(cpuPercent: 1), at: at(800))
        #expect(membership.member("w1")?.lastHeard == at(1000))
        #expect(membership.member("w1")?.load.cpuPercent == 1)
    }

    @Test func suspectRecoversAtTheTickAfterItIsHeard() {
        var membership = oneMember()
        _ = membership.tick(at: at(2000))
        #expect(membership.heard(from: "w1", at: at(2500)) == true)
        // heard returns no events: the member stays suspect until the tick it asks for.
        #expect(membership.member("w1")?.liveness == .suspect)
        #expect(membership.nextDeadline() == at(2500))
        #expect(membership.tick(at: at(2500)) == [.recovered("w1")])
        #expect(membership.member("w1")?.liveness == .alive)
        #expect(membership.nextDeadline() == at(4500))
        #expect(membership.tick(at: at(2500)) == [])
    }

    @Test func suspectRecoversAtOnceByHeartbeat() {
        var membership = oneMember()
        _ = membership.tick(at: at(2000))
        let load = WorkerLoad(cpuPercent: 87.5, rssBytes: 1 << 30, currentTask: "r1/student-0")
        #expect(membership.heartbeat(from: "w1", load: load, at: at(2200)) == [.recovered("w1")])
        #expect(membership.member("w1")?.liveness == .alive)
        #expect(membership.member("w1")?.load == load)
        #expect(membership.member("w1")?.lastHeard == at(2200))
        #expect(membership.tick(at: at(2200)) == [])
    }

    @Test func heardThenHeartbeatRecoversOnce() {
        var membership = oneMember()
        _ = membership.tick(at: at(2000))
        membership.heard(from: "w1", at: at(2200))
        #expect(membership.heartbeat(from: "w1", load: WorkerLoad(), at: at(2200)) == [.recovered("w1")])
        #expect(membership.tick(at: at(2200)) == [])
    }

    @Test func heartbeatOfAnAliveMemberOnlyStoresTheLoad() {
        var membership = oneMember()
        let load = WorkerLoad(cpuPercent: 3, rssBytes: 4, currentTask: "x")
        #expect(membership.heartbeat(from: "w1", load: load, at: at(1000)) == [])
        #expect(membership.member("w1")?.load == load)
        #expect(membership.member("w1")?.lastHeard == at(1000))
    }

    @Test func suspectHeardButSilentAgainDoesNotRecover() {
        var membership = oneMember()
        _ = membership.tick(at: at(2000))
        membership.heard(from: "w1", at: at(2500))
        // The tick comes late: silent for 2.1 s again, so it stays suspect (no event).
        #expect(membership.tick(at: at(4600)) == [])
        #expect(membership.member("w1")?.liveness == .suspect)
        #expect(membership.nextDeadline() == at(7500))
        #expect(membership.tick(at: at(7499)) == [])
        #expect(membership.tick(at: at(7500)) == [.died("w1", silentFor: .seconds(5))])
    }

    @Test func aTickAtAnEarlierTimeDoesNotRecoverASuspect() {
        var membership = oneMember()
        _ = membership.tick(at: at(3000))
        #expect(membership.tick(at: at(1000)) == [])
        #expect(membership.member("w1")?.liveness == .suspect)
    }

    @Test func deadIsNotRevivedByHeard() {
        var membership = oneMember()
        _ = membership.tick(at: at(5000))
        let dead = membership
        #expect(membership.heard(from: "w1", at: at(5100)) == false)
        #expect(membership.heartbeat(from: "w1", load: WorkerLoad(cpuPercent: 9), at: at(5200)) == [])
        #expect(membership.tick(at: at(5300)) == [])
        #expect(membership == dead)
        #expect(membership.member("w1")?.liveness == .dead)
        #expect(membership.nextDeadline() == nil)
    }

    @Test func leftIsNotRevivedByHeard() {
        var membership = oneMember()
        _ = membership.deregister("w1", reason: "bye", at: at(100))
        let left = membership
        #expect(membership.heard(from: "w1", at: at(200)) == false)
        #expect(membership.heartbeat(from: "w1", load: WorkerLoad(), at: at(200)) == [])
        #expect(membership.tick(at: at(60_000)) == [])
        #expect(membership == left)
        #expect(membership.nextDeadline() == nil)
    }

    @Test func unknownNamesAreNotHeard() {
        var membership = oneMember()
        let before = membership
        #expect(membership.heard(from: "stranger", at: at(10)) == false)
        #expect(membership.heartbeat(from: "stranger", load: WorkerLoad(), at: at(10)) == [])
        #expect(membership == before)
        #expect(membership.member("stranger") == nil)
    }

    @Test func reRegisterAfterDeathRevives() {
        var membership = oneMember()
        _ = membership.tick(at: at(5000))
        #expect(membership.register(info("w1"), at: at(8000)) == [.rejoined("w1", previously: .dead)])
        #expect(membership.heard(from: "w1", at: at(8500)) == true)
        #expect(membership.tick(at: at(10_499)) == [])
        #expect(membership.tick(at: at(10_500)) == [.suspected("w1", silentFor: .seconds(2))])
    }

    @Test func eventsAreSortedByName() {
        var membership = Membership(settings: .twoAndFive)
        for name in ["c", "a", "b"] {
            _ = membership.register(info(name), at: at(0))
        }
        _ = membership.register(info("d"), at: at(3000))
        #expect(membership.tick(at: at(2000)) == [
            .suspected("a", silentFor: .seconds(2)), .suspected("b", silentFor: .seconds(2)),
            .suspected("c", silentFor: .seconds(2)),
        ])
        membership.heard(from: "b", at: at(4000))
        #expect(membership.tick(at: at(5000)) == [
            .died("a", silentFor: .seconds(5)), .recovered("b"), .died("c", silentFor: .seconds(5)),
            .suspected("d", silentFor: .seconds(2)),
        ])
    }

    @Test func nextDeadlineIsTheEarliestChange() {
        var membership = Membership(settings: .twoAndFive)
        #expect(membership.nextDeadline() == nil)
        _ = membership.register(info("a"), at: at(1000))
        _ = membership.register(info("b"), at: at(1500))
        #expect(membership.nextDeadline() == at(3000))
        _ = membership.tick(at: at(3000))  // a suspect: dies at 6000; b alive: suspect at 3500
        #expect(membership.nextDeadline() == at(3500))
        _ = membership.tick(at: at(3500))  // both suspect
        #expect(membership.nextDeadline() == at(6000))
        _ = membership.tick(at: at(6000))
        #expect(membership.nextDeadline() == at(6500))
        _ = membership.tick(at: at(6500))
        #expect(membership.nextDeadline() == nil)
    }

    @Test func customSettingsDriveTheTimers() {
        let settings = LivenessSettings(heartbeatInterval: .milliseconds(100), suspectAfter: .milliseconds(250),
                                        deadAfter: .milliseconds(600))
        var membership = Membership(settings: settings)
        _ = membership.register(info("w1"), at: at(0))
        #expect(membership.nextDeadline() == at(250))
        #expect(membership.tick(at: at(249)) == [])
        #expect(membership.tick(at: at(250)) == [.suspected("w1", silentFor: .milliseconds(250))])
        #expect(membership.nextDeadline() == at(600))
        #expect(membership.tick(at: at(600)) == [.died("w1", silentFor: .milliseconds(600))])
    }

    /// Random registrations, messages, goodbyes and ticks on a moving clock: the dead and the
    /// left come back only by registering, a tick at the same time changes nothing twice, and
    /// after a tick the next deadline lies ahead and a tick there changes something.
    @Test func randomHistoriesKeepTheRules() {
        var generator = SplitMix64(seed: 0x5EED_0001)
        let names = ["w1", "w2", "w3", "w4"]
        for _ in 0..<500 {
            var membership = Membership(settings: .twoAndFive)
            var now: UInt64 = 0
            for _ in 0..<60 {
                now += UInt64.random(in: 0...3000, using: &generator)
                let name = names.randomElement(using: &generator)!
                let before = membership
                let events: [MembershipEvent]
                switch Int.random(in: 0..<10, using: &generator) {
                case 0: events = membership.register(info(name), at: at(now))
                case 1: events = membership.deregister(name, reason: "bye", at: at(now))
                case 2, 3:
                    membership.heard(from: name, at: at(now))
                    events = []
                case 4: events = membership.heartbeat(from: name, load: WorkerLoad(), at: at(now))
                default: events = membership.tick(at: at(now))
                }
                for old in before.members where !old.liveness.holdsWork {
                    let new = membership.member(old.name)
                    let reRegistered = events.contains(.rejoined(old.name, previously: old.liveness))
                    #expect(new?.liveness.holdsWork == false || reRegistered, "\(old.name) came back without registering")
                }
                for event in events {
                    switch event {
                    case .died(let n, _): #expect(membership.member(n)?.liveness == .dead)
                    case .suspected(let n, _): #expect(membership.member(n)?.liveness == .suspect)
                    case .recovered(let n), .joined(let n), .rejoined(let n, _), .restarted(let n, _):
                        #expect(membership.member(n)?.liveness == .alive)
                    case .left(let n, _): #expect(membership.member(n)?.liveness == .left)
                    }
                }
                #expect(membership.members.allSatisfy { $0.liveness == .dead || $0.liveness == .left ? !$0.reason.isEmpty : $0.reason.isEmpty })

                _ = membership.tick(at: at(now))
                let afterTick = membership
                #expect(membership.tick(at: at(now)) == [])
                #expect(membership == afterTick)
                if let deadline = membership.nextDeadline() {
                    #expect(deadline > at(now))
                    var probe = membership
                    #expect(probe.tick(at: at(deadline.milliseconds - 1)) == [])
                    #expect(!probe.tick(at: deadline).isEmpty)
                } else {
                    #expect(membership.members.allSatisfy { !$0.liveness.holdsWork })
                }
            }
        }
    }
}
