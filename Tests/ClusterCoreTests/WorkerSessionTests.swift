import ClusterCore
import Testing

/// The worker's side of membership as a pure value: register, back off, heartbeat, notice the
/// coordinator's silence, register again — including events in odd orders (late acks, acks of
/// nothing, NOT_FOUND for an old heartbeat, events after a refusal).
@Suite struct WorkerSessionTests {
    let settings = WorkerSession.Settings(registerTimeout: .seconds(2), backoffInitial: .seconds(2), backoffMax: .seconds(5),
                                          stallTolerance: nil)
    func t(_ ms: UInt64) -> ClockTime { ClockTime(milliseconds: ms) }

    func ack(_ id: UInt64) -> WorkerSession.Event {
        .registerAck(replyTo: id, nodeID: "w1", heartbeatInterval: .seconds(1), livenessTimeout: .seconds(5))
    }

    /// A registered session: Register id 1 at t=0, acked at t=10.
    func registered() -> WorkerSession {
        var s = WorkerSession(settings: settings)
        _ = s.handle(.tick(requestID: 1), now: t(0))
        _ = s.handle(.heard, now: t(10))
        _ = s.handle(ack(1), now: t(10))
        return s
    }

    @Test func theFirstTickRegistersAndTheAckStartsHeartbeats() {
        var s = WorkerSession(settings: settings)
        #expect(s.handle(.tick(requestID: 1), now: t(0)) == [.sendRegister(requestID: 1)])
        #expect(s.handle(.tick(requestID: 2), now: t(500)).isEmpty, "one Register in flight at a time")
        #expect(s.handle(ack(1), now: t(600)) == [.note(.registered(nodeID: "w1"))])
        #expect(s.registered)
        #expect(s.handle(.tick(requestID: 3), now: t(1599)).isEmpty)
        #expect(s.handle(.tick(requestID: 4), now: t(1600)) == [.sendHeartbeat(requestID: 4)])
        #expect(s.handle(.tick(requestID: 5), now: t(2000)).isEmpty)
        #expect(s.handle(.tick(requestID: 6), now: t(2600)) == [.sendHeartbeat(requestID: 6)])
    }

