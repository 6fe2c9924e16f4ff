import ClusterCore
import ClusterRuntime
import DataPlane
import Foundation
import Testing
import Transport
import Wire

/// Ring all-reduce over a transport: every replica ends with the same bits, equal to the sum.
@Suite struct RingAllReduceTests {
    static func inputs(ranks: Int, count: Int, seed: UInt64) -> [[Float]] {
        var state = seed
        return (0..<ranks).map { _ in
            (0..<count).map { _ in
                state = state &* 6364136223846793005 &+ 1442695040888963407
                return Float(Int64(bitPattern: state >> 11) % 20_000 - 10_000) / 7919
            }
        }
    }

    /// Forms a ring of `ranks` replicas on `transports` (listener i at `addresses[i]`) and runs
    /// `steps` all-reduces concurrently; returns every replica's buffer after each step.
    static func run(ranks: Int, count: Int, steps: Int, listen: (Int) async throws -> any Listener,
                    connect: (Int, String) async throws -> any Connection,
                    timeout: Duration = .seconds(10)) async throws -> [[[Float]]] {
        var listeners: [any Listener] = []
        for r in 0..<ranks { listeners.append(try await listen(r)) }
        var rings: [RingAllReduce] = []
        for r in 0..<ranks {
            let next = ranks > 1 ? try await connect(r, listeners[(r + 1) % ranks].address) : nil
            rings.append(try RingAllReduce(runID: "run-1", generation: 1, rank: r, ranks: ranks, count: count,
                                           source: ListenerGradientSource(listener: listeners[r], runID: "run-1"),
                                           next: next, timeout: timeout))
        }
        let sendable = UncheckedRings(rings: rings)
        var results = [[[Float]]](repeating: [], count: steps)
        for step in 0..<steps {
            let inputs = Self.inputs(ranks: ranks, count: count, seed: UInt64(step + 1))
            let outputs = try await withThrowingTaskGroup(of: (Int, [Float]).self) { group in
                for r in 0..<ranks {
                    group.addTask {
                        var buffer = inputs[r]
                        try await sendable.rings[r].allReduce(&buffer, step: UInt64(step))
                        return (r, buffer)
                    }
                }
                var out = [[Float]](repeating: [], count: ranks)
                for try await (r, buffer) in group { out[r] = buffer }
                return out
            }
            results[step] = outputs
            for r in 0..<ranks {
                for i in stride(from: 0, to: count, by: max(1, count / 97)) {
                    let exact = inputs.reduce(0.0) { $0 + Double($1[i]) }
                    #expect(abs(Double(outputs[r][i]) - exact) <= 1e-4 * (1 + abs(exact)), "rank \(r) [\(i)]")
                }
            }
        }
        for l in listeners { await l.close() }
        return results
    }

    @Test(arguments: [1, 2, 3, 4])
    func inMemoryEveryReplicaEndsBitIdentical(ranks: Int) async throws {
        let network = InMemoryNetwork()
        let results = try await Self.run(ranks: ranks, count: 10_007, steps: 3,
                                         listen: { r in try await network.transport(name: "r\(r)").listen(at: "mem://r\(r)") },
                                         connect: { r, address in try await network.transport(name: "c\(r)").connect(to: address) })
        for step in results { for r in 1..<ranks { #expect(step[r] == step[0]) } }
    }

    @Test func aSilentReplicaMakesTheOthersFailWithinTheTimeoutNamingIt() async throws {
        let network = InMemoryNetwork()
        var listeners: [any Listener] = []
        for r in 0..<3 { listeners.append(try await network.transport(name: "r\(r)").listen(at: "mem://s\(r)")) }
        var rings: [RingAllReduce] = []
        for r in 0..<3 {
            let next = try await network.transport(name: "c\(r)").connect(to: listeners[(r + 1) % 3].address)
            rings.append(try RingAllReduce(runID: "run-1", generation: 1, rank: r, ranks: 3, count: 300,
                                           source: ListenerGradientSource(listener: listeners[r], runID: "run-1"),
                                           next: next, timeout: .milliseconds(300)))
        }
        let holder = UncheckedRings(rings: rings)
        let started = ContinuousClock.now
        // Replica 1 never takes part: replica 2 waits for it, replica 0 for replica 2.
        let errors = await withTaskGroup(of: (Int, RingError?).self) { group in
            for r in [0, 2] {
                group.addTask {
                    var buffer = [Float](repeating: 1, count: 300)
                    do throws(RingError) { try await holder.rings[r].allReduce(&buffer, step: 0) } catch { return (r, error) }
                    return (r, nil)
                }
            }
            var out: [Int: RingError] = [:]
            for await (r, e) in group { out[r] = e }
            return out
        }
        #expect(ContinuousClock.now - started < .seconds(20), "bounded by the timeout, not a hang")
        guard case .timedOut(rank: 2, previous: 1, step: 0, phase: .reduceScatter, hop: 0, _)? = errors[2] else {
            Issue.record("replica 2: \(String(describing: errors[2]))")
            return
        }
        #expect("\(errors[2]!)".contains("from replica 1"))
        guard case .timedOut(rank: 0, previous: 2, _, _, _, _)? = errors[0] else {
            Issue.record("replica 0: \(String(describing: errors[0]))")
            return
        }
        for l in listeners { await l.close() }
    }

    @Test func aRingNeedsAValuePerReplica() {
        #expect(throws: RingError.self) {
            _ = try RingAllReduce(runID: "r", generation: 1, rank: 0, ranks: 4, count: 3,
                                  source: NoChunks(), next: nil)
        }
    }
}

struct UncheckedRings: @unchecked Sendable { let rings: [RingAllReduce] }

struct NoChunks: GradientSource {
    func nextChunk(timeout: Duration) async throws -> (chunk: GradientChunk, frame: Frame)? { nil }
}
