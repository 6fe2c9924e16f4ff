import Clocks
import Logging
import Synchronization
import Transport
import Wire

/// A logits batch as it arrived: the header and its frames (logits `[n × C]`, F32).
public struct ArrivedLogits: Sendable {
    public var batch: LogitsBatch
    public var frames: [Frame]
}

/// A teacher's test-split logits as they arrived: the header and its one f32 frame `[N_test × C]`.
public struct ArrivedTestSplit: Sendable {
    public var logits: TestSplitLogits
    public var frames: [Frame]
}

/// Another teacher's logits of a global batch as they arrived (mutual term): the header and its
/// one f32 frame `[n × C]`.
public struct ArrivedPeerLogits: Sendable {
    public var logits: PeerTeacherLogits
    public var frames: [Frame]
}

/// Where a message at a worker's data endpoint goes: a run, and which of its queues. Each
/// message kind has queues of its own, so one kind can never be taken for another.
public struct InboxKey: Hashable, Sendable, CustomStringConvertible {
    public enum Stream: Hashable, Sendable {
        /// Teachers' step logits (`LogitsBatch`) for the run's replica on this worker.
        case stepLogits
        /// Teachers' test-split logits (`TestSplitLogits`) for the run's replica 0.
        case testSplitLogits
        /// Other teachers' logits (`PeerTeacherLogits`) for teacher `teacher` (online runs with a
        /// mutual term).
        case peerLogits(teacher: Int)
        /// Replicas' credits for teacher `teacher` (several teachers may share this endpoint).
        case credits(teacher: Int)
        /// Gradient chunks for the run's ring.
        case gradients
    }

    public var run: String
    public var stream: Stream

    public init(run: String, _ stream: Stream) {
        self.run = run
        self.stream = stream
    }

    /// The queue a data-plane message belongs in, by its kind; nil for a message the data plane
    /// does not take.
    public init?(of message: Message) {
        switch message.envelope.body {
        case .logitsBatch(let b): self.init(run: b.runID, .stepLogits)
        case .testSplitLogits(let t): self.init(run: t.runID, .testSplitLogits)
        case .peerTeacherLogits(let p): self.init(run: p.runID, .peerLogits(teacher: Int(p.toTeacher)))
        case .credit(let c): self.init(run: c.runID, .credits(teacher: Int(c.teacher)))
        case .gradientChunk(let g) where message.frames.count == 1: self.init(run: g.runID, .gradients)
        default: return nil
        }
    }

    public var description: String { "\(run) \(stream)" }
}

/// Sorts what arrives at a worker's data endpoint into per-run queues by message kind
/// (``InboxKey``): step logits and test-split logits for the run's student replica, peers'
/// logits for each of its teachers, credits for its teachers, gradient chunks for its ring. One receive loop (`run`) feeds them;
/// consumers wait on their queue with a timeout. Queues are bounded: a message that finds its
/// queue full is dropped and counted (credits keep honest senders below the bound).
///
/// Lifetime: a run's queues are made when first used and freed by `forget(run:)`, which the
/// worker's task runner calls when the last of the run's tasks on this worker ends; messages
/// for a forgotten run that arrive later (a peer's last credit) are dropped and counted, not
/// queued anew, until a task of that run starts here again (`open(run:)`). Forgotten runs are
/// remembered up to `rememberedEnds`, oldest first out.
///
/// Strangers (docs/PROTOCOL.md "Security"): messages for a run no task here has opened yet, and
/// in a CURVE cluster messages whose sender's key is not (yet) one of the run's senders for
/// their queue (``allow(_:run:)``: teachers send logits, replicas credits and gradient chunks),
/// wait in one buffer bounded in bytes (``pendingLimit``) and age (``pendingAge``): a run that
/// opens, or a list of senders that grows, takes what now belongs to it; the rest is dropped
/// and counted ("unknown-run", "not-a-sender", "pending-full"), the first of each kind logged.
public final class DataInbox: Sendable {
    public let listener: any Listener
    let capacity: Int
    let logger: Logger
    let clock: any RuntimeClock
    /// How many ended runs the inbox remembers, to drop their late messages.
    public let rememberedEnds: Int
    /// Bytes of messages waiting for their run or their sender's admission, at most.
    public let pendingLimit: Int
    /// How long such a message waits at most.
    public let pendingAge: Duration
    struct State {
        var logits: [InboxKey: BoundedQueue<ArrivedLogits>] = [:]
        var testSplits: [InboxKey: BoundedQueue<ArrivedTestSplit>] = [:]
        var peerLogits: [InboxKey: BoundedQueue<ArrivedPeerLogits>] = [:]
        var credits: [InboxKey: BoundedQueue<Credit>] = [:]
        var gradients: [InboxKey: BoundedQueue<(GradientChunk, Frame)>] = [:]
        var ended: [String] = []
        var dropped: [String: Int] = [:]
        /// Runs a task here opened (their messages are queued).
        var opened: Set<String> = []
        /// CURVE clusters: the keys that may send to each queue.
        var senders: [InboxKey: Set<String>] = [:]
        var pending: [Pending] = []
        var pendingBytes = 0
        var logged: Set<String> = []
    }
    struct Pending {
        let message: Message
        let key: InboxKey
        let sender: String?
        let at: ClockInstant
        let bytes: Int
    }
    let state = Mutex(State())

