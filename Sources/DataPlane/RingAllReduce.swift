import Clocks
import ClusterCore
import ClusterRuntime
import Foundation
import Synchronization
import Transport
import Wire

/// Why an all-reduce did not finish. Each text names the step, the phase and the silent peer.
public enum RingError: Error, Sendable, CustomStringConvertible {
    case invalidRing(String)
    /// No chunk from the previous rank within the timeout.
    case timedOut(rank: Int, previous: Int, step: UInt64, phase: RingPhase, hop: Int, after: Duration)
    /// A chunk that breaks the schedule (wrong step, hop, chunk or length): a bug or a stale peer.
    case unexpected(String)
    case transport(String)
    /// The coordinator assigned this replica to a newer ring generation while it waited (a
    /// member was lost or joined): the all-reduce is abandoned, and the replica moves to the
    /// new ring (`StudentReplica`'s resynchronisation).
    case superseded(by: UInt64)

    public var description: String {
        switch self {
        case .invalidRing(let text): return "cannot form the ring: \(text)"
        case .timedOut(let rank, let previous, let step, let phase, let hop, let after):
            return "replica \(rank) got no gradient chunk from replica \(previous) for step \(step) "
                + "(\(phase == .reduceScatter ? "reduce-scatter" : "all-gather") hop \(hop)) within \(after.shortDescription); "
                + "replica \(previous) is stuck, gone or unreachable"
        case .unexpected(let text): return "unexpected gradient chunk: \(text)"
        case .transport(let text): return "sending a gradient chunk failed: \(text)"
        case .superseded(let generation): return "the ring was replaced by generation \(generation)"
        }
    }
}

/// Where a replica's incoming gradient chunks come from.
public protocol GradientSource: Sendable {
    /// The next gradient chunk for this replica, or nil after `timeout`.
    func nextChunk(timeout: Duration) async throws -> (chunk: GradientChunk, frame: Frame)?
}

/// Gradient chunks of one run taken from a replica's data listener; anything else that
/// arrives there is counted in `ignored` and dropped (a demultiplexer takes this role when
/// the listener also carries logits).
public final class ListenerGradientSource: GradientSource {
    let listener: any Listener
    let runID: String
    /// The clock `nextChunk`'s timeout runs on.
    let clock: any RuntimeClock
    private let ignoredCount = Mutex(0)

    public init(listener: any Listener, runID: String, clock: any RuntimeClock = SystemRuntimeClock()) {
        self.listener = listener
        self.runID = runID
        self.clock = clock
    }

    public var ignored: Int { ignoredCount.withLock { $0 } }

    public func nextChunk(timeout: Duration) async throws -> (chunk: GradientChunk, frame: Frame)? {
        let deadline = clock.deadline(after: timeout)
        while true {
            guard let inbound = try await deadline.wait({ try await listener.receive(timeout: $0) }) else { return nil }
            if case .gradientChunk(let g) = inbound.message.envelope.body, g.runID == runID, inbound.message.frames.count == 1 {
                return (g, inbound.message.frames[0])
            }
            ignoredCount.withLock { $0 += 1 }
        }
    }
}

/// What a replica's successive rings share in an elastic run: the newest ring generation the
/// coordinator has assigned it (read while waiting, so that a wait on a lost peer ends as soon
/// as the new ring is known) and the chunks that arrived from a newer generation than the
/// receiving ring's (a peer that learned of the new ring first), kept for that ring in arrival
/// order. Used by one replica's loop at a time, like its rings.
///
/// Whoever changes the assignment also queues `wakeUp` where the replica waits for chunks
/// (`DataInbox.wakeGradientWaiter`), so it looks at once; `poll` is the fallback.
public final class RingWatch {
    /// The marker that wakes a waiting ring: a chunk with an empty run id (never on the wire).
    public static let wakeUp = GradientChunk()
    let assigned: @Sendable () -> UInt64
    /// How often a waiting ring reads `assigned` without being woken (real time).
    let poll: Duration
    var held: [(chunk: GradientChunk, frame: Frame)] = []
    /// Runs whenever a wait for a chunk passes a `poll` slice without one: the replica looks
    /// after what else may have changed meanwhile (a teacher placed again, which a replica
    /// waiting for its ring would otherwise never grant credits).
    var idle: (() async -> Void)?

    public init(poll: Duration = .seconds(1), assigned: @escaping @Sendable () -> UInt64) {
        self.poll = poll
        self.assigned = assigned
    }

    /// The first held chunk of `generation`, removed; chunks of older generations are dropped.
    func take(generation: UInt64) -> (chunk: GradientChunk, frame: Frame)? {
        held.removeAll { $0.chunk.generation < generation }
        guard let i = held.firstIndex(where: { $0.chunk.generation == generation }) else { return nil }
        return held.remove(at: i)
    }
}

