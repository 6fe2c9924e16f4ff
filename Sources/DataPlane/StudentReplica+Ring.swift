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

    public init(latest: @escaping @Sendable () -> RingAssignment?, connect: @escaping @Sendable (String) async throws -> any Connection) {
        self.latest = latest
        self.connect = connect
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
    /// (docs/PROTOCOL.md "Elastic rings"):
    ///
    /// 1. *Positions*: an all-reduce of each rank's (completed steps, hash of its whole state)
    ///    as exact 22-bit pieces. The replicas of a ring that lost a member stand at most one
    ///    step apart: one that finished step s received every chunk of s, so every replica
    ///    had contributed to s, i.e. finished s − 1.
    /// 2. If they all stand at the same step with the same state, nothing moves. Otherwise
    ///    the lowest rank among those furthest ahead is the *source*: an all-reduce in which it
    ///    contributes its state (parameters, running statistics, optimizer state, step counts,
    ///    random streams) and the others zeros gives every replica the source's values
    ///    exactly (x + 0 = x), and every replica, the source included, loads the sum.
    ///
    /// The step in flight is then run again on the new ring's split of the global batch:
    /// nothing before it is re-done. Rounds are tagged with steps 2⁶¹ and 2⁶¹ + 1, which no
    /// training step reaches; the new generation keeps them apart from earlier rounds.
    func resynchronise() async throws(DataPlaneError) {
        guard let elastic, let assignment = elastic.latest(), assignment.generation > ring.generation else {
            throw .ring(.unexpected("replica \(rank) was told of a new ring it has no assignment for"))
        }
        try await adopt(assignment, elastic)
        let mine = packState()
        var positions = ParameterHashes.encode(UInt64(trainer.globalStep), rank: rank, ranks: ranks)
            + ParameterHashes.encode(Self.hash(mine), rank: rank, ranks: ranks)
        do throws(RingError) {
            try await ring.sibling(count: positions.count).allReduce(&positions, step: 1 << 61)
        } catch {
            throw .ring(error)
        }
        let steps = ParameterHashes.decode(Array(positions[0 ..< 3 * ranks]))
        let hashes = ParameterHashes.decode(Array(positions[(3 * ranks)...]))
        let furthest = steps.max()!
        guard Set(steps).count > 1 || Set(hashes).count > 1 else { return }
        let source = steps.firstIndex(of: furthest)!
        var values = rank == source ? mine : [Float](repeating: 0, count: mine.count)
        do throws(RingError) {
            try await ring.sibling(count: values.count).allReduce(&values, step: (1 << 61) + 1)
        } catch {
            throw .ring(error)
        }
        loadState(values)
        transfers += 1
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

    /// Parameters, running statistics, optimizer state tensors, then the integers (global step,
    /// optimizer steps, each random stream) as three exact 22-bit pieces each.
    func packState() -> [Float] {
        let model = trainer.model
        var out = Array(UnsafeBufferPointer(start: model.parameters.pointer, count: model.parameterCount))
        out += UnsafeBufferPointer(start: model.state.pointer, count: model.state.count)
        for (_, storage) in trainer.optimizer.stateTensors { out += UnsafeBufferPointer(start: storage.pointer, count: storage.count) }
        for value in [UInt64(trainer.globalStep), UInt64(trainer.optimizer.stepCount)] + model.randomStreams {
            out += ParameterHashes.encode(value, rank: 0, ranks: 1)
        }
        return out
    }

    /// The inverse of `packState`.
    func loadState(_ values: [Float]) {
        let model = trainer.model
        var at = 0
        values.withUnsafeBufferPointer { v in
            func take(_ into: UnsafeMutablePointer<Float>, _ count: Int) {
                into.update(from: v.baseAddress! + at, count: count)
                at += count
            }
            take(model.parameters.pointer, model.parameterCount)
            take(model.state.pointer, model.state.count)
            for (_, storage) in trainer.optimizer.stateTensors { take(storage.pointer, storage.count) }
        }
        var integers: [UInt64] = []
        while at + 3 <= values.count {
            integers += ParameterHashes.decode(Array(values[at ..< at + 3]))
            at += 3
        }
        trainer.restore(globalStep: Int(integers[0]))
        trainer.optimizer.restore(stepCount: Int(integers[1]))
        model.randomStreams = Array(integers.dropFirst(2))
    }

    /// FNV-1a over the values' bits: replicas holding the same state agree on it.
    static func hash(_ values: [Float]) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for v in values { h = (h ^ UInt64(v.bitPattern)) &* 0x0000_0100_0000_01B3 }
        return h
    }
}