    public init(listener: any Listener, capacity: Int = 4096, rememberedEnds: Int = 1024,
                pendingLimit: Int = 64 << 20, pendingAge: Duration = .seconds(60),
                clock: any RuntimeClock = SystemRuntimeClock(), logger: Logger = Logger(label: "distillery.data")) {
        self.listener = listener
        self.capacity = capacity
        self.rememberedEnds = rememberedEnds
        self.pendingLimit = pendingLimit
        self.pendingAge = pendingAge
        self.clock = clock
        self.logger = logger
    }

    /// Receives and sorts until the task is cancelled or the listener closes.
    public func run() async {
        while !Task.isCancelled {
            let inbound: Inbound?
            do { inbound = try await listener.receive(timeout: .milliseconds(200)) } catch { return }
            guard let inbound else {
                expirePending()
                continue
            }
            deliver(inbound.message, from: inbound.peerKey)
        }
    }

    /// Puts `message` from the sender authenticated as `sender` (its CURVE key; nil without
    /// CURVE) in its queue, or keeps it until its run opens or its sender is admitted; false
    /// (and counted) when it is refused: no queue for its kind, its run ended here, its queue
    /// is full, or the buffer for strangers is.
    @discardableResult
    public func deliver(_ message: Message, from sender: String? = nil) -> Bool {
        guard let key = InboxKey(of: message) else {
            count(message.envelope.body.name)
            return false
        }
        // Queued under the lock: a message released from the buffer when its run opens is never
        // overtaken by a later one (logits, credits and chunks keep their order).
        let accepted = state.withLock { s -> Bool in
            if s.ended.contains(key.run) { return false }
            if s.admits(key, from: sender) {
                return offerFor(message, key, in: &s)()
            }
            return hold(Pending(message: message, key: key, sender: sender, at: clock.instant(),
                                bytes: message.frames.reduce(256) { $0 + $1.count }), in: &s)
        }
        if !accepted { count(message.envelope.body.name) }
        return accepted
    }

    func count(_ name: String) { state.withLock { $0.dropped[name, default: 0] += 1 } }

    /// The offer that queues `message` (its queue made if need be).
    func offerFor(_ message: Message, _ key: InboxKey, in s: inout State) -> () -> Bool {
        func q<T>(_ table: WritableKeyPath<State, [InboxKey: BoundedQueue<T>]>) -> BoundedQueue<T> {
            if let q = s[keyPath: table][key] { return q }
            let q = BoundedQueue<T>(capacity: capacity)
            s[keyPath: table][key] = q
            return q
        }
        switch message.envelope.body {
        case .logitsBatch(let b): let queue = q(\.logits); return { queue.offer(ArrivedLogits(batch: b, frames: message.frames)) == .accepted }
        case .testSplitLogits(let t):
            let queue = q(\.testSplits); return { queue.offer(ArrivedTestSplit(logits: t, frames: message.frames)) == .accepted }
        case .peerTeacherLogits(let p):
            let queue = q(\.peerLogits); return { queue.offer(ArrivedPeerLogits(logits: p, frames: message.frames)) == .accepted }
        case .credit(let c): let queue = q(\.credits); return { queue.offer(c) == .accepted }
        case .gradientChunk(let g): let queue = q(\.gradients); return { queue.offer((g, message.frames[0])) == .accepted }
        default: return { false }
        }
    }