/// Ring all-reduce of one replica's flat gradient buffer over the transport: reduce-scatter
/// then all-gather, `RingSchedule`'s hops (docs/PROTOCOL.md "Ring all-reduce"). Afterwards
/// every replica's buffer holds the element-wise *sum* of all replicas' buffers, bit-identical
/// on every replica; divide by R for the mean.
///
/// Chunks go to the next rank's data endpoint as `GradientChunk{run_id, generation, step,
/// chunk, phase, hop}` + one F32 frame; they come from the previous rank in order (one DEALER
/// → ROUTER pipe keeps order), so a chunk is checked against exactly the one expected. A
/// chunk of an older ring generation is dropped; every wait is bounded by `timeout`. With a
/// `RingWatch` (elastic runs) a chunk of a newer generation is kept for that ring, and a wait
/// ends with `RingError.superseded` once the replica is assigned a newer ring.
/// One owner (a replica's training loop) uses an instance at a time.
public final class RingAllReduce {
    /// Bytes of gradient chunks this rank has sent (tensor frames), for monitoring.
    public private(set) var bytesSent = 0
    public let runID: String
    public let generation: UInt64
    public let rank: Int
    public let schedule: RingSchedule
    public let timeout: Duration
    let source: any GradientSource
    let next: (any Connection)?
    let sender: String
    /// The clock the chunk timeouts run on.
    let clock: any RuntimeClock
    /// Elastic runs: the replica's newest assigned generation and chunks held for newer rings.
    let watch: RingWatch?
    /// `next` is a connection to rank `rank + 1`'s data endpoint (nil only when ranks == 1).
    public init(runID: String, generation: UInt64, rank: Int, ranks: Int, count: Int, source: any GradientSource,
                next: (any Connection)?, timeout: Duration = .seconds(10),
                clock: any RuntimeClock = SystemRuntimeClock(), watch: RingWatch? = nil) throws(RingError) {
        guard let schedule = RingSchedule(ranks: ranks, count: count) else {
            throw .invalidRing("\(ranks) replica(s) and \(count) gradient values (need ≥ 1 replica and ≥ 1 value per replica)")
        }
        guard (0..<ranks).contains(rank) else { throw .invalidRing("rank \(rank) is not in 0..<\(ranks)") }
        guard ranks == 1 || next != nil else { throw .invalidRing("rank \(rank) has no connection to rank \((rank + 1) % ranks)") }
        self.runID = runID
        self.generation = generation
        self.rank = rank
        self.schedule = schedule
        self.timeout = timeout
        self.source = source
        self.next = next
        self.sender = "\(runID)/student-\(rank)"
        self.clock = clock
        self.watch = watch
    }

    /// A ring over the same peers and generation for buffers of another length (e.g. the
    /// parameter-hash check beside the gradient ring). Use the two one after the other.
    public func sibling(count: Int) throws(RingError) -> RingAllReduce {
        try RingAllReduce(runID: runID, generation: generation, rank: rank, ranks: schedule.ranks, count: count,
                          source: source, next: next, timeout: timeout, clock: clock, watch: watch)
    }

    /// Replaces `buffer` (length `schedule.count`) by the sum over all replicas (a copy of
    /// the array goes through the pointer version below).
    public func allReduce(_ buffer: inout [Float], step: UInt64) async throws(RingError) {
        guard buffer.count == schedule.count else {
            throw .invalidRing("the buffer has \(buffer.count) values, the ring was formed for \(schedule.count)")
        }
        guard schedule.ranks > 1 else { return try aloneUnlessSuperseded() }
        let scratch = UnsafeMutableBufferPointer<Float>.allocate(capacity: buffer.count)
        defer { scratch.deallocate() }
        _ = scratch.initialize(from: buffer)
        try await allReduce(scratch, step: step)
        buffer.withUnsafeMutableBufferPointer { _ = $0.update(fromContentsOf: scratch) }
    }

    /// A ring of one sums nothing, but a replica left alone in an elastic ring still learns of
    /// a newer generation (a replica joins) at its next all-reduce.
    private func aloneUnlessSuperseded() throws(RingError) {
        if let watch, case let latest = watch.assigned(), latest > generation { throw .superseded(by: latest) }
    }