    @Test func anUnansweredRegisterIsRetriedWithADoublingBackoffUpToTheMaximum() {
        var s = WorkerSession(settings: settings)
        var sent: [UInt64] = []
        var notes: [WorkerSession.Note] = []
        var id: UInt64 = 0
        for ms in stride(from: UInt64(0), through: 30_000, by: 100) {
            id += 1
            for d in s.handle(.tick(requestID: id), now: t(ms)) {
                switch d {
                case .sendRegister: sent.append(ms)
                case .note(let n): notes.append(n)
                default: Issue.record("unexpected \(d)")
                }
            }
        }
        // Sent at 0; given up at 2000, retried 2000 later; given up 2000 after that, retried 4000
        // later; then every 2000 + 5000 (the backoff stops doubling at 5 s).
        #expect(sent == [0, 4000, 10_000, 17_000, 24_000], "\(sent)")
        #expect(notes.prefix(3) == [.registerUnanswered(after: .seconds(2), retryIn: .seconds(2)),
                                    .registerUnanswered(after: .seconds(2), retryIn: .seconds(4)),
                                    .registerUnanswered(after: .seconds(2), retryIn: .seconds(5))])
        #expect(s.backoff == .seconds(5))
    }

    @Test func aLateAckOfTheGivenUpAttemptIsWelcomeUntilANewerOneGoesOut() {
        var s = WorkerSession(settings: settings)
        _ = s.handle(.tick(requestID: 1), now: t(0))
        _ = s.handle(.tick(requestID: 2), now: t(2000))  // given up; next attempt at 4000
        #expect(s.handle(ack(1), now: t(2500)) == [.note(.registered(nodeID: "w1"))])
        #expect(s.registered)
        #expect(s.backoff == .seconds(2), "a success resets the backoff")

        var newer = WorkerSession(settings: settings)
        _ = newer.handle(.tick(requestID: 1), now: t(0))
        _ = newer.handle(.tick(requestID: 2), now: t(2000))
        #expect(newer.handle(.tick(requestID: 3), now: t(4000)) == [.sendRegister(requestID: 3)])
        #expect(newer.handle(.tick(requestID: 4), now: t(6000))
            == [.note(.registerUnanswered(after: .seconds(2), retryIn: .seconds(4)))])
        #expect(newer.handle(ack(1), now: t(6100)).isEmpty, "an ack of an attempt two back is stale")
        #expect(newer.handle(ack(3), now: t(6200)) == [.note(.registered(nodeID: "w1"))])
    }

    @Test func acksOfNothingAndDuplicateAcksChangeNothing() {
        var s = WorkerSession(settings: settings)
        #expect(s.handle(ack(7), now: t(0)).isEmpty, "no Register went out")
        #expect(!s.registered)
        var r = registered()
        #expect(r.handle(ack(1), now: t(20)).isEmpty, "already registered")
    }

    @Test func silenceForTheLivenessTimeoutMeansRegisteringAgainAtOnce() {
        var s = registered()
        _ = s.handle(.tick(requestID: 2), now: t(1010))  // heartbeat
        _ = s.handle(.heard, now: t(1020))
        #expect(s.handle(.tick(requestID: 3), now: t(6019)) == [.sendHeartbeat(requestID: 3)], "not yet: 4999 ms of silence")
        #expect(s.handle(.tick(requestID: 4), now: t(6020))
            == [.note(.coordinatorSilent(for: .seconds(5))), .sendRegister(requestID: 4)])
        #expect(!s.registered)
    }

    @Test func notFoundForTheLatestHeartbeatRegistersAgainButNotForAnOlderOne() {
        var s = registered()
        _ = s.handle(.tick(requestID: 2), now: t(1010))
        _ = s.handle(.tick(requestID: 3), now: t(2010))
        #expect(s.handle(.notFound(replyTo: 2, message: "who?"), now: t(2020)).isEmpty, "an older heartbeat's reply")
        #expect(s.registered)
        #expect(s.handle(.notFound(replyTo: 3, message: "who?"), now: t(2030)) == [.note(.unknownToCoordinator("who?"))])
        #expect(!s.registered)
        #expect(s.handle(.tick(requestID: 4), now: t(2040)) == [.sendRegister(requestID: 4)])
    }

    @Test func aRefusalStopsEverything() {
        var s = registered()
        #expect(s.handle(.refused("version 9 is too new"), now: t(100)) == [.stop(reason: "version 9 is too new")])
        #expect(s.refusal == "version 9 is too new")
        #expect(s.handle(.tick(requestID: 9), now: t(10_000)).isEmpty)
        #expect(s.handle(ack(1), now: t(10_001)).isEmpty)
    }

    @Test func anInvalidRegistrationStopsTheWorkerInsteadOfRetrying() {
        var s = WorkerSession(settings: settings)
        #expect(s.handle(.tick(requestID: 1), now: t(0)) == [.sendRegister(requestID: 1)])
        let directives = s.handle(.invalid(replyTo: 1, message: "register.data_endpoint \"tcp://*:7879\" has no host"),
                                  now: t(50))
        guard case .stop(let reason)? = directives.first, directives.count == 1 else {
            Issue.record("expected one stop, got \(directives)")
            return
        }
        #expect(reason.contains("register.data_endpoint \"tcp://*:7879\" has no host"), "the coordinator's words")
        #expect(reason.contains("fix the worker's settings"), "what to do")
        #expect(s.refusal == reason && !s.registered)
        for ms in stride(from: UInt64(100), through: 60_000, by: 100) {
            #expect(s.handle(.tick(requestID: 10 + ms), now: t(ms)).isEmpty, "no Register again at \(ms) ms")
        }
        #expect(s.handle(ack(1), now: t(60_001)).isEmpty, "a late ack does not undo the refusal")
    }

    @Test func anInvalidReplyToAGivenUpRegisterStopsToo() {
        var s = WorkerSession(settings: settings)
        _ = s.handle(.tick(requestID: 1), now: t(0))
        _ = s.handle(.tick(requestID: 2), now: t(2000))  // attempt 1 given up, still welcome
        #expect(s.handle(.invalid(replyTo: 1, message: "register.name \"x\" differs"), now: t(2100)).count == 1)
        #expect(s.refusal != nil)
    }

    @Test func anInvalidReplyToAnythingElseIsNotARefusal() {
        var s = registered()
        #expect(s.handle(.invalid(replyTo: 1, message: "late"), now: t(100)).isEmpty, "registered: its Register is done")
        #expect(s.handle(.invalid(replyTo: 77, message: "task_status.run_id must not be empty"), now: t(200)).isEmpty)
        #expect(s.handle(.invalid(replyTo: 0, message: "unsolicited"), now: t(300)).isEmpty)
        #expect(s.refusal == nil && s.registered)
        #expect(s.handle(.tick(requestID: 9), now: t(1010)) == [.sendHeartbeat(requestID: 9)])

        var waiting = WorkerSession(settings: settings)
        _ = waiting.handle(.tick(requestID: 1), now: t(0))
        #expect(waiting.handle(.invalid(replyTo: 5, message: "not the Register"), now: t(10)).isEmpty)
        #expect(waiting.handle(ack(1), now: t(20)) == [.note(.registered(nodeID: "w1"))])
    }

    @Test func afterLeavingNothingIsSent() {
        var s = registered()
        _ = s.handle(.leave, now: t(100))
        #expect(s.hasLeft && !s.registered)
        #expect(s.handle(.tick(requestID: 2), now: t(60_000)).isEmpty)
    }

    @Test func aStallOfTheWorkersOwnMovesTheSilenceDeadline() {
        var s = WorkerSession(settings: WorkerSession.Settings(stallTolerance: .milliseconds(500)))
        _ = s.handle(.tick(requestID: 1), now: t(0))
        _ = s.handle(ack(1), now: t(10))
        s.willWait(until: t(110))
        // Paused from 110 to 8110: 8 s late. The coordinator's last word was at 10.
        #expect(s.handle(.tick(requestID: 2), now: t(8110)) == [.note(.ownStall(.seconds(8))), .sendHeartbeat(requestID: 2)])
        #expect(s.registered, "the silence is excused")
        s.willWait(until: t(8210))
        #expect(s.handle(.tick(requestID: 3), now: t(8210)).isEmpty)
        // With no further word the deadline is 10 + 8000 + 5000.
        s.willWait(until: t(13_009))
        #expect(s.handle(.tick(requestID: 4), now: t(13_009)) == [.sendHeartbeat(requestID: 4)])
        s.willWait(until: t(13_010))
        #expect(s.handle(.tick(requestID: 5), now: t(13_010)).first == .note(.coordinatorSilent(for: .seconds(5))))
    }

    @Test func withoutStallToleranceAPauseIsSilence() {
        var s = registered()
        s.willWait(until: t(110))
        #expect(s.handle(.tick(requestID: 2), now: t(8110)).first == .note(.coordinatorSilent(for: .seconds(5))))
    }
}
