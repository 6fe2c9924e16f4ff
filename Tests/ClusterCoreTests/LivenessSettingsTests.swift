import Testing
@testable import ClusterCore

@Suite struct LivenessSettingsTests {
    @Test func defaultsAreConsistent() {
        let settings = LivenessSettings()
        #expect(settings.heartbeatInterval == .seconds(1))
        #expect(settings.suspectAfter == .seconds(3))
        #expect(settings.deadAfter == .seconds(10))
        #expect(LivenessSettings.twoAndFive.problem == nil)
        #expect(settings.problem == nil)
    }

    @Test func intervalMustBeAtLeastOneMillisecond() {
        #expect(LivenessSettings(heartbeatInterval: .zero).problem == "heartbeatInterval (0.0 s) must be at least 1 ms")
        #expect(LivenessSettings(heartbeatInterval: .microseconds(999)).problem != nil)
        #expect(LivenessSettings(heartbeatInterval: .milliseconds(-5)).problem != nil)
        #expect(LivenessSettings(heartbeatInterval: .milliseconds(1), suspectAfter: .milliseconds(1),
                                 deadAfter: .milliseconds(2)).problem == nil)
    }

    @Test func suspectAfterMustCoverAnInterval() {
        #expect(LivenessSettings(heartbeatInterval: .seconds(4)).problem
            == "suspectAfter (3.0 s) must be at least heartbeatInterval (4.0 s)")
        #expect(LivenessSettings(heartbeatInterval: .seconds(3)).problem == nil)
    }

    @Test func deadAfterMustExceedSuspectAfter() {
        #expect(LivenessSettings(deadAfter: .seconds(1)).problem == "deadAfter (1.0 s) must be greater than suspectAfter (3.0 s)")
        #expect(LivenessSettings(deadAfter: .seconds(3)).problem == "deadAfter (3.0 s) must be greater than suspectAfter (3.0 s)")
        #expect(LivenessSettings(deadAfter: .milliseconds(3001)).problem == nil)
    }
}
