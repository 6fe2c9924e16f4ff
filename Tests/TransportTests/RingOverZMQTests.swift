import ClusterRuntime
import DataPlane
import Testing
import Transport
import TransportZMQ
import Wire

/// The ring all-reduce over real ZeroMQ sockets on loopback.
@Suite struct RingOverZMQTests {
    @Test func threeReplicasOverLoopbackSumAMillionFloats() async throws {
        let ranks = 3, count = 1_000_003
        var transports: [ZMQTransport] = []
        var listeners: [any Listener] = []
        for r in 0..<ranks {
            let t = try ZMQTransport(name: "replica-\(r)")
            transports.append(t)
            listeners.append(try await t.listen(at: "tcp://127.0.0.1:*"))
        }
        var rings: [RingAllReduce] = []
        for r in 0..<ranks {
            let next = try await transports[r].connect(to: listeners[(r + 1) % ranks].address)
            rings.append(try RingAllReduce(runID: "run-z", generation: 1, rank: r, ranks: ranks, count: count,
                                           source: ListenerGradientSource(listener: listeners[r], runID: "run-z"), next: next))
        }
        let holder = Rings(rings: rings)
        let outputs = try await withThrowingTaskGroup(of: (Int, [Float]).self) { group in
            for r in 0..<ranks {
                group.addTask {
                    var buffer = (0..<count).map { Float(($0 % 1000) * (r + 1)) / 1000 }
                    try await holder.rings[r].allReduce(&buffer, step: 7)
                    return (r, buffer)
                }
            }
            var out = [[Float]](repeating: [], count: ranks)
            for try await (r, b) in group { out[r] = b }
            return out
        }
        #expect(outputs[1] == outputs[0] && outputs[2] == outputs[0])
        for i in [0, 1, 999, 500_000, count - 1] {
            #expect(abs(outputs[0][i] - Float(i % 1000) * 6 / 1000) < 1e-4)
        }
        for t in transports { await t.shutdown() }
    }
}

private struct Rings: @unchecked Sendable { let rings: [RingAllReduce] }
