import Testing
@testable import ClusterCore

/// Registration, re-registration, deregistration and the queries.
@Suite struct MembershipTests {
    @Test func registerANewNameJoins() {
        var membership = Membership(settings: .twoAndFive)
        #expect(membership.register(info("w1"), at: at(100)) == [.joined("w1")])
        let member = membership.member("w1")
        #expect(member?.info == info("w1"))
        #expect(member?.name == "w1")
        #expect(member?.liveness == .alive)
        #expect(member?.lastHeard == at(100))
        #expect(member?.joinedAt == at(100))
        #expect(member?.load == WorkerLoad())
        #expect(member?.reason == "")
        #expect(membership.member("w2") == nil)
    }

    @Test func reRegisterReplacesInfoAndStartsAfresh() {
        var membership = Membership(settings: .twoAndFive)
        _ = membership.register(info("w1", [.teacher], version: "0.4.0"), at: at(0))
        _ = membership.heartbeat(from: "w1", load: WorkerLoad(cpuPercent: 50, rssBytes: 7, currentTask: "r/teacher-0"), at: at(500))
        let events = membership.register(info("w1", [.student], version: "0.4.2"), at: at(900))
        #expect(events == [.rejoined("w1", previously: .alive)])
        let member = membership.member("w1")
        #expect(member?.info.roles == [.student])
        #expect(member?.info.version == "0.4.2")
        #expect(member?.joinedAt == at(900))
        #expect(member?.lastHeard == at(900))
        #expect(member?.load == WorkerLoad())
        #expect(membership.members.count == 1)
    }

    @Test(arguments: [Liveness.suspect, .dead, .left])
    func reRegisterReportsThePreviousLiveness(_ previous: Liveness) {
        var membership = Membership(settings: .twoAndFive)
        _ = membership.register(info("w1"), at: at(0))
        switch previous {
        case .suspect: _ = membership.tick(at: at(2000))
        case .dead: _ = membership.tick(at: at(5000))
        case .left: _ = membership.deregister("w1", reason: "bye", at: at(10))
        case .alive: break
        }
        #expect(membership.member("w1")?.liveness == previous)
        #expect(membership.register(info("w1"), at: at(6000)) == [.rejoined("w1", previously: previous)])
        #expect(membership.member("w1")?.liveness == .alive)
        #expect(membership.member("w1")?.reason == "")
        // Timers restart from the new registration.
        #expect(membership.nextDeadline() == at(8000))
        #expect(membership.tick(at: at(7999)) == [])
    }

    @Test func membersAreSortedAndKeepTheDeadAndTheLeft() {
        var membership = Membership(settings: .twoAndFive)
        for name in ["w3", "w1", "w2", "w4"] {
            _ = membership.register(info(name), at: at(0))
        }
        _ = membership.deregister("w2", reason: "maintenance", at: at(100))
        _ = membership.heard(from: "w1", at: at(4000))
        _ = membership.heard(from: "w4", at: at(4000))
        _ = membership.tick(at: at(5000))
        #expect(membership.members.map(\.name) == ["w1", "w2", "w3", "w4"])
        #expect(membership.members.map(\.liveness) == [.alive, .left, .dead, .alive])
    }

    @Test func availableMeansAliveOrSuspectWithTheRole() {
        var membership = Membership(settings: .twoAndFive)
        _ = membership.register(info("teach", [.teacher]), at: at(0))
        _ = membership.register(info("both", [.teacher, .student]), at: at(0))
        _ = membership.register(info("stud", [.student]), at: at(0))
        _ = membership.register(info("gone", [.teacher, .student]), at: at(0))
        _ = membership.register(info("dead", [.teacher, .student]), at: at(0))
        _ = membership.deregister("gone", reason: "bye", at: at(1))
        // At 3 s: "dead" silent since 0 (suspect), the others heard at 2.9 s.
        for name in ["teach", "both", "stud"] {
            membership.heard(from: name, at: at(2900))
        }
        _ = membership.tick(at: at(3000))
        #expect(membership.member("dead")?.liveness == .suspect)
        #expect(membership.available(withRole: .teacher).map(\.name) == ["both", "dead", "teach"])
        #expect(membership.available(withRole: .student).map(\.name) == ["both", "dead", "stud"])
        _ = membership.tick(at: at(5000))
        #expect(membership.member("dead")?.liveness == .dead)
        #expect(membership.available(withRole: .teacher).map(\.name) == ["both", "teach"])
        #expect(membership.available(withRole: .student).map(\.name) == ["both", "stud"])
    }

    @Test func deregisterLeavesWithTheReason() {
        var membership = Membership(settings: .twoAndFive)
        _ = membership.register(info("w1"), at: at(0))
        #expect(membership.deregister("w1", reason: "SIGTERM", at: at(300)) == [.left("w1", reason: "SIGTERM")])
        #expect(membership.member("w1")?.liveness == .left)
        #expect(membership.member("w1")?.reason == "SIGTERM")
        #expect(membership.member("w1")?.lastHeard == at(300))
        // Again: already left, nothing changes.
        let before = membership
        #expect(membership.deregister("w1", reason: "again", at: at(400)) == [])
        #expect(membership == before)
    }

    @Test func deregisterUnknownChangesNothing() {
        var membership = Membership(settings: .twoAndFive)
        _ = membership.register(info("w1"), at: at(0))
        let before = membership
        #expect(membership.deregister("nobody", reason: "x", at: at(1)) == [])
        #expect(membership == before)
    }

    @Test func deregisterWithoutReasonSaysSo() {
        var membership = Membership(settings: .twoAndFive)
        _ = membership.register(info("w1"), at: at(0))
        #expect(membership.deregister("w1", reason: "", at: at(1))
            == [.left("w1", reason: "the worker deregistered without giving a reason")])
    }

    @Test func deregisterOfADeadWorkerLeaves() {
        var membership = Membership(settings: .twoAndFive)
        _ = membership.register(info("w1"), at: at(0))
        _ = membership.tick(at: at(5000))
        #expect(membership.deregister("w1", reason: "shut down late", at: at(6000)) == [.left("w1", reason: "shut down late")])
        #expect(membership.member("w1")?.liveness == .left)
        #expect(membership.member("w1")?.reason == "shut down late")
    }

    @Test func deregisterOfASuspectCancelsItsPendingRecovery() {
        var membership = Membership(settings: .twoAndFive)
        _ = membership.register(info("w1"), at: at(0))
        _ = membership.tick(at: at(2000))
        membership.heard(from: "w1", at: at(2100))
        _ = membership.deregister("w1", reason: "bye", at: at(2200))
        #expect(membership.tick(at: at(2300)) == [])
        #expect(membership.nextDeadline() == nil)
    }

    @Test func livenessHoldsWork() {
        #expect(Liveness.allCases.filter(\.holdsWork) == [.alive, .suspect])
    }

    @Test func settingsAreKept() {
        let settings = LivenessSettings(heartbeatInterval: .milliseconds(100), suspectAfter: .milliseconds(300),
                                        deadAfter: .milliseconds(700))
        #expect(Membership(settings: settings).settings == settings)
        #expect(Membership().settings == LivenessSettings())
    }
}
