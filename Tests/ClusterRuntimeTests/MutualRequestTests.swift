import DataPlane
import Datasets
import Distillation
import Synchronization
import Testing
import Training
import Transport
import Wire

/// One online teacher with a mutual term, its peer played by the test (docs/PROTOCOL.md
/// "Logits", mutual term): it answers a request (the peer's logits of a step it has already
/// trained) with its own logits of that step, `resent`; it never answers resent logits; it
/// sends its own logits of a step again while it waits for the peer's; and a request for a
/// step it no longer keeps (before the previous epoch) fails it, saying why.
@Suite struct MutualRequestTests {
    @Test func aTeacherAnswersRequestsForKeptStepsOnlyAndSendsItsOwnAgainWhileItWaits() async throws {
        let train = DataPlaneTests.data(count: 60)
        // 3 steps an epoch, 3 epochs: in epoch 2 the teacher keeps steps 3–8.
        let plan = StepPlan(sampleCount: 60, batchSize: 20, seed: 3, epochs: 3, replicas: 1, window: 50,
                            streaming: .everyEpochWholeBatch)
        let network = InMemoryNetwork()
        let teacherInbox = DataInbox(listener: try await network.transport(name: "t0").listen(at: "mem://teacher-0"))
        let peerInbox = DataInbox(listener: try await network.transport(name: "t1").listen(at: "mem://teacher-1"))
        let replicaInbox = DataInbox(listener: try await network.transport(name: "r0").listen(at: "mem://replica-0"))
        let pumps = [teacherInbox, peerInbox, replicaInbox].map { inbox in Task { await inbox.run() } }
        defer { pumps.forEach { $0.cancel() } }
        let model = try DataPlaneTests.teacher(1)
        var mutual = TeacherStreamer.Mutual(
            weight: 0.5, temperature: 2,
            peers: [1: try await network.transport(name: "t0").connect(to: "mem://teacher-1")],
            arrivals: teacherInbox.peerLogitsQueue(run: "run-1", teacher: 0))
        mutual.resendEvery = .milliseconds(300)
        mutual.timeout = .seconds(60)  // a loaded machine
        let streamer = TeacherStreamer(runID: "run-1", teacher: 0, model: model, train: train, plan: plan,
                                       online: Trainer(model: model, settings: TrainingSettings(epochs: 3, batchSize: 20,
                                                                                                 learningRate: 1e-3, seed: 3)),
                                       replicas: [try await network.transport(name: "t0").connect(to: "mem://replica-0")],
                                       credits: teacherInbox.creditQueue(run: "run-1", teacher: 0), timeout: .seconds(10),
                                       mutual: mutual)
        let stream = LogitsStream(runID: "run-1", classes: 10, codec: LogitsCodec(classes: 10))
        let toTeacher = try await network.transport(name: "t1").connect(to: "mem://teacher-0")
        try await toTeacher.send(stream.credit(replica: 0, teacher: 0, steps: 100))
        let fromTeacher = peerInbox.peerLogitsQueue(run: "run-1", teacher: 1)
        let parts = (0..<9).map { plan.batches(epoch: $0 / 3).batch(step: $0 % 3) }

        /// Peer 1's logits of global step g (made up: a function of g), or a request.
        func peerSends(_ g: Int, resent: Bool = false) async throws {
            let logits = (0..<parts[g].count * 10).map { Float(($0 * 7 + g) % 13) / 4 }
            try await toTeacher.send(stream.peerLogits(teacher: 1, peer: 0, epoch: g / 3, step: g % 3, part: parts[g],
                                                       logits: logits, resent: resent))
        }
        /// The next message teacher 0 sends peer 1, as (global step, resent, logits).
        func next(within: Duration = .seconds(5)) async throws -> (g: Int, resent: Bool, logits: [Float])? {
            guard let a = try await fromTeacher.take(timeout: within) else { return nil }
            let g = Int(a.logits.epoch) * 3 + Int(a.logits.step)
            return (g, a.logits.resent, try stream.peerLogits(a, part: parts[g], what: "teacher 0's logits of step \(g)"))
        }

        let failure = Mutex<String?>(nil)
        let running = Task {
            do throws(DataPlaneError) { try await streamer.run() } catch { failure.withLock { $0 = "\(error)" } }
        }
        defer { running.cancel() }
        /// Teacher 0's logits of step g, skipping its resends of earlier steps (every 300 ms while
        /// it waits: a loaded machine may answer slower than that).
        func own(_ g: Int) async throws -> (g: Int, resent: Bool, logits: [Float]) {
            var m = try #require(try await next(), "teacher 0 sends its logits of step \(g)")
            while m.g < g && !m.resent { m = try #require(try await next()) }
            return m
        }
        var sent: [Int: [Float]] = [:]
        for g in 0...4 {
            let mine = try await own(g)
            #expect(mine.g == g && !mine.resent)
            sent[g] = mine.logits
            if g < 4 { try await peerSends(g) }
        }
        // Teacher 0 has trained steps 0–3 and waits for step 4: step 1 again is a request, and
        // resent logits are no request. It answers in order, so the answer to step 3 comes after
        // what it did with step 2; meanwhile it sends its own logits of step 4 again.
        try await peerSends(1)
        try await peerSends(2, resent: true)
        try await peerSends(3)
        var seen: [(g: Int, resent: Bool, logits: [Float])] = []
        while !seen.contains(where: { $0.g == 3 }) || !seen.contains(where: { $0.g == 4 }) {
            seen.append(try #require(try await next(), "answers and a resend: \(seen.map { ($0.g, $0.resent) })"))
        }
        let answers = seen.filter(\.resent)
        #expect(answers.map(\.g) == [1, 3], "resent logits are not answered: \(seen.map { ($0.g, $0.resent) })")
        #expect(answers.first?.logits == sent[1] && answers.last?.logits == sent[3], "its kept logits of steps 1 and 3")
        #expect(seen.contains { $0.g == 4 && !$0.resent && $0.logits == sent[4] }, "step 4 sent again while it waits")
        try await peerSends(4)
        for g in 5...7 {
            let mine = try await own(g)
            #expect(mine.g == g && !mine.resent)
            if g < 7 { try await peerSends(g) }
        }
        // In epoch 2 it keeps steps 3–7: a request for step 2 (epoch 0) cannot be answered.
        try await peerSends(2)
        _ = await running.value
        let reason = try #require(failure.withLock { $0 })
        #expect(reason.contains("teacher 0 cannot give teacher 1, placed again, its logits of epoch 0 step 2 (global step 2): "
            + "it keeps only steps 3–7"), "\(reason)")
    }
}
