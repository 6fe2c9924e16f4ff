import Clocks
import ClusterCore
import DistilleryTestKit
import Foundation
import Synchronization
import Testing

/// A value that arrives from elsewhere, and the attempt a bounded wait makes for it: take it
/// if it is there, else wait one slice of real time (as a queue's `take(timeout:)` would).
private final class Mailbox: Sendable {
    private let value = Mutex<Int?>(nil)
    let attempts = Mutex(0)
    let slices = Mutex<[Duration]>([])

    func put(_ v: Int) { value.withLock { $0 = v } }
    func take() -> Int? { value.withLock { v in defer { v = nil }; return v } }

    func attempt(_ slice: Duration) async throws -> Int? {
        attempts.withLock { $0 += 1 }
        slices.withLock { $0.append(slice) }
        if let v = take() { return v }
        try await SystemRuntimeClock().sleep(for: slice)
        return take()
    }
}

/// A locked value that closures on other tasks and threads can share.
private final class Cell<T: Sendable>: Sendable {
    private let value: Mutex<T>
    init(_ v: T) { value = Mutex(v) }
    func withLock<R>(_ body: (inout T) -> R) -> R { value.withLock { body(&$0) } }
}

/// Polls `condition` for up to 5 s of real time.
private func eventually(_ condition: () -> Bool) async throws -> Bool {
    for _ in 0..<500 {
        if condition() { return true }
        try await Task.sleep(for: .milliseconds(10))
    }
    return condition()
}

@Suite struct DeadlineTests {
    @Test func expiresOnlyWhenTheManualClockPassesTheDeadline() async throws {
        let clock = ManualClock(startMs: 1_000)
        let box = Mailbox()
        let deadline = clock.deadline(after: .milliseconds(100))
        let finished = Cell<Int??>(nil)
        let waiting = Task {
            let got = try await deadline.wait(box.attempt)
            finished.withLock { $0 = .some(got) }
        }
        #expect(try await eventually { box.attempts.withLock { $0 } > 3 }, "it waits in slices, reading the clock between them")
        #expect(finished.withLock { $0 } == nil, "real time passed but no time on the clock")
        #expect(box.slices.withLock { $0 }.allSatisfy { $0 <= clock.waitSlice })
        clock.advance(by: .milliseconds(99))
        try await Task.sleep(for: .milliseconds(40))
        #expect(finished.withLock { $0 } == nil, "1 ms before the deadline it still waits")
        #expect(!deadline.hasPassed && deadline.remaining == .milliseconds(1))
        clock.advance(by: .milliseconds(1))
        #expect(try await eventually { finished.withLock { $0 } != nil })
        #expect(finished.withLock { $0 } == .some(nil), "timed out: no value")
        try await waiting.value
    }

    @Test func returnsEarlyWhenTheValueArrives() async throws {
        let clock = ManualClock()
        let box = Mailbox()
        let deadline = clock.deadline(after: .seconds(30))
        let waiting = Task { try await deadline.wait(box.attempt) }
        try await Task.sleep(for: .milliseconds(20))
        box.put(7)
        #expect(try await waiting.value == 7)
        #expect(clock.now() == ClockTime(milliseconds: 0), "no time had to pass")
    }

    @Test func aValueAlreadyThereIsTakenEvenAfterTheDeadline() async throws {
        let clock = ManualClock()
        let box = Mailbox()
        let deadline = clock.deadline(after: .milliseconds(5))
        clock.advance(by: .seconds(1))
        box.put(3)
        #expect(deadline.hasPassed)
        #expect(try await deadline.wait(box.attempt) == 3)
        #expect(box.slices.withLock { $0 } == [.zero], "one attempt, without waiting")
        // Nothing there and the deadline passed: one attempt, then nil.
        #expect(try await deadline.wait(box.attempt) == nil)
        #expect(box.attempts.withLock { $0 } == 2)
    }

    @Test func aZeroTimeoutPollsOnce() async throws {
        let clock = ManualClock()
        let box = Mailbox()
        #expect(try await clock.deadline(after: .zero).wait(box.attempt) == nil)
        #expect(try await clock.deadline(after: .milliseconds(-5)).wait(box.attempt) == nil)
        #expect(box.slices.withLock { $0 } == [.zero, .zero])
    }

    @Test func aRealDeadlineIsOneAttemptWithTheWholeTime() async throws {
        let clock = SystemRuntimeClock()
        let box = Mailbox()
        let started = clock.instant()
        #expect(try await clock.deadline(after: .milliseconds(30)).wait(box.attempt) == nil)
        #expect(clock.elapsed(since: started) >= .milliseconds(30))
        #expect(box.attempts.withLock { $0 } == 1)
        #expect(box.slices.withLock { $0 }.first.map { $0 > .milliseconds(25) } == true)
    }

