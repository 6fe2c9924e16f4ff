import Clocks
import Synchronization

/// A bounded FIFO between threads and async tasks, used in both directions of a transport:
/// a poller thread `offer`s received messages that tasks `take`, and tasks `put` messages to
/// send that the poller `poll`s. Nothing waits unboundedly: `take` and `put` have timeouts,
/// `offer` and `poll` never block.
///
/// Rules: at most `capacity` elements are held. `onItem` runs (outside the lock) when an element
/// arrives while the queue was empty. Wake-ups for room use hysteresis, like libzmq's pipes:
/// once the queue has been full, `onSpace` runs and waiting `put`s are admitted only when it
/// has drained to `lowWater` (capacity / 2), so a fast producer facing a slower consumer is
/// woken once per `capacity - lowWater` elements instead of once per element. A `put` whose
/// timeout fires while there is room is admitted, not failed. `offer` never waits and may
/// pass waiting `put`s (order holds per producer, not across producers). A poller uses the
/// callbacks to wake itself without polling. After `close()`, remaining elements can still be
/// taken; then `take` throws `TransportError.closed`, as do `put` and pending waits. Timeouts
/// run on the queue's `clock` (the real one unless a test injects a `ManualClock`).
public final class BoundedQueue<Element: Sendable>: Sendable {
    public let capacity: Int
    /// Level a full queue must drain to before `onSpace` runs and waiting `put`s are admitted.
    public let lowWater: Int
    private let state: Mutex<State>
    private let onItem: (@Sendable () -> Void)?
    private let onSpace: (@Sendable () -> Void)?
    /// The clock the timeouts of `take` and `put` run on.
    public let clock: any RuntimeClock

    private struct Waiter<Value> {
        let id: UInt64
        let continuation: CheckedContinuation<Value, any Error>
        var timer: Task<Void, Never>?
    }

    private enum OfferAction { case resume(Waiter<Element?>), queued(wasEmpty: Bool), full, closed }
    private enum PutAction { case done, fail(any Error), wait, retryOffer }
    private enum TakeAction { case fail(any Error), wait, retry }

    private struct State {
        /// Slots before `head` are nil: a taken element is not kept alive by the queue.
        var items: [Element?] = []
        var head = 0
        var takers: [Waiter<Element?>] = []
        /// Tasks waiting for space, each with the element it wants to put.
        var putters: [(waiter: Waiter<Void>, element: Element)] = []
        var cancelled: Set<UInt64> = []
        /// The queue was full (a producer may be waiting for `onSpace`) and has not yet
        /// drained to `lowWater`.
        var spaceWanted = false
        var nextID: UInt64 = 1
        var closed = false

        var count: Int { items.count - head }

        mutating func popFirst() -> Element? {
            guard head < items.count else { return nil }
            let e = items[head]
            items[head] = nil
            head += 1
            if head == items.count {
                items.removeAll(keepingCapacity: true)
                head = 0
            } else if head > 64 && head * 2 > items.count {
                items.removeFirst(head)
                head = 0
            }
            return e
        }
    }

    public init(capacity: Int, clock: any RuntimeClock = SystemRuntimeClock(), onItem: (@Sendable () -> Void)? = nil,
                onSpace: (@Sendable () -> Void)? = nil) {
        precondition(capacity >= 1, "a queue needs room for at least one element")
        self.capacity = capacity
        self.lowWater = capacity / 2
        self.state = Mutex(State())
        self.onItem = onItem
        self.onSpace = onSpace
        self.clock = clock
    }

    /// Number of elements held.
    public var count: Int { state.withLock { $0.count } }
    public var isFull: Bool { state.withLock { $0.count >= capacity } }
    public var isClosed: Bool { state.withLock { $0.closed } }
    /// `put`s waiting for room (for back-pressure metrics and tests).
    public var waitingPuts: Int { state.withLock { $0.putters.count } }

    public enum OfferResult: Sendable, Equatable { case accepted, full, closed }

