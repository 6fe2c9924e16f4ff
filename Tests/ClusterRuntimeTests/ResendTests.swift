import ClusterCore
import ClusterRuntime
import Foundation
import Synchronization
import Testing
import Transport
import Wire

/// A worker whose connection is replaced (its ZMTP heartbeat timed out while the coordinator
/// was paused) loses what the coordinator sent it meanwhile. The coordinator sends an offer or
/// an assignment again while it goes unanswered, so the run does not fail at its deadline.
@Suite struct ResendTests {
    /// Loses the first message of each selected kind that the coordinator sends.
    final class LoseFirst: Sendable {
        let lost = Mutex<Set<String>>([])
        let kinds: Set<String>

        init(_ kinds: Set<String>) { self.kinds = kinds }

        var predicate: @Sendable (Message) -> Bool {
            { [self] message in
                let kind = message.envelope.body.name
                guard kinds.contains(kind) else { return false }
                return lost.withLock { $0.insert(kind).inserted }
            }
        }
    }

    @Test(arguments: [["ShardOffer"], ["AssignTask"]])
    func aLostOfferOrAssignmentIsSentAgainAndTheRunCompletes(kinds: [String]) async throws {
        let cluster = try await EmbeddedCluster()
        let data = cluster.stateDir + "/data"
        try SyntheticFashion.write(to: data, train: 300, test: 100)
        try await cluster.addWorker("t1", roles: [.teacher])
        try await cluster.addWorker("s1", roles: [.student])
        await cluster.pump()
        let lose = LoseFirst(Set(kinds))
        cluster.network.hold(from: "coordinator", where: lose.predicate)  // never released: lost
        let spec = """
            name: resend
            dataset: { name: fashion-mnist, path: \(data), validation: 50 }
            teachers: [{ model: "mlp:784-8-10", train: { epochs: 1, batch: 50 } }]
            student: { model: "mlp:784-4-10" }
            training: { epochs: 1, batch: 50 }
            """
        guard case .submitRunReply(let reply) = try await cluster.request(.submitRun(SubmitRun(specYaml: spec, fileName: "r.yaml"))),
              reply.accepted else { throw TestFailure("the run was not accepted") }
        await cluster.pump(until: {
            if !lose.lost.withLock({ $0 }).isEmpty { return true }
            return await cluster.phase(of: reply.runID)?.isTerminal == true
        })
        #expect(lose.lost.withLock { $0 } == Set(kinds), "the first \(kinds) was lost")
        // Past the resend interval (3 s), well before the deadlines (acceptance 10 s, shard stall 30 s).
        await cluster.advance(.seconds(4))
        await cluster.pump(until: { await cluster.phase(of: reply.runID)?.isTerminal == true }, timeout: .seconds(60))
        let record = try cluster.store.run(id: reply.runID)
        #expect(await cluster.phase(of: reply.runID) == .completed, "\(record?.reason ?? "")")
    }
}
