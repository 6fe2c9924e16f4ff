import Clocks
import ClusterCore
import ClusterRuntime
import DataPlane
import Foundation
import NN
import Testing
import Wire

/// A whole distillation run — coordinator, 2 teacher workers, 2 student replicas over the
/// in-memory transport — on one `ManualClock`, twice: both runs complete with the same event
/// log (kind, message, time) and bit-identical students.
///
/// The driver moves the clock at fixed points only: 100 ms whenever the run's phase changes.
/// Events are stamped by the coordinator inside the test's own `pumpOnce`, so every event of
/// a phase carries that phase's time, whatever the real threads' speed. Nothing else moves the
/// clock, so no timeout, heartbeat or window retry fires: the run advances on messages alone.
/// Events of one phase may be logged in another order (two teachers finish in either order),
/// so the logs are compared sorted by (time, kind, message).
@Suite struct ManualClockRunTests {
    struct Outcome {
        var phase: RunPhase?
        var phases: [RunPhase] = []
        var events: [String] = []
        var student: [Float] = []
    }

    static let spec = """
        name: manual-clock
        dataset: { name: fashion-mnist, path: DATA, validation: 100 }
        teachers:
          - model: mlp:784-16-10
            count: 2
            train: { epochs: 1, batch: 50, seed: 1 }
        student: { model: mlp:784-8-10 }
        training: { epochs: 2, batch: 50 }
        replicas: 2
        """

    /// `message` without what differs between two clusters by design: the temporary state
    /// directory and the CLI client's random name.
    static func withoutNames(_ message: String, stateDir: String) -> String {
        message.replacingOccurrences(of: stateDir, with: "<state>")
            .replacingOccurrences(of: #"cli-[0-9]+-[0-9]+"#, with: "<cli>", options: .regularExpression)
    }

    func runOnce() async throws -> Outcome {
        let cluster = try await EmbeddedCluster()
        let data = cluster.stateDir + "/data"
        try SyntheticFashion.write(to: data, train: 400, test: 100)
        try await cluster.addWorker("t1", roles: [.teacher])
        try await cluster.addWorker("t2", roles: [.teacher])
        try await cluster.addWorker("s1", roles: [.student])
        try await cluster.addWorker("s2", roles: [.student])
        await cluster.pump()
        cluster.clock.advance(by: .milliseconds(100))
        let yaml = Self.spec.replacingOccurrences(of: "DATA", with: data)
        guard case .submitRunReply(let reply) = try await cluster.request(.submitRun(SubmitRun(specYaml: yaml, fileName: "m.yaml"))),
              reply.accepted else { throw TestFailure("the run was not accepted") }
        var outcome = Outcome()
        var phase = await cluster.phase(of: reply.runID)
        // A real-time guard: a run that hangs fails the test instead of hanging it.
        let guardTime = SystemRuntimeClock().deadline(after: .seconds(60))
        while phase?.isTerminal != true {
            if guardTime.hasPassed {
                Issue.record("the run did not end within 60 s of real time; phase \(phase.map { "\($0)" } ?? "none")")
                break
            }
            await cluster.pumpOnce()
            let now = await cluster.phase(of: reply.runID)
            if now != phase {
                phase = now
                if let now { outcome.phases.append(now) }
                cluster.clock.advance(by: .milliseconds(100))
            }
        }
        outcome.phase = phase
        outcome.events = try (cluster.store.events(runID: nil, limit: 1000) + cluster.store.events(runID: reply.runID, limit: 1000))
            .map { "\($0.atMs) \($0.kind) \(Self.withoutNames($0.message, stateDir: cluster.stateDir))" }
            // The run id's random part differs, and a checkpoint's metadata names its run: its
            // hash differs too (the parameters are compared bit for bit below).
            .map { $0.replacingOccurrences(of: reply.runID, with: "RUN")
                .replacingOccurrences(of: #"\.safetensors \((\d+) bytes, sha256 [0-9a-f]+\)"#, with: ".safetensors ($1 bytes)",
                                      options: .regularExpression) }
            .sorted()
        let studentFile = "\(cluster.stateDir)/artifacts/\(reply.runID)/student.safetensors"
        let model = try ModelCheckpoint.read(from: studentFile).model
        outcome.student = Array(UnsafeBufferPointer(start: model.parameters.pointer, count: model.parameterCount))
        return outcome
    }

    @Test(.timeLimit(.minutes(2)))
    func aWholeRunOnTheManualClockIsDeterministic() async throws {
        let first = try await runOnce()
        let second = try await runOnce()
        #expect(first.phase == .completed && second.phase == .completed, "\(first.phases) / \(second.phases)")
        #expect(first.phases == second.phases)
        #expect(first.events.count > 10, "\(first.events)")
        #expect(first.events == second.events, "first:\n\(first.events.joined(separator: "\n"))\nsecond:\n\(second.events.joined(separator: "\n"))")
        // Time moved only at the driver's fixed points: registration at the start, then 100 ms
        // before the submission and at every phase change.
        let times = Set(first.events.compactMap { Int64($0.split(separator: " ")[0]) })
        let start: Int64 = 1_764_547_200_000 + 1_000
        #expect(times == Set((0...first.phases.count).map { start + 100 * Int64($0) }), "\(times.sorted())")
        #expect(!first.student.isEmpty)
        #expect(first.student.map(\.bitPattern) == second.student.map(\.bitPattern), "the students are bit-identical")
    }
}
