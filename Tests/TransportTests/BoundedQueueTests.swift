import Synchronization
import Testing
import Transport

/// The queue between the poller thread and async tasks: order, bounds, timeouts, wake-ups.
@Suite struct BoundedQueueTests {
    @Test func keepsOrderAndRefusesWhenFull() {
        let q = BoundedQueue<Int>(capacity: 3)
        #expect(q.offer(1) == .accepted)
        #expect(q.offer(2) == .accepted)
        #expect(q.offer(3) == .accepted)
        #expect(q.offer(4) == .full)
        #expect(q.poll() == 1)
        #expect(q.offer(4) == .accepted)
        #expect([q.poll(), q.poll(), q.poll(), q.poll()] == [2, 3, 4, nil])
    }

    @Test func takeTimesOutWithinItsBound() async throws {
        let q = BoundedQueue<Int>(capacity: 1)
        let clock = ContinuousClock()
        let start = clock.now
        let got = try await q.take(timeout: .milliseconds(100))
        let waited = start.duration(to: clock.now)
        #expect(got == nil)
        #expect(waited >= .milliseconds(95) && waited < .seconds(20), "waited \(waited)")
    }

    @Test func takeIsWokenByAnOffer() async throws {
        let q = BoundedQueue<Int>(capacity: 1)
        async let value = q.take(timeout: .seconds(5))
        try await Task.sleep(for: .milliseconds(20))
        #expect(q.offer(42) == .accepted)
        #expect(try await value == 42)
    }

    @Test func putWaitsForSpaceThenTimesOut() async throws {
        let q = BoundedQueue<Int>(capacity: 1)
        try await q.put(1, timeout: .seconds(1))
        // Room appears after 50 ms: the put succeeds.
        Task { try await Task.sleep(for: .milliseconds(50)); _ = q.poll() }
        try await q.put(2, timeout: .seconds(5))
        #expect(q.poll() == 2)
        // Nobody takes: the put fails after its timeout with a clear error.
        try await q.put(3, timeout: .seconds(1))
        await #expect(throws: TransportError.self) { try await q.put(4, timeout: .milliseconds(50)) }
        #expect(q.count == 1)
    }

    @Test func closeFailsWaitersButKeepsQueuedElements() async throws {
        let q = BoundedQueue<Int>(capacity: 2)
        let waiting = Task { try await q.take(timeout: .seconds(5)) }
        try await Task.sleep(for: .milliseconds(20))
        q.close()
        await #expect(throws: TransportError.closed) { _ = try await waiting.value }
        #expect(q.offer(1) == .closed)

        let r = BoundedQueue<Int>(capacity: 2)
        _ = r.offer(7)
        r.close()
        #expect(try await r.take(timeout: .seconds(1)) == 7)
        await #expect(throws: TransportError.closed) { _ = try await r.take(timeout: .seconds(1)) }
    }

    @Test func callbacksFireOnEmptyToItemAndFullToSpace() {
        let items = Counter(), spaces = Counter()
        let q = BoundedQueue<Int>(capacity: 2, onItem: { items.bump() }, onSpace: { spaces.bump() })
        _ = q.offer(1)   // empty → item: fires
        _ = q.offer(2)   // not empty: silent
        _ = q.poll()     // full → space: fires
        _ = q.poll()     // not full: silent
        _ = q.offer(3)   // fires again
        #expect(items.value == 2)
        #expect(spaces.value == 1)
    }

    @Test func cancellationEndsAWait() async throws {
        let q = BoundedQueue<Int>(capacity: 1)
        let task = Task { try await q.take(timeout: .seconds(30)) }
        try await Task.sleep(for: .milliseconds(20))
        task.cancel()
        let clock = ContinuousClock()
        let start = clock.now
        await #expect(throws: CancellationError.self) { _ = try await task.value }
        #expect(start.duration(to: clock.now) < .seconds(20))
    }
}

final class Counter: Sendable {
    private let count = Atomic<Int>(0)
    func bump() { count.add(1, ordering: .relaxed) }
    var value: Int { count.load(ordering: .relaxed) }
}
