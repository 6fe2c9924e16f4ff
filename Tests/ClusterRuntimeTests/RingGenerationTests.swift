import ClusterCore
import DataPlane
import Foundation
import Synchronization
import Testing
import Transport
import Wire

/// A replica checks every gradient chunk's ring generation (`RingMembership.classify`): a chunk
/// of an older ring is dropped, one of a newer ring is refused as "this replica is behind".
@Suite struct RingGenerationTests {
    /// Chunks handed out in the order given, then nothing.
    final class ScriptedChunks: GradientSource, @unchecked Sendable {
        private let queue: Mutex<[(GradientChunk, [Float])]>
        init(_ chunks: [(GradientChunk, [Float])]) { queue = Mutex(chunks) }
        func nextChunk(timeout: Duration) async throws -> (chunk: GradientChunk, frame: Frame)? {
            guard let (chunk, values) = queue.withLock({ $0.isEmpty ? nil : $0.removeFirst() }) else { return nil }
            let bytes = values.flatMap { v in withUnsafeBytes(of: v.bitPattern.littleEndian, Array.init) }
            return (chunk, Frame(bytes: bytes))
        }
    }

    /// Rank 0 of a two-replica ring in `generation`, its sends going to a listener nobody reads.
    static func ring(generation: UInt64, chunks: [(GradientChunk, [Float])]) async throws -> RingAllReduce {
        let network = InMemoryNetwork()
        let sink = try await network.transport(name: "r1").listen(at: "mem://r1")
        let next = try await network.transport(name: "r0").connect(to: sink.address)
        return try RingAllReduce(runID: "run", generation: generation, rank: 0, ranks: 2, count: 4,
                                 source: ScriptedChunks(chunks), next: next, timeout: .seconds(2))
    }

    static func chunk(generation: UInt64, step: UInt64) -> GradientChunk {
        GradientChunk(runID: "run", generation: generation, step: step, chunk: 0, phase: .exchange, hop: 0)
    }

    @Test func aChunkOfAnOlderRingIsDroppedAndTheCurrentOneSummed() async throws {
        let ring = try await Self.ring(generation: 2, chunks: [
            (Self.chunk(generation: 1, step: 7), [100, 100, 100, 100]),  // stale: must not be added
            (Self.chunk(generation: 2, step: 7), [1, 2, 3, 4]),
        ])
        var buffer: [Float] = [10, 20, 30, 40]
        try await ring.allReduce(&buffer, step: 7)
        #expect(buffer == [11, 22, 33, 44])
    }

    @Test func aChunkOfANewerRingSaysThisReplicaIsBehind() async throws {
        let ring = try await Self.ring(generation: 2, chunks: [(Self.chunk(generation: 3, step: 7), [1, 2, 3, 4])])
        var buffer: [Float] = [10, 20, 30, 40]
        do {
            try await ring.allReduce(&buffer, step: 7)
            Issue.record("a chunk of generation 3 was accepted by a replica of generation 2")
        } catch {
            guard case .unexpected(let text) = error else { Issue.record("\(error)"); return }
            #expect(text.contains("generation 3") && text.contains("behind"), "\(text)")
        }
    }
}
