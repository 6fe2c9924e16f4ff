import Testing
@testable import ClusterCore

/// Cancel and interrupt from every non-terminal phase, and the finality of terminal phases.
@Suite struct RunLifecycleEndingTests {
    typealias F = RunFixture

    /// What the workers are told when the run ends in `phase`: nobody before placement.
    func stops(in phase: RunPhase) -> [RunDirective] {
        phase == .pending || phase == .placing ? [] : [F.stopAll]
    }

    @Test(arguments: RunFixture.nonTerminal)
    func cancelFromEveryPhase(_ phase: RunPhase) {
        var run = F.run(in: phase)
        #expect(run.handle(.cancel(reason: "cancelled by alice"), at: at(9999)) == stops(in: phase))
        #expect(run.phase == .cancelled)
        #expect(run.reason == "cancelled by alice")
        #expect(run.involvedWorkers == [])
        #expect(run.nextDeadline() == nil)
    }

    @Test(arguments: RunFixture.nonTerminal)
    func interruptFromEveryPhase(_ phase: RunPhase) {
        var run = F.run(in: phase)
        #expect(run.handle(.interrupt(reason: "the coordinator restarted while the run was in flight"), at: at(9999))
            == stops(in: phase))
        #expect(run.phase == .interrupted)
        #expect(run.reason == "the coordinator restarted while the run was in flight")
        #expect(run.nextDeadline() == nil)
    }

    @Test func emptyReasonsAreReplaced() {
        var cancelled = F.run(in: .sharding)
        _ = cancelled.handle(.cancel(reason: ""), at: at(1))
        #expect(cancelled.reason == "the run was cancelled without a reason")
        var interrupted = F.run(in: .distilling)
        _ = interrupted.handle(.interrupt(reason: ""), at: at(1))
        #expect(interrupted.reason == "the run was interrupted without a reason")
    }

    @Test(arguments: RunFixture.terminal)
    func everyEventAfterTheEndIsIgnored(_ phase: RunPhase) {
        let ended = F.run(in: phase)
        #expect(ended.phase == phase)
        #expect(!ended.reason.isEmpty)
        for event in F.everyKind {
            var run = ended
            for ms in [UInt64(0), 100_000, .max] {
                let directives = run.handle(event, at: at(ms))
                #expect(directives.count == 1)
                #expect(directives.first?.ignoredText?.contains("the run is already over (\(phase.rawValue): \(ended.reason))") == true)
                #expect(run == ended, "\(event) changed a \(phase) run")
            }
        }
    }

    @Test func ignoredAfterTheEndSaysWhy() {
        var run = F.run(in: .completed)
        #expect(run.handle(.start, at: at(1)) == [.ignored(
            "run r1 ignored the start: the run is already over (completed: the student was distilled from 2 teachers on 2 replicas) and never changes again; nothing changed")])
        var failed = F.run(in: .failed)
        #expect(failed.handle(.task(F.s0, .completed), at: at(1)) == [.ignored(
            "run r1 ignored the student 0 completed: the run is already over (failed: student 0 on w3 failed: out of memory) and never changes again; nothing changed")])
    }

    @Test func terminalFixturesEndAsDescribed() {
        #expect(F.run(in: .failed).reason == "student 0 on w3 failed: out of memory")
        #expect(F.run(in: .cancelled).reason == "cancelled by the user")
        #expect(F.run(in: .interrupted).reason == "the coordinator restarted")
        #expect(F.run(in: .completed).reason == "the student was distilled from 2 teachers on 2 replicas")
    }
}