    /// Replaces the values at `values` (length `schedule.count`) by the sum over all replicas,
    /// in place: a replica passes its model's gradient arena, so the step copies nothing but
    /// what goes on the wire. `values` must stay valid and untouched by others until this returns.
    ///
    /// What a rank sends at every hop but the first is what it completed at the hop before: in
    /// reduce-scatter the chunk it just summed, in all-gather the chunk it just received. So the
    /// sum is written once into the buffer and, in the same pass, into the frame that goes out
    /// next, and a received all-gather chunk is forwarded as it arrived (zero-copy); only hop 0
    /// copies a chunk of the caller's buffer (which the caller may change once this returns,
    /// while libzmq may still be sending).
    public func allReduce(_ values: UnsafeMutableBufferPointer<Float>, step: UInt64) async throws(RingError) {
        guard values.count == schedule.count else {
            throw .invalidRing("the buffer has \(values.count) values, the ring was formed for \(schedule.count)")
        }
        guard schedule.ranks > 1 else { return try aloneUnlessSuperseded() }
        let buffer = values.baseAddress!
        if schedule.ranks == 2 { return try await exchange(buffer, step: step) }
        let first = schedule.chunk(schedule.reduceScatterSend(rank: rank, hop: 0))
        var outgoing = FloatChunk(UnsafeBufferPointer(rebasing: values[first])).frame
        for hop in 0..<schedule.hops {
            try await send(outgoing, chunk: schedule.reduceScatterSend(rank: rank, hop: hop), step: step, phase: .reduceScatter, hop: hop)
            let c = schedule.reduceScatterReceive(rank: rank, hop: hop)
            let frame = try await receive(chunk: c, step: step, phase: .reduceScatter, hop: hop)
            outgoing = add(frame, into: buffer, chunk: c)
        }
        for hop in 0..<schedule.hops {
            try await send(outgoing, chunk: schedule.allGatherSend(rank: rank, hop: hop), step: step, phase: .allGather, hop: hop)
            let c = schedule.allGatherReceive(rank: rank, hop: hop)
            let frame = try await receive(chunk: c, step: step, phase: .allGather, hop: hop)
            copy(frame, into: buffer, chunk: c)
            outgoing = frame
        }
    }

    /// Two replicas: each sends its whole buffer and adds the other's — one hop where the ring
    /// needs two (reduce-scatter, then all-gather), the same bytes, half the hand-offs on the
    /// latency-bound path. Both compute `mine + theirs`; IEEE addition commutes exactly, so the
    /// two results are bit-identical. One message, not pieces: sending 4 MiB as 4, 16 or 64
    /// pieces to overlap the adds with the transfer was slower (docs/BENCHMARKS.md).
    private func exchange(_ buffer: UnsafeMutablePointer<Float>, step: UInt64) async throws(RingError) {
        let count = schedule.count
        let mine = FloatChunk(UnsafeBufferPointer(start: buffer, count: count)).frame
        try await send(mine, chunk: 0, step: step, phase: .exchange, hop: 0)
        let theirs = try await receive(chunk: 0, step: step, phase: .exchange, hop: 0, values: count)
        theirs.withUnsafeBytes { src in RingKernels.add(UnsafeMutableRawPointer(buffer), src.baseAddress!, count: count) }
    }

    private func send(_ frame: Frame, chunk c: Int, step: UInt64, phase: RingPhase, hop: Int) async throws(RingError) {
        let body = GradientChunk(runID: runID, generation: generation, step: step, chunk: UInt32(c), phase: phase, hop: UInt32(hop))
        let message = Message(Envelope(sender: sender, tensors: [TensorMeta(name: "gradient", dtype: .f32, shape: [UInt64(frame.count / 4)])],
                                       body: .gradientChunk(body)), frames: [frame])
        do { try await next?.send(message) } catch { throw .transport("to replica \(schedule.next(of: rank)): \(error)") }
        bytesSent += frame.count
    }

