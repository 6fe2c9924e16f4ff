import Logging
import Synchronization
import Transport
import Wire

/// A logits batch as it arrived: the header and its frames (logits `[n × C]`, F32).
public struct ArrivedLogits: Sendable {
    public var batch: LogitsBatch
    public var frames: [Frame]
}

/// Sorts what arrives at a worker's data endpoint into per-run queues: logits batches for the
/// run's student replicas (or, marked `to_teacher`, for one of its teachers), credits for its
/// teachers, gradient chunks for its ring. One
/// receive loop (`run`) feeds them; consumers wait on their queue with a timeout. Queues are
/// bounded: a message that finds its queue full is dropped and counted (credits keep honest
/// senders below the bound).
public final class DataInbox: Sendable {
    public let listener: any Listener
    let capacity: Int
    let logger: Logger
    private let logits = Mutex<[String: BoundedQueue<ArrivedLogits>]>([:])
    private let credits = Mutex<[String: BoundedQueue<Credit>]>([:])
    private let gradients = Mutex<[String: BoundedQueue<(GradientChunk, Frame)>]>([:])
    private let dropped = Mutex<[String: Int]>([:])

    public init(listener: any Listener, capacity: Int = 4096, logger: Logger = Logger(label: "distillery.data")) {
        self.listener = listener
        self.capacity = capacity
        self.logger = logger
    }

    /// Receives and sorts until the task is cancelled or the listener closes.
    public func run() async {
        while !Task.isCancelled {
            let inbound: Inbound?
            do { inbound = try await listener.receive(timeout: .milliseconds(200)) } catch { return }
            guard let inbound else { continue }
            let message = inbound.message
            let accepted: Bool
            switch message.envelope.body {
            case .logitsBatch(let b) where b.toTeacher:
                accepted = queue(Self.peerKey(b.runID, Int(b.toTeacherIndex)), in: logits)
                    .offer(ArrivedLogits(batch: b, frames: message.frames)) == .accepted
            case .logitsBatch(let b):
                accepted = queue(b.runID, in: logits).offer(ArrivedLogits(batch: b, frames: message.frames)) == .accepted
            case .credit(let c):
                accepted = queue("\(c.runID)#\(c.teacher)", in: credits).offer(c) == .accepted
            case .gradientChunk(let g) where message.frames.count == 1:
                accepted = queue(g.runID, in: gradients).offer((g, message.frames[0])) == .accepted
            default:
                accepted = false
            }
            if !accepted { dropped.withLock { $0[message.envelope.body.name, default: 0] += 1 } }
        }
    }

    public func logitsQueue(run: String) -> BoundedQueue<ArrivedLogits> { queue(run, in: logits) }
    /// Other teachers' logits for teacher `teacher` of `run` (online runs with a mutual term).
    public func peerLogitsQueue(run: String, teacher: Int) -> BoundedQueue<ArrivedLogits> { queue(Self.peerKey(run, teacher), in: logits) }
    private static func peerKey(_ run: String, _ teacher: Int) -> String { "\(run)#peer#\(teacher)" }
    /// Credits for teacher `teacher` of `run` (several teachers may share this endpoint).
    public func creditQueue(run: String, teacher: Int) -> BoundedQueue<Credit> { queue("\(run)#\(teacher)", in: credits) }
    public func gradientSource(run: String) -> any GradientSource { QueueGradientSource(queue: queue(run, in: gradients)) }

    /// Messages dropped (unknown kind, or their queue full), by body name.
    public var drops: [String: Int] { dropped.withLock { $0 } }

    /// Forgets a finished run's queues.
    public func forget(run: String) {
        logits.withLock { table in
            for key in table.keys where key == run || key.hasPrefix(run + "#peer#") { table[key]?.close(); table[key] = nil }
        }
        credits.withLock { table in
            for key in table.keys where key.hasPrefix(run + "#") { table[key]?.close(); table[key] = nil }
        }
        gradients.withLock { $0[run]?.close(); $0[run] = nil }
    }

    private func queue<T>(_ run: String, in table: borrowing Mutex<[String: BoundedQueue<T>]>) -> BoundedQueue<T> {
        table.withLock { t in
            if let q = t[run] { return q }
            let q = BoundedQueue<T>(capacity: capacity)
            t[run] = q
            return q
        }
    }
}

struct QueueGradientSource: GradientSource {
    let queue: BoundedQueue<(GradientChunk, Frame)>

    func nextChunk(timeout: Duration) async throws -> (chunk: GradientChunk, frame: Frame)? {
        guard let (g, f) = try await queue.take(timeout: timeout) else { return nil }
        return (g, f)
    }
}