    /// Adds `element` without waiting: handed straight to a waiting `take`, else queued if
    /// there is room.
    public func offer(_ element: Element) -> OfferResult {
        let action: OfferAction = state.withLock { s in
            if s.closed { return .closed }
            if !s.takers.isEmpty { return .resume(s.takers.removeFirst()) }
            if s.count >= capacity { s.spaceWanted = true; return .full }
            let wasEmpty = s.count == 0
            s.items.append(element)
            if s.count >= capacity { s.spaceWanted = true }
            return .queued(wasEmpty: wasEmpty)
        }
        switch action {
        case .resume(let w):
            w.timer?.cancel()
            w.continuation.resume(returning: element)
            return .accepted
        case .queued(let wasEmpty):
            if wasEmpty { onItem?() }
            return .accepted
        case .full: return .full
        case .closed: return .closed
        }
    }

    /// Removes the oldest element without waiting. When a queue that was full has drained to
    /// `lowWater`, admits the waiting `put`s that fit and runs `onSpace`.
    public func poll() -> Element? {
        let (element, admitted, signal): (Element?, [Waiter<Void>], Bool) = state.withLock { s in
            guard let e = s.popFirst() else { return (nil, [], false) }
            guard s.spaceWanted, s.count <= lowWater else { return (e, [], false) }
            s.spaceWanted = false
            var admitted: [Waiter<Void>] = []
            while !s.putters.isEmpty && s.count < capacity {
                let p = s.putters.removeFirst()
                s.items.append(p.element)
                admitted.append(p.waiter)
            }
            if s.count >= capacity { s.spaceWanted = true }
            return (e, admitted, true)
        }
        for w in admitted {
            w.timer?.cancel()
            w.continuation.resume()
        }
        if signal { onSpace?() }
        return element
    }

