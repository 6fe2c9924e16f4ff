import Testing
@testable import ClusterCore

/// Lifeguard's rule: a stall of the observer's own is not the members' silence.
@Suite struct LocalHealthTests {
    @Test func lateBeyondTheToleranceIsAStallOfTheWholeLateness() {
        var health = LocalHealth(tolerance: .milliseconds(500))
        #expect(health.resumed(at: at(10_000)) == .zero, "no promise yet: nothing to judge")
        health.willWait(until: at(1_100))
        #expect(health.resumed(at: at(1_600)) == .zero, "500 ms late is within the tolerance")
        health.willWait(until: at(2_000))
        #expect(health.resumed(at: at(2_501)) == .milliseconds(501))
        #expect(health.resumed(at: at(9_000)) == .zero, "a promise is judged once")
        health.willWait(until: at(3_000))
        #expect(health.resumed(at: at(11_000)) == .seconds(8))
        #expect(health.stalls == 2)
        #expect(health.totalStalled == .milliseconds(8_501))
        #expect(health.longestStall == .seconds(8))
    }

    @Test func earlyIsNeverAStall() {
        var health = LocalHealth(tolerance: .zero)
        health.willWait(until: at(5_000))
        #expect(health.resumed(at: at(4_000)) == .zero)
        #expect(health.stalls == 0)
    }

    @Test func anExcusedStallMovesEveryHoldingMembersDeadline() {
        var m = Membership(settings: .twoAndFive)
        _ = m.register(info("a"), at: at(0))
        _ = m.register(info("b"), at: at(0))
        _ = m.register(info("gone"), at: at(0))
        _ = m.deregister("gone", reason: "bye", at: at(100))
        _ = m.heartbeat(from: "a", load: WorkerLoad(), at: at(1_000))
        // The observer was stalled from 1.2 s to 9.2 s: 8 s it could not hear anyone.
        m.excuse(stall: .seconds(8), at: at(9_200))
        #expect(m.member("a")?.lastHeard == at(9_000))
        #expect(m.member("b")?.lastHeard == at(8_000))
        #expect(m.member("gone")?.lastHeard == at(100), "left members are untouched")
        #expect(m.tick(at: at(9_200)) == [], "nobody is suspect, let alone dead, right after the stall")
        // b really stopped: still found dead deadAfter after its excused silence began.
        #expect(m.tick(at: at(12_999)).contains(.died("b", silentFor: .milliseconds(4_999))) == false)
        #expect(m.tick(at: at(13_000)).contains { if case .died("b", _) = $0 { true } else { false } })
    }

    @Test func anExcuseNeverMovesADeadlinePastNow() {
        var m = Membership(settings: .twoAndFive)
        _ = m.register(info("a"), at: at(5_000))
        m.excuse(stall: .seconds(60), at: at(6_000))
        #expect(m.member("a")?.lastHeard == at(6_000))
        m.excuse(stall: .zero, at: at(7_000))
        #expect(m.member("a")?.lastHeard == at(6_000))
    }

    @Test func aNewIncarnationOfAWorkerThatHeldWorkIsARestart() {
        var m = Membership(settings: .twoAndFive)
        _ = m.register(incarnated("w", "p1"), at: at(0))
        #expect(m.register(incarnated("w", "p1"), at: at(100)) == [.rejoined("w", previously: .alive)],
                "the same process registering again (it lost track of the coordinator) keeps its work")
        #expect(m.register(incarnated("w", "p2"), at: at(200)) == [.restarted("w", previousIncarnation: "p1")])
        #expect(m.member("w")?.info.incarnation == "p2")
        #expect(m.member("w")?.liveness == .alive)
        _ = m.tick(at: at(10_000))
        #expect(m.member("w")?.liveness == .dead)
        #expect(m.register(incarnated("w", "p3"), at: at(10_100)) == [.rejoined("w", previously: .dead)],
                "a dead worker's work is already gone: it simply rejoins")
        #expect(m.register(incarnated("w", ""), at: at(10_200)) == [.rejoined("w", previously: .alive)],
                "a peer that sends no incarnation is taken as the same process")
    }

    private func incarnated(_ name: String, _ incarnation: String) -> WorkerInfo {
        var i = info(name)
        i.incarnation = incarnation
        return i
    }
}
