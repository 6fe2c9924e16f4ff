import Testing
@testable import ClusterCore

@Suite struct ClockTimeTests {
    @Test func addsWholeMilliseconds() {
        #expect(ClockTime(milliseconds: 1000) + .seconds(2) == ClockTime(milliseconds: 3000))
        #expect(ClockTime(milliseconds: 1000) + .milliseconds(1) == ClockTime(milliseconds: 1001))
        // Sub-millisecond parts are dropped (toward zero).
        #expect(ClockTime(milliseconds: 1000) + .microseconds(1999) == ClockTime(milliseconds: 1001))
        #expect(ClockTime(milliseconds: 1000) + .nanoseconds(999_999) == ClockTime(milliseconds: 1000))
    }

    @Test func addSaturates() {
        #expect(ClockTime(milliseconds: .max - 5) + .seconds(1) == ClockTime(milliseconds: .max))
        #expect(ClockTime(milliseconds: 5) + .milliseconds(-10) == ClockTime(milliseconds: 0))
        #expect(ClockTime(milliseconds: 15) + .milliseconds(-10) == ClockTime(milliseconds: 5))
        #expect(ClockTime(milliseconds: 1) + .seconds(Int64.max) == ClockTime(milliseconds: .max))
        #expect(ClockTime(milliseconds: 1) + .seconds(Int64.min) == ClockTime(milliseconds: 0))
        #expect(ClockTime(milliseconds: 1) + .milliseconds(Int64.max - 1) == ClockTime(milliseconds: UInt64(Int64.max)))
        #expect(ClockTime(milliseconds: .max) + .milliseconds(Int64.min + 1) == ClockTime(milliseconds: UInt64(Int64.max) + 1))
    }

    @Test func subtractsNeverNegative() {
        #expect(ClockTime(milliseconds: 3500) - ClockTime(milliseconds: 1000) == .milliseconds(2500))
        #expect(ClockTime(milliseconds: 1000) - ClockTime(milliseconds: 3500) == .zero)
        #expect(ClockTime(milliseconds: 7) - ClockTime(milliseconds: 7) == .zero)
        #expect(ClockTime(milliseconds: .max) - ClockTime.zero == .milliseconds(UInt64.max))
    }

    @Test func ordersAndDescribes() {
        #expect(ClockTime(milliseconds: 1) < ClockTime(milliseconds: 2))
        #expect(!(ClockTime(milliseconds: 2) < ClockTime(milliseconds: 2)))
        #expect(ClockTime(milliseconds: 12_345).description == "t=12.345 s")
        #expect(ClockTime(milliseconds: 5000).description == "t=5.0 s")
        #expect(ClockTime(milliseconds: .max).description == "t=18446744073709551.615 s")
    }

    @Test func secondsText() {
        #expect(Duration.seconds(5).secondsText == "5.0 s")
        #expect(Duration.milliseconds(1500).secondsText == "1.5 s")
        #expect(Duration.milliseconds(250).secondsText == "0.25 s")
        #expect(Duration.milliseconds(1).secondsText == "0.001 s")
        #expect(Duration.milliseconds(-2000).secondsText == "-2.0 s")
        #expect(Duration.milliseconds(30_120).secondsText == "30.12 s")
    }

    @Test func wholeMillisecondsClamp() {
        #expect(Duration.seconds(Int64.max).wholeMilliseconds == .max)
        #expect(Duration.seconds(Int64.min).wholeMilliseconds == .min)
        #expect(Duration.microseconds(-1500).wholeMilliseconds == -1)
    }
}
