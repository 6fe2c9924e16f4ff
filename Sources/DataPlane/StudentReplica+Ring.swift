import ClusterCore
import NN
import Transport
import Wire

/// A replica's ring as the coordinator assigned it last (`StudentTask`'s ring fields).
public struct RingAssignment: Sendable, Equatable {
    public var generation: UInt64
    public var rank: Int
    public var ranks: Int
    /// The data endpoints of ranks 0 ..< ranks, in ring order.
    public var endpoints: [String]

    public init(generation: UInt64, rank: Int, ranks: Int, endpoints: [String]) {
        self.generation = generation
        self.rank = rank
        self.ranks = ranks
        self.endpoints = endpoints
    }
}

/// How an elastic replica follows its ring: `latest()` is the newest assignment (the worker
/// updates it when the coordinator repeats the task with a new generation), `connect` reaches
/// a peer's data endpoint.
public struct ElasticRing: Sendable {
    public var latest: @Sendable () -> RingAssignment?
    public var connect: @Sendable (String) async throws -> any Connection
    /// The teachers' data endpoints as last assigned, by index ("" while a lost teacher is being
    /// placed again; empty: never changes). A replica waiting for logits follows them.
    public var teachers: @Sendable () -> [String]

    public init(latest: @escaping @Sendable () -> RingAssignment?, connect: @escaping @Sendable (String) async throws -> any Connection,
                teachers: @escaping @Sendable () -> [String] = { [] }) {
        self.latest = latest
        self.connect = connect
        self.teachers = teachers
    }

    /// The watch a ring of this replica waits with: it reads the newest assigned generation.
    public func watch() -> RingWatch {
        let latest = self.latest
        return RingWatch { latest()?.generation ?? 0 }
    }
}

/// What a step changes before its all-reduce: the random layers' stream positions and the
/// running statistics its forward updated. A step abandoned for a new ring is undone with it,
/// so that the step can run again on the new ring's micro-batch.
struct InFlight {
    let streams: [UInt64]
    let state: [Float]

    init(_ model: Sequential) {
        streams = model.randomStreams
        state = model.state.count == 0 ? [] : Array(UnsafeBufferPointer(start: model.state.pointer, count: model.state.count))
    }

    func restore(_ model: Sequential) {
        model.randomStreams = streams
        if !state.isEmpty { model.state.pointer.update(from: state, count: state.count) }
    }
}

extension StudentReplica {
    /// Moves to the newest assigned ring and makes every replica of it hold the same state
    /// (``agree()``). The step in flight is then run again on the new ring's split of the
    /// global batch: nothing before it is re-done.
    func resynchronise() async throws(DataPlaneError) {
        guard let elastic, let assignment = elastic.latest(), assignment.generation > ring.generation else {
            throw .ring(.unexpected("replica \(rank) was told of a new ring it has no assignment for"))
        }
        try await adopt(assignment, elastic)
        try await agree()
    }

    /// ``resynchronise()`` again as long as rings are replaced while their replicas agree.
    func resynchroniseUntilSettled() async throws(DataPlaneError) {
        while true {
            do throws(DataPlaneError) {
                try await resynchronise()
                return
            } catch {
                guard case .ring(.superseded) = error else { throw error }
            }
        }
    }

    /// A replica that starts in a ring already training (it was assigned in generation > 1,
    /// docs/PROTOCOL.md "Elastic rings"): it takes the ring's state and soft-label cache
    /// before its first step, then trains from the step the ring stands at.
    func joinRing() async throws(DataPlaneError) {
        do throws(DataPlaneError) {
            try await agree()
        } catch {
            guard case .ring(.superseded) = error else { throw error }
            try await resynchroniseUntilSettled()
        }
        generations[generations.count - 1].fromStep = trainer.globalStep
    }