    @Test func aSliceHonoursItsLimit() {
        let clock = ManualClock(waitSlice: .milliseconds(2))
        let deadline = clock.deadline(after: .seconds(10))
        #expect(deadline.slice() == .milliseconds(2))
        #expect(deadline.slice(atMost: .milliseconds(1)) == .milliseconds(1))
        clock.advance(by: .seconds(10) - .microseconds(500))
        #expect(deadline.slice() == .microseconds(500))
        let real = SystemRuntimeClock().deadline(after: .seconds(5))
        #expect(real.slice(atMost: .seconds(1)) == .seconds(1))
        #expect(real.slice() > .seconds(4))
    }

    @Test func aBlockedThreadWakesOnTheSignal() async throws {
        let clock = ManualClock()
        let signal = WakeSignal()
        let ready = Cell(false)
        let result = Cell<Bool?>(nil)
        let thread = Thread {
            let r = clock.deadline(after: .seconds(300)).block(on: signal) { ready.withLock { $0 } }
            result.withLock { $0 = r }
        }
        thread.start()
        try await Task.sleep(for: .milliseconds(30))
        #expect(result.withLock { $0 } == nil)
        ready.withLock { $0 = true }
        signal.signal()
        #expect(try await eventually { result.withLock { $0 } != nil })
        #expect(result.withLock { $0 } == true)
    }

    @Test func aBlockedThreadTimesOutOnlyWhenTheClockPassesTheDeadline() async throws {
        let clock = ManualClock()
        let result = Cell<Bool?>(nil)
        let thread = Thread {
            let r = clock.deadline(after: .seconds(2)).block(on: WakeSignal()) { false }
            result.withLock { $0 = r }
        }
        thread.start()
        try await Task.sleep(for: .milliseconds(40))
        clock.advance(by: .milliseconds(1999))
        try await Task.sleep(for: .milliseconds(40))
        #expect(result.withLock { $0 } == nil)
        clock.advance(by: .milliseconds(1))
        #expect(try await eventually { result.withLock { $0 } != nil })
        #expect(result.withLock { $0 } == false)
    }
}

@Suite struct ManualClockTests {
    @Test func sleepersWakeWhenTheClockReachesThem() async throws {
        let clock = ManualClock()
        let woken = Cell<[Int]>([])
        let a = Task { try await clock.sleep(for: .milliseconds(30)); woken.withLock { $0.append(30) } }
        let b = Task { try await clock.sleep(for: .milliseconds(10)); woken.withLock { $0.append(10) } }
        #expect(try await eventually { clock.sleepers == 2 })
        clock.advance(by: .milliseconds(9))
        try await Task.sleep(for: .milliseconds(20))
        #expect(woken.withLock { $0 }.isEmpty)
        clock.advance(by: .milliseconds(1))
        try await b.value
        #expect(woken.withLock { $0 } == [10])
        clock.set(milliseconds: 30)
        try await a.value
        #expect(woken.withLock { $0 } == [10, 30])
        #expect(clock.sleepers == 0)
    }

    @Test func aSleepDueAlreadyReturnsAndACancelledOneThrows() async throws {
        let clock = ManualClock(startMs: 50)
        try await clock.sleep(until: ClockInstant(sinceOrigin: .milliseconds(50)))
        try await clock.sleep(for: .zero)
        let sleeping = Task { try await clock.sleep(for: .seconds(1)) }
        #expect(try await eventually { clock.sleepers == 1 })
        sleeping.cancel()
        await #expect(throws: CancellationError.self) { try await sleeping.value }
        #expect(clock.sleepers == 0)
    }

    @Test func readingsMoveOnlyWhenAdvanced() async throws {
        let clock = ManualClock(startMs: 1_000, wallStart: 5_000)
        let before = clock.instant()
        try await Task.sleep(for: .milliseconds(5))
        #expect(clock.instant() == before)
        clock.advance(by: .microseconds(1_500))
        #expect(clock.elapsed(since: before) == .microseconds(1_500), "precise readings keep sub-millisecond parts")
        #expect(clock.now() == ClockTime(milliseconds: 1_001), "the cores' milliseconds are whole")
        #expect(clock.wallMs() == 6_001)
        clock.set(milliseconds: 10)
        #expect(clock.now() == ClockTime(milliseconds: 1_001), "never backwards")
        clock.advance(by: .milliseconds(-5))
        #expect(clock.now() == ClockTime(milliseconds: 1_001))
    }

    @Test func instantsSubtractWithoutGoingNegative() {
        let a = ClockInstant(sinceOrigin: .milliseconds(5)), b = ClockInstant(sinceOrigin: .milliseconds(8))
        #expect(b - a == .milliseconds(3))
        #expect(a - b == .zero)
        #expect((a + .microseconds(2_700)).clockTime == ClockTime(milliseconds: 7))
        #expect(Duration.milliseconds(1_500).inSeconds == 1.5)
    }
}