    /// Adds `element`, waiting up to `timeout` for room. Throws `TransportError.timedOut` when
    /// the queue stayed full, `.closed` after `close()`, `CancellationError` if cancelled.
    public func put(_ element: Element, timeout: Duration) async throws {
        switch offer(element) {
        case .accepted: return
        case .closed: throw TransportError.closed
        case .full: break
        }
        let id = state.withLock { s -> UInt64 in defer { s.nextID += 1 }; return s.nextID }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let action: PutAction = state.withLock { s in
                    if s.closed { return .fail(TransportError.closed) }
                    if s.cancelled.remove(id) != nil { return .fail(CancellationError()) }
                    if s.putters.isEmpty && (s.count < capacity || !s.takers.isEmpty) { return .retryOffer }
                    s.putters.append((Waiter(id: id, continuation: continuation), element))
                    s.spaceWanted = true
                    return .wait
                }
                switch action {
                case .done: continuation.resume()
                case .fail(let e): continuation.resume(throwing: e)
                case .retryOffer:
                    switch offer(element) {
                    case .accepted: continuation.resume()
                    case .closed: continuation.resume(throwing: TransportError.closed)
                    case .full: continuation.resume(throwing: TransportError.timedOut("waiting for room in a send queue"))
                    }
                case .wait:
                    let clock = self.clock
                    let timer = Task { [weak self] in
                        try? await clock.sleep(for: timeout)
                        guard !Task.isCancelled else { return }
                        self?.putterTimedOut(id, after: timeout)
                    }
                    state.withLock { s in
                        if let i = s.putters.firstIndex(where: { $0.waiter.id == id }) { s.putters[i].waiter.timer = timer }
                        else { timer.cancel() }
                    }
                }
            }
        } onCancel: {
            self.failPutter(id, with: CancellationError(), rememberIfAbsent: true)
        }
    }

    /// Removes the oldest element, waiting up to `timeout` for one. Returns nil on timeout;
    /// throws `TransportError.closed` once closed and drained, `CancellationError` if cancelled.
    public func take(timeout: Duration) async throws -> Element? {
        if let e = poll() { return e }
        if isClosed { throw TransportError.closed }
        let id = state.withLock { s -> UInt64 in defer { s.nextID += 1 }; return s.nextID }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Element?, any Error>) in
                let action: TakeAction = state.withLock { s in
                    if s.count > 0 { return .retry }
                    if s.closed { return .fail(TransportError.closed) }
                    if s.cancelled.remove(id) != nil { return .fail(CancellationError()) }
                    s.takers.append(Waiter(id: id, continuation: continuation))
                    return .wait
                }
                switch action {
                case .fail(let e): continuation.resume(throwing: e)
                case .retry:
                    // Only `offer` adds and it hands to takers first, so the element is still here
                    // unless another task took it; then report a timeout-free empty result.
                    continuation.resume(returning: poll())
                case .wait:
                    let clock = self.clock
                    let timer = Task { [weak self] in
                        try? await clock.sleep(for: timeout)
                        guard !Task.isCancelled else { return }
                        self?.finishTaker(id, with: .success(nil))
                    }
                    state.withLock { s in
                        if let i = s.takers.firstIndex(where: { $0.id == id }) { s.takers[i].timer = timer }
                        else { timer.cancel() }
                    }
                }
            }
        } onCancel: {
            self.finishTaker(id, with: .failure(CancellationError()), rememberIfAbsent: true)
        }
    }

    /// Refuses further puts and offers and fails every waiter with `TransportError.closed`.
    /// Elements already queued can still be taken.
    public func close() {
        let (takers, putters): ([Waiter<Element?>], [Waiter<Void>]) = state.withLock { s in
            s.closed = true
            defer { s.takers = []; s.putters = [] }
            return (s.takers, s.putters.map(\.waiter))
        }
        for w in takers { w.timer?.cancel(); w.continuation.resume(throwing: TransportError.closed) }
        for w in putters { w.timer?.cancel(); w.continuation.resume(throwing: TransportError.closed) }
    }

    /// Removes and returns everything queued (used when a socket closes).
    public func drain() -> [Element] {
        var out: [Element] = []
        while let e = poll() { out.append(e) }
        return out
    }

    private func finishTaker(_ id: UInt64, with result: Result<Element?, any Error>, rememberIfAbsent: Bool = false) {
        let waiter: Waiter<Element?>? = state.withLock { s in
            if let i = s.takers.firstIndex(where: { $0.id == id }) { return s.takers.remove(at: i) }
            if rememberIfAbsent { s.cancelled.insert(id) }
            return nil
        }
        guard let waiter else { return }
        waiter.timer?.cancel()
        waiter.continuation.resume(with: result)
    }

    /// A waiting `put` reached its timeout: admitted if there is room after all (hysteresis may
    /// have held it back), else failed.
    private func putterTimedOut(_ id: UInt64, after timeout: Duration) {
        let (waiter, admitted): (Waiter<Void>?, Bool) = state.withLock { s in
            guard let i = s.putters.firstIndex(where: { $0.waiter.id == id }) else { return (nil, false) }
            let p = s.putters.remove(at: i)
            guard s.count < capacity else { return (p.waiter, false) }
            s.items.append(p.element)
            return (p.waiter, true)
        }
        guard let waiter else { return }
        if admitted { waiter.continuation.resume() }
        else { waiter.continuation.resume(throwing: TransportError.timedOut("send queue stayed full for \(timeout)")) }
    }

    private func failPutter(_ id: UInt64, with error: any Error, rememberIfAbsent: Bool = false) {
        let waiter: Waiter<Void>? = state.withLock { s in
            if let i = s.putters.firstIndex(where: { $0.waiter.id == id }) { return s.putters.remove(at: i).waiter }
            if rememberIfAbsent { s.cancelled.insert(id) }
            return nil
        }
        guard let waiter else { return }
        waiter.timer?.cancel()
        waiter.continuation.resume(throwing: error)
    }
}
