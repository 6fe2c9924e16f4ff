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

    @Test func roomIsSignalledOncePerHalfQueueNotPerElement() async throws {
        let spaces = Counter()
        let q = BoundedQueue<Int>(capacity: 8, onSpace: { spaces.bump() })
        #expect(q.lowWater == 4)
        for i in 0..<8 { #expect(q.offer(i) == .accepted) }
        for _ in 0..<3 { _ = q.poll() }
        #expect(spaces.value == 0, "5 left: above the low-water mark, nobody is woken")
        _ = q.poll()
        #expect(spaces.value == 1, "drained to 4: one wake-up")
        for _ in 0..<4 { _ = q.poll() }
        #expect(spaces.value == 1, "no more wake-ups until the queue is full again")

        // A waiting put is admitted at the low-water mark, not at the first free slot...
        for i in 0..<8 { _ = q.offer(i) }
        let put = Task { try await q.put(99, timeout: .seconds(30)) }
        while q.waitingPuts == 0 { try await Task.sleep(for: .milliseconds(1)) }
        for _ in 0..<3 { _ = q.poll() }
        #expect(q.count == 5, "the put still waits")
        _ = q.poll()
        try await put.value
        #expect(q.count == 5, "admitted at 4")
        #expect(Array(repeating: 0, count: 5).map { _ in q.poll()! }.last == 99, "after what was queued before it")

        // ...and a put whose timeout fires while there is room succeeds instead of failing.
        for i in 0..<8 { _ = q.offer(i) }
        let late = Task { try await q.put(7, timeout: .milliseconds(100)) }
        while q.waitingPuts == 0 { try await Task.sleep(for: .milliseconds(1)) }
        _ = q.poll()
        try await late.value
        #expect(q.count == 8)
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