    /// Teachers' step logits for `run`'s replica on this worker.
    public func logitsQueue(run: String) -> BoundedQueue<ArrivedLogits> { consumerQueue(InboxKey(run: run, .stepLogits), \.logits) }
    /// Teachers' test-split logits for `run`'s replica 0 on this worker.
    public func testSplitQueue(run: String) -> BoundedQueue<ArrivedTestSplit> {
        consumerQueue(InboxKey(run: run, .testSplitLogits), \.testSplits)
    }
    /// Other teachers' logits for teacher `teacher` of `run` (online runs with a mutual term).
    public func peerLogitsQueue(run: String, teacher: Int) -> BoundedQueue<ArrivedPeerLogits> {
        consumerQueue(InboxKey(run: run, .peerLogits(teacher: teacher)), \.peerLogits)
    }
    /// Credits for teacher `teacher` of `run` (several teachers may share this endpoint).
    public func creditQueue(run: String, teacher: Int) -> BoundedQueue<Credit> {
        consumerQueue(InboxKey(run: run, .credits(teacher: teacher)), \.credits)
    }
    public func gradientSource(run: String) -> any GradientSource {
        QueueGradientSource(queue: consumerQueue(InboxKey(run: run, .gradients), \.gradients))
    }

    /// Wakes a replica of `run` waiting for a gradient chunk here, so that it looks at once for
    /// a new ring assignment: a marker (a chunk with an empty run id, which no peer can send:
    /// the decoder refuses it) is queued and skipped by the all-reduce. Nothing when the run
    /// has no gradient queue here.
    public func wakeGradientWaiter(run: String) {
        let queue = state.withLock { $0.gradients[InboxKey(run: run, .gradients)] }
        _ = queue?.offer((RingWatch.wakeUp, Frame(bytes: [])))
    }

    /// Messages dropped (unknown kind, their run ended here, or their queue full), by body name.
    public var drops: [String: Int] { state.withLock { $0.dropped } }

    /// The runs whose queues (or waiting messages) the inbox holds now.
    public var heldRuns: Set<String> {
        state.withLock { s in
            Set(s.logits.keys.map(\.run)).union(s.testSplits.keys.map(\.run)).union(s.peerLogits.keys.map(\.run))
                .union(s.credits.keys.map(\.run)).union(s.gradients.keys.map(\.run)).union(s.pending.map(\.key.run))
        }
    }

    /// A task of `run` starts here: its messages are welcome again (it may have ended here before).
    public func open(run: String) {
        state.withLock { s in
            s.ended.removeAll { $0 == run }
            s.opened.insert(run)
            releasePending(in: &s)
        }
    }

    /// Frees a finished run's queues (their waiting consumers see them closed) and drops its
    /// messages from now on, until `open(run:)`.
    public func forget(run: String) {
        let closing: [@Sendable () -> Void] = state.withLock { s in
            var close: [@Sendable () -> Void] = []
            for (key, q) in s.logits where key.run == run { close.append(q.close) }
            for (key, q) in s.testSplits where key.run == run { close.append(q.close) }
            for (key, q) in s.peerLogits where key.run == run { close.append(q.close) }
            for (key, q) in s.credits where key.run == run { close.append(q.close) }
            for (key, q) in s.gradients where key.run == run { close.append(q.close) }
            s.logits = s.logits.filter { $0.key.run != run }
            s.testSplits = s.testSplits.filter { $0.key.run != run }
            s.peerLogits = s.peerLogits.filter { $0.key.run != run }
            s.credits = s.credits.filter { $0.key.run != run }
            s.gradients = s.gradients.filter { $0.key.run != run }
            s.senders = s.senders.filter { $0.key.run != run }
            s.opened.remove(run)
            s.pendingBytes -= s.pending.filter { $0.key.run == run }.reduce(0) { $0 + $1.bytes }
            s.pending.removeAll { $0.key.run == run }
            s.ended.removeAll { $0 == run }
            s.ended.append(run)
            if s.ended.count > rememberedEnds { s.ended.removeFirst(s.ended.count - rememberedEnds) }
            return close
        }
        closing.forEach { $0() }
    }

    /// The queue a task consumes: made (and the run opened) if need be.
    private func consumerQueue<T>(_ key: InboxKey, _ table: WritableKeyPath<State, [InboxKey: BoundedQueue<T>]>) -> BoundedQueue<T> {
        let (queue, opened) = state.withLock { s -> (BoundedQueue<T>, Bool) in
            s.ended.removeAll { $0 == key.run }
            let opened = s.opened.insert(key.run).inserted
            let q = s[keyPath: table][key] ?? BoundedQueue<T>(capacity: capacity)
            s[keyPath: table][key] = q
            if opened { releasePending(in: &s) }
            return (q, opened)
        }
        return queue
    }
}

struct QueueGradientSource: GradientSource {
    let queue: BoundedQueue<(GradientChunk, Frame)>

    func nextChunk(timeout: Duration) async throws -> (chunk: GradientChunk, frame: Frame)? {
        guard let (g, f) = try await queue.take(timeout: timeout) else { return nil }
        return (g, f)
    }
}