    private func receive(chunk c: Int, step: UInt64, phase: RingPhase, hop: Int, values: Int? = nil) async throws(RingError) -> Frame {
        let expected = values ?? schedule.chunk(c).count
        let deadline = clock.deadline(after: timeout)
        var gap: String?
        while true {
            let got: (chunk: GradientChunk, frame: Frame)?
            if let held = watch?.take(generation: generation) {
                got = held
            } else if let watch {
                let latest = watch.assigned()
                if latest > generation { throw .superseded(by: latest) }
                do { got = try await source.nextChunk(timeout: deadline.slice(atMost: watch.poll)) } catch {
                    throw .transport("receiving: \(error)")
                }
                if got == nil && !deadline.hasPassed {
                    await watch.idle?()
                    continue
                }
            } else {
                do { got = try await deadline.wait({ try await source.nextChunk(timeout: $0) }) } catch {
                    throw .transport("receiving: \(error)")
                }
            }
            guard let (g, frame) = got else {
                if let gap { throw .unexpected("\(gap), then nothing it expected within \(timeout.shortDescription)") }
                throw .timedOut(rank: rank, previous: schedule.previous(of: rank), step: step, phase: phase, hop: hop, after: timeout)
            }
            if g.runID.isEmpty { continue }  // RingWatch.wakeUp: look at the assignment again
            switch RingMembership.classify(generation: g.generation, against: generation) {
            case .current: break
            case .stale: continue  // a chunk of an older ring: its sender has not heard of the change yet
            case .newer:
                guard let watch else {
                    throw .unexpected("replica \(rank) of ring generation \(generation) got a chunk of generation \(g.generation) "
                        + "(step \(g.step)): this replica is behind its ring and must wait for its new assignment")
                }
                watch.held.append((g, frame))  // for that ring, once this replica is assigned to it
                continue
            }
            guard g.generation == generation, g.step == step, g.phase == phase, g.hop == UInt32(hop), g.chunk == UInt32(c),
                  frame.count == expected * 4 else {
                let text = "replica \(rank) expected generation \(generation) step \(step) \(phase) hop \(hop) chunk \(c) "
                    + "(\(expected) values), got generation \(g.generation) step \(g.step) \(g.phase) hop \(g.hop) "
                    + "chunk \(g.chunk) (\(frame.count / 4) values)"
                // Elastic: a chunk lost on a dropped connection leaves a gap; this ring cannot finish,
                // and the coordinator renews a ring that stalls. Wait for that, bounded by the timeout.
                guard watch == nil else {
                    gap = text
                    continue
                }
                throw .unexpected(text)
            }
            return frame
        }
    }

    /// buffer[chunk] += frame (little-endian f32, possibly unaligned), the sum also written to
    /// a new frame: the one sent at the next hop. One pass, SIMD16.
    private func add(_ frame: Frame, into buffer: UnsafeMutablePointer<Float>, chunk c: Int) -> Frame {
        let range = schedule.chunk(c)
        let out = FloatChunk(count: range.count)
        frame.withUnsafeBytes { src in
            RingKernels.add(UnsafeMutableRawPointer(buffer + range.lowerBound), src.baseAddress!,
                            alsoTo: UnsafeMutableRawPointer(out.base), count: range.count)
        }
        return out.frame
    }

    private func copy(_ frame: Frame, into buffer: UnsafeMutablePointer<Float>, chunk c: Int) {
        let range = schedule.chunk(c)
        frame.withUnsafeBytes { src in
            UnsafeMutableRawPointer(buffer + range.lowerBound).copyMemory(from: src.baseAddress!, byteCount: range.count * 4)
        }
    }
}

enum RingKernels {
    /// `a[i] += b[i]` for `count` f32 values, the sums also written to `out[i]` when given;
    /// any alignment of `b`.
    static func add(_ a: UnsafeMutableRawPointer, _ b: UnsafeRawPointer, alsoTo out: UnsafeMutableRawPointer? = nil, count: Int) {
        typealias V = SIMD16<Float>
        let width = V.scalarCount, stride = MemoryLayout<V>.size
        var i = 0, offset = 0
        while i + width <= count {
            let sum = a.loadUnaligned(fromByteOffset: offset, as: V.self) + b.loadUnaligned(fromByteOffset: offset, as: V.self)
            a.storeBytes(of: sum, toByteOffset: offset, as: V.self)
            out?.storeBytes(of: sum, toByteOffset: offset, as: V.self)
            i += width
            offset += stride
        }
        while i < count {
            let sum = a.loadUnaligned(fromByteOffset: i * 4, as: Float.self) + b.loadUnaligned(fromByteOffset: i * 4, as: Float.self)
            a.storeBytes(of: sum, toByteOffset: i * 4, as: Float.self)
            out?.storeBytes(of: sum, toByteOffset: i * 4, as: Float.self)
            i += 1
        }
    }
}

/// A copy of part of a gradient at a stable address, owned by the frame that sends it.
final class FloatChunk: FrameOwner, @unchecked Sendable {
    let base: UnsafeMutablePointer<Float>
    let count: Int

    /// Room for `count` values (uninitialised: Float is trivial), every one to be written
    /// before the chunk is sent.
    init(count: Int) {
        self.count = count
        base = .allocate(capacity: max(1, count))
    }

    init(_ values: UnsafeBufferPointer<Float>) {
        count = values.count
        base = .allocate(capacity: max(1, values.count))
        base.initialize(from: values.baseAddress!, count: values.count)
    }

    /// A frame of these values (the frame keeps this chunk alive).
    var frame: Frame { Frame(owner: self, base: UnsafeRawPointer(base), count: count * 4) }

    deinit { base.deallocate() }
}