    /// Makes every replica of the current ring hold the same state:
    ///
    /// 1. *Positions* (step 2⁶¹): an all-reduce of each rank's (completed steps, hash of its
    ///    whole state, hash of its soft-label cache) as exact 22-bit pieces. The replicas of
    ///    a ring that lost a member stand at most one step apart: one that finished step s
    ///    received every chunk of s, so every replica had contributed to s, i.e. finished
    ///    s − 1. A replica that joins stands at step 0 with an empty cache.
    /// 2. *State* (step 2⁶¹ + 1), only if the steps or state hashes differ: the lowest rank
    ///    among those furthest ahead is the *source*; an all-reduce in which it contributes
    ///    its state (parameters, running statistics, optimizer state, step counts, random
    ///    streams) and the others zeros gives every replica the source's values exactly
    ///    (x + 0 = x), and every replica, the source included, loads the sum.
    /// 3. *Cache* (step 2⁶¹ + 2), only if the cache hashes differ: the same with the source's
    ///    packed soft-label cache (`SoftLabelCache.packed`), which a replica loads only if it
    ///    holds more samples than its own (caches fill in epoch 0's step order, so it then holds
    ///    all of them: a joiner's is empty; in epoch 0 a replica may have taken the logits of
    ///    the step in flight before the source did, and keeps its own).
    ///
    /// No training step reaches these step tags; the ring's generation keeps them apart from
    /// the rounds of earlier rings.
    func agree() async throws(DataPlaneError) {
        let mine = packState()
        let cached = cache?.packed ?? []
        var positions = ParameterHashes.encode(UInt64(trainer.globalStep), rank: rank, ranks: ranks)
            + ParameterHashes.encode(Self.hash(mine), rank: rank, ranks: ranks)
            + ParameterHashes.encode(Self.hash(cached), rank: rank, ranks: ranks)
        try await allReduce(&positions, step: 1 << 61)
        let piece = 3 * ranks
        let steps = ParameterHashes.decode(Array(positions[0 ..< piece]))
        let hashes = ParameterHashes.decode(Array(positions[piece ..< 2 * piece]))
        let cacheHashes = ParameterHashes.decode(Array(positions[(2 * piece)...]))
        let source = steps.firstIndex(of: steps.max()!)!
        if Set(steps).count > 1 || Set(hashes).count > 1 {
            var values = rank == source ? mine : [Float](repeating: 0, count: mine.count)
            try await allReduce(&values, step: (1 << 61) + 1)
            loadState(values)
            // Hash-verified: what arrived is what the source announced in the positions round.
            guard Self.hash(packState()) == hashes[source] else {
                throw .ring(.unexpected("replica \(rank) took rank \(source)'s state in ring generation \(ring.generation), but "
                    + "its hash differs from the one rank \(source) announced: the transfer was corrupted"))
            }
            transfers += 1
        }
        if Set(cacheHashes).count > 1, cache != nil {
            var values = rank == source ? cached : [Float](repeating: 0, count: cached.count)
            try await allReduce(&values, step: (1 << 61) + 2)
            // Caches fill in the order of epoch 0's steps, so the one with more samples holds all
            // of the other's: a replica keeps its own when it has more (it took the logits of the
            // step in flight, which the source had not yet).
            if values.prefix(cache!.count).reduce(0, +) > Float(cache!.filled) {
                cache!.load(packed: values)
                guard Self.hash(cache!.packed) == cacheHashes[source] else {
                    throw .ring(.unexpected("replica \(rank) took rank \(source)'s soft-label cache in ring generation "
                        + "\(ring.generation), but its hash differs from the one rank \(source) announced: the transfer was corrupted"))
                }
                cacheTransfers += 1
            }
        }
    }

    /// One all-reduce of `values` on a sibling of the current ring (the resynchronisation rounds).
    private func allReduce(_ values: inout [Float], step: UInt64) async throws(DataPlaneError) {
        do throws(RingError) {
            try await ring.sibling(count: values.count).allReduce(&values, step: step)
        } catch {
            throw .ring(error)
        }
    }

    /// Builds this replica's ring of `assignment` (same gradient source, the next rank's
    /// connection) and forgets the old ring's siblings.
    private func adopt(_ assignment: RingAssignment, _ elastic: ElasticRing) async throws(DataPlaneError) {
        let r = assignment.rank, n = assignment.ranks
        guard n >= 1, (0..<n).contains(r), assignment.endpoints.count == n else {
            throw .ring(.invalidRing("the assignment of ring generation \(assignment.generation) puts replica \(slot) at rank \(r) "
                + "of \(n) with \(assignment.endpoints.count) endpoints"))
        }
        var next: (any Connection)?
        if n > 1 {
            do { next = try await elastic.connect(assignment.endpoints[(r + 1) % n]) } catch {
                throw .transport("replica \(slot) cannot reach rank \((r + 1) % n) of ring generation \(assignment.generation): \(error)")
            }
        }
        do throws(RingError) {
            ring = try RingAllReduce(runID: runID, generation: assignment.generation, rank: r, ranks: n, count: ring.schedule.count,
                                     source: ring.source, next: next, timeout: ring.timeout, clock: ring.clock, watch: ring.watch)
        } catch {
            throw .ring(error)
        }
        rank = r
        hashRing = nil
        stateRing = nil
        generations.append((assignment.generation, n, trainer.globalStep))
    }

    /// The replica's whole state (``Trainer/packState()``).
    func packState() -> [Float] { trainer.packState() }

    /// The inverse of `packState`.
    func loadState(_ values: [Float]) { trainer.loadState(values) }

    /// FNV-1a over the values' bits, −0 counted as +0 (a copy through the ring turns −0 into
    /// +0: x + 0): replicas holding the same state agree on it, and a copy is checked by it.
    static func hash(_ values: [Float]) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for v in values { h = (h ^ UInt64(v == 0 ? 0 : v.bitPattern)) &* 0x0000_0100_0000_01B3 }
        return h
    }
}
