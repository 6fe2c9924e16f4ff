import Clocks
import ClusterCore
import Datasets
import Distillation
import NN
import Training
import Transport
import Wire

/// A teacher serving its logits (DESIGN.md §2 step 5): for every streamed step of the plan it
/// computes the logits of the global batch once and sends each replica r its part — r's
/// micro-batch, or the whole batch while epoch 0's targets are cached — as
/// `LogitsBatch{epoch, step, replica, teacher, sample_begin, sample_end, dtype, top_k}` plus the
/// `LogitsCodec` frames, but only while it holds a credit from every replica: a replica grants
/// W at the start and one per step it consumes, so a teacher is never more than W steps ahead.
///
/// Online mode (`online` set): after sending a step's logits — those it had before its own
/// update — the teacher takes one training step on the same global batch (cross-entropy on
/// the hard labels, the recipe's optimizer and learning rate, scheduled over the run's steps).
///
/// With a mutual term β > 0 (`mutual`) the teachers also learn from each other: each sends
/// every other teacher its full f32 logits of the global batch (`PeerTeacherLogits`),
/// waits for theirs of the same step, and trains on
/// (1 − β)·CE(y, z_k) + β·T²·KL(p̄_{−k} ‖ softmax(z_k/T)), p̄_{−k} = mean over j ≠ k of
/// softmax(z_j/T) — all logits from before anyone's update of that step, so every teacher's
/// step is the same function of the same inputs wherever it runs.
public final class TeacherStreamer {
    public let runID: String
    public let teacher: Int
    let model: any InferenceModel
    let train: LabeledImages
    let plan: StepPlan
    let codec: LogitsCodec
    /// Builds what this teacher sends and checks what its peers send it.
    let stream: LogitsStream
    let online: Trainer?
    /// Sent to replica 0 once streaming ends (its logits give the ensemble's test accuracy).
    let test: LabeledImages?
    /// Reaches replica slot r when sending.
    let replicas: PeerRoute
    /// The replica slots served now (all 0 ..< R unless the run's ring lost some: a repeated
    /// assignment drops a lost replica's slot, and the teacher stops waiting for its credits).
    let receivers: @Sendable () -> [Int]
    let credits: BoundedQueue<Credit>
    /// The clock the waits for credits and peers' logits run on.
    public var clock: any RuntimeClock = SystemRuntimeClock()
    let timeout: Duration
    /// How long to wait for a replica's first credit: the replicas start only once every
    /// teacher of the run is ready, which can take as long as the slowest teacher trains.
    let startTimeout: Duration
    /// The first global step streamed (a resumed run's checkpoint step; 0 otherwise): credits
    /// count from it, and the steps before it are not sent; an online teacher trains on them
    /// (as it did in the run it resumes), a frozen one skips them.
    public var fromStep = 0
    /// An online teacher that loaded its state at this global step (`TeacherTask.state_hash`,
    /// a teacher placed again): the steps before it are neither trained nor sent, and credits
    /// count as if they had been sent.
    public var startStep = 0
    /// Online teachers: called with (step, ``Trainer/packState()``) for the
    /// state at the start of each epoch after the first, once every replica served has taken
    /// the step before it (a teacher placed again from it then owes no replica an earlier step).
    public var onEpochState: ((_ step: Int, _ state: [Float]) -> Void)?
    private var pendingState: (step: Int, state: [Float])?
    /// Whole-batch streaming: the last W + 1 steps sent (the same bytes for every replica),
    /// for a replica that joins the ring while the teachers stream.
    private var history: [(g: Int, epoch: Int, step: Int, part: ArraySlice<Int>, encoded: LogitsCodec.Encoded)] = []
    /// The replica slots served so far (a new one in `receivers()` joined: ``serveNewcomers(next:)``).
    private var served: Set<Int> = []
    /// The test-split logits once sent (a replica joining later gets them too).
    private var testMessage: Message?
    /// Where the teacher tells what it does about rare events (a long wait for credits, once).
    /// An online teacher's training loss since ``takeOnlineLoss()`` last read it (loss × samples, samples).
    private var onlineLoss: (sum: Double, samples: Int) = (0, 0)

    /// The online teacher's mean training loss over the steps since the last call (nil when it
    /// trained none), for its curve (`teacherK.online_train_loss`).
    public func takeOnlineLoss() -> Double? {
        defer { onlineLoss = (0, 0) }
        return onlineLoss.samples > 0 ? onlineLoss.sum / Double(onlineLoss.samples) : nil
    }

    /// Called at the start of every epoch it streams but the first, and after the last step,
    /// with ``bytesSent`` (monitoring: `teacherK.logits_sent_bytes`).
    public var onEpochEnd: ((_ epoch: Int, _ bytesSent: Int) -> Void)?
    public var note: @Sendable (String) -> Void = { _ in }
    private var notedWait = false
    private var granted: [Int: Int] = [:]
    private var sent: [Int: Int] = [:]
    private var pixels: [Float] = []
    private var labels: [Int32] = []
    /// Bytes of logits payload sent so far (all replicas).
    public private(set) var bytesSent = 0
    /// The mutual term (`TeacherStreamer+Mutual.swift`), nil without one.
    let mutual: Mutual?
    /// Peers' logits that arrived ahead of the step being trained, by (epoch, step) then teacher.
    var early: [StepKey: [Int: ArrivedPeerLogits]] = [:]
    struct StepKey: Hashable { var epoch: Int; var step: Int }
    /// This teacher's logits of the current and the previous epoch, by global step, for a peer
    /// placed again (mutual term).
    var kept: [Int: KeptLogits] = [:]
    /// The peers whose requests were noted (once each).
    var notedRequest: Set<Int> = []

    /// `replicas[r]` reaches replica r's data endpoint; `credits` are this run's credits arriving here.
    public convenience init(runID: String, teacher: Int, model: any InferenceModel, train: LabeledImages, plan: StepPlan,
                            codec: LogitsCodec? = nil, online: Trainer? = nil, test: LabeledImages? = nil,
                            replicas: [any Connection], credits: BoundedQueue<Credit>, timeout: Duration = .seconds(10),
                            startTimeout: Duration? = nil, mutual: Mutual? = nil, receivers: (@Sendable () -> [Int])? = nil) {
        self.init(runID: runID, teacher: teacher, model: model, train: train, plan: plan, codec: codec, online: online,
                  test: test, replicaRoute: PeerRoute(replicas), credits: credits, timeout: timeout,
                  startTimeout: startTimeout, mutual: mutual, receivers: receivers)
    }

    /// `replicaRoute(r)` reaches replica r's data endpoint as it is when the teacher sends (a
    /// replica may move to another worker before distilling begins).
    public init(runID: String, teacher: Int, model: any InferenceModel, train: LabeledImages, plan: StepPlan,
                codec: LogitsCodec? = nil, online: Trainer? = nil, test: LabeledImages? = nil,
                replicaRoute: PeerRoute, credits: BoundedQueue<Credit>, timeout: Duration = .seconds(10),
                startTimeout: Duration? = nil, mutual: Mutual? = nil, receivers: (@Sendable () -> [Int])? = nil) {
        self.runID = runID
        let all = Array(0..<plan.replicas)
        self.receivers = receivers ?? { all }
        self.mutual = online == nil ? nil : mutual
        self.teacher = teacher
        self.model = model
        self.train = train
        self.plan = plan
        self.codec = codec ?? LogitsCodec(classes: model.outputFeatures)
        self.stream = LogitsStream(runID: runID, classes: model.outputFeatures, codec: self.codec)
        self.online = online
        self.test = test
        self.replicas = replicaRoute
        self.credits = credits
        self.timeout = timeout
        self.startTimeout = startTimeout ?? timeout
    }

    /// Streams every streamed step; returns when all are sent.
    public func run(isCancelled: @Sendable () -> Bool = { false }) async throws(DataPlaneError) {
        let classes = model.outputFeatures
        served = Set(receivers())
        defer { onEpochEnd?(plan.streamedEpochs, bytesSent) }
        for epoch in 0..<plan.streamedEpochs {
            if epoch > 0 && epoch * plan.stepsPerEpoch > startStep { onEpochEnd?(epoch, bytesSent) }
            let batches = plan.batches(epoch: epoch)
            for step in 0..<batches.stepsPerEpoch {
                if isCancelled() { return }
                let g = epoch * batches.stepsPerEpoch + step
                if g < startStep { continue }  // in the state loaded
                if let online, onEpochState != nil, step == 0, g > startStep, g > 0 {
                    pendingState = (g, online.packState())
                }
                if g < fromStep {
                    // Before a resumed run's step: an online teacher becomes what it was there (with
                    // a mutual term, with the other teachers, which train again alongside).
                    guard let online else { continue }
                    let global = batches.batch(step: step)
                    try await train(online, g: g, epoch: epoch, step: step, global: global,
                                    mine: mutual == nil ? [] : ownLogits(global))
                    continue
                }
                try await serveNewcomers(next: g)
                for r in receivers() { try await waitForCredit(replica: r, isCancelled: isCancelled, next: g) }
                if isCancelled() { return }
                let serving = receivers()  // without a slot dropped while waiting
                if let pending = pendingState, serving.allSatisfy({ tookAll(before: pending.step, replica: $0) }) {
                    pendingState = nil
                    onEpochState?(pending.step, pending.state)
                }
                let global = batches.batch(step: step)
                let n = global.count
                if pixels.count < n * train.features {
                    pixels = [Float](repeating: 0, count: n * train.features)
                    labels = [Int32](repeating: 0, count: n)
                }
                // Encoded per distinct row range: one for the whole batch, or one per micro-batch.
                var encoded: [Range<Int>: LogitsCodec.Encoded] = [:]
                var mine: [Float] = []
                pixels.withUnsafeMutableBufferPointer { px in
                    labels.withUnsafeMutableBufferPointer { lb in
                        train.gather(indices: global, into: px.baseAddress!, labels: lb.baseAddress!)
                        let out = model.infer(px.baseAddress!, batch: n)
                        if mutual != nil { mine = Array(UnsafeBufferPointer(start: out, count: n * classes)) }
                        for r in serving {
                            let part = plan.logitsRange(batches, step: step, replica: r)
                            let rows = (part.startIndex - global.startIndex) ..< (part.endIndex - global.startIndex)
                            if encoded[rows] == nil { encoded[rows] = codec.encode(out, rows: rows) }
                        }
                    }
                }
                for r in serving {
                    let part = plan.logitsRange(batches, step: step, replica: r)
                    let rows = (part.startIndex - global.startIndex) ..< (part.endIndex - global.startIndex)
                    try await send(encoded[rows]!, epoch: epoch, step: step, replica: r, part: part)
                }
                if plan.streaming != .everyEpoch, let whole = encoded[0 ..< n] {
                    history.append((g, epoch, step, global, whole))
                    if history.count > plan.window + 1 { history.removeFirst() }
                }
                if let online { try await train(online, g: g, epoch: epoch, step: step, global: global, mine: mine) }
            }
        }
        if let test, test.count > 0, !isCancelled() { try await sendTestLogits(test) }
    }

    /// An online teacher's step on the global batch `global` of global step g: cross-entropy
    /// on the labels, or with a mutual term (its own logits `mine`, kept and sent to the other
    /// teachers first) toward the others' ensemble of that step.
    private func train(_ online: Trainer, g: Int, epoch: Int, step: Int, global: ArraySlice<Int>,
                       mine: [Float]) async throws(DataPlaneError) {
        var objective = Objective.crossEntropy
        if let mutual {
            keep(mine, g: g, epoch: epoch, step: step, part: global)
            try await sendToPeers(mine, mutual, epoch: epoch, step: step, part: global)
            let others = try await peersLogits(mutual, g: g, epoch: epoch, step: step, part: global, first: g == 0)
            let targets = EnsembleTargets.compute(rule: .meanProbabilities, logits: others,
                                                  labels: global.map { train.labels[$0] }, classes: model.outputFeatures,
                                                  temperature: mutual.temperature)
            objective = .batchDistillation(loss: KDLoss(temperature: mutual.temperature, alpha: mutual.weight), targets: targets)
        }
        let (loss, _) = online.accumulateGradients(batch: global, train: train, objective: objective)
        onlineLoss.sum += Double(loss) * Double(global.count)
        onlineLoss.samples += global.count
        online.applyGradients(learningRate: online.settings.schedule.rate(
            base: online.settings.learningRate, step: online.globalStep, totalSteps: plan.streamedSteps))
    }

    /// The teacher's logits of the global batch `global`, `[n × C]`.
    private func ownLogits(_ global: ArraySlice<Int>) -> [Float] {
        let n = global.count
        if pixels.count < n * train.features {
            pixels = [Float](repeating: 0, count: n * train.features)
            labels = [Int32](repeating: 0, count: n)
        }
        return pixels.withUnsafeMutableBufferPointer { px in
            labels.withUnsafeMutableBufferPointer { lb in
                train.gather(indices: global, into: px.baseAddress!, labels: lb.baseAddress!)
                return Array(UnsafeBufferPointer(start: model.infer(px.baseAddress!, batch: n), count: n * model.outputFeatures))
            }
        }
    }

    /// The teacher's accuracy on the test split when it sent its test logits (for online
    /// runs, what it reached by training on), nil before.
    public private(set) var finalTestAccuracy: Float?

    /// The teacher's final logits on the test split, full f32, to every replica served
    /// (`TestSplitLogits`; rank 0 uses them, and whichever replica is rank 0 when training ends
    /// has them); `finalTestAccuracy` is set first.
    private func sendTestLogits(_ test: LabeledImages) async throws(DataPlaneError) {
        let classes = model.outputFeatures
        let logits = Evaluation.logits(model, on: test)
        let accuracy = Evaluation.accuracy(logits: logits, labels: test.labels, classes: classes)
        finalTestAccuracy = accuracy
        let message = stream.testSplitLogits(teacher: teacher, logits: logits, samples: test.count)
        testMessage = message
        for r in receivers() { try await sendTestLogits(message, to: r) }
    }

    private func sendTestLogits(_ message: Message, to r: Int) async throws(DataPlaneError) {
        do { try await replicas(r).send(message) } catch {
            throw .transport("teacher \(teacher) could not send its test logits to replica \(r): \(error)")
        }
    }

    private func send(_ encoded: LogitsCodec.Encoded, epoch: Int, step: Int, replica r: Int,
                      part: ArraySlice<Int>) async throws(DataPlaneError) {
        let message = stream.stepLogits(teacher: teacher, epoch: epoch, step: step, replica: r, part: part, encoded: encoded)
        do { try await replicas(r).send(message) } catch {
            throw .transport("teacher \(teacher) could not send logits to replica \(r): \(error)")
        }
        bytesSent += encoded.frames.reduce(0) { $0 + $1.count }
        sent[r] = sentCount(r) + 1
    }

    /// A replica slot that joined the ring while the teachers stream (a fresh slot in
    /// `receivers()`, docs/PROTOCOL.md "Joining a ring") gets the last W + 1 steps sent first —
    /// the ring's step is among them, and the newcomer drops the ones before it — and then the
    /// stream as every replica; its credits count as if it had been served from the first of
    /// them. `g` is the step about to be streamed.
    private func serveNewcomers(next g: Int) async throws(DataPlaneError) {
        let now = receivers()
        served.formIntersection(now)
        guard plan.streaming != .everyEpoch else { return }
        for r in now where !served.contains(r) {
            served.insert(r)
            sent[r] = (history.first?.g ?? g) - fromStep
            for h in history { try await send(h.encoded, epoch: h.epoch, step: h.step, replica: r, part: h.part) }
            // It joined after the last step was streamed (``linger(isCancelled:)``).
            if let testMessage { try await sendTestLogits(testMessage, to: r) }
            note("teacher \(teacher) serves replica slot \(r), which joined the ring: sent it steps "
                + (history.isEmpty ? "from \(g) on" : "\(history.first!.g)–\(history.last!.g) again, then the stream"))
        }
    }

    /// After ``run(isCancelled:)``, with whole-batch streaming: the teacher stays until every
    /// replica slot it serves has taken the last streamed step (its credits say so), so that a
    /// replica joining the ring meanwhile still gets the last W + 1 steps and the test logits
    /// (docs/PROTOCOL.md "Joining a ring"). With a mutual term it stays until the run ends,
    /// answering the requests of a peer placed again (``servePeers(awaiting:)``). Ends early
    /// when the run is cancelled (the coordinator stops a mutual run's teachers when it
    /// completes), or quietly (a note) when no credit or request came for `timeout`: nothing
    /// fails, a later joiner would find the steps it needs in the ring's cache or not join.
    public func linger(isCancelled: @Sendable () -> Bool = { false }) async {
        let end = plan.streamedSteps
        let servesReplicas = plan.streaming != .everyEpoch && end > max(fromStep, startStep)
        guard servesReplicas || mutual != nil else { return }
        var deadline = clock.deadline(after: timeout)
        while !isCancelled() {
            do throws(DataPlaneError) {
                if servesReplicas { try await serveNewcomers(next: end) }
                if try await servePeers(awaiting: end) { deadline = clock.deadline(after: timeout) }
            } catch {
                if !isCancelled() { note("teacher \(teacher) stops serving replicas or teachers that join: \(error)") }
                return
            }
            let waiting = servesReplicas ? receivers().filter { !tookAll(before: end, replica: $0) } : []
            if waiting.isEmpty && mutual == nil { return }
            guard !deadline.hasPassed else {
                note(waiting.isEmpty
                    ? "teacher \(teacher) stops waiting for its peers' requests: none within \(timeout.shortDescription)"
                    : "teacher \(teacher) stops waiting for replica slot(s) \(waiting.map(String.init).joined(separator: ", ")) "
                        + "to take its last step: no credit within \(timeout.shortDescription)")
                return
            }
            let credit: Credit?
            do {
                // With a mutual term its peers' requests are answered within 20 ms.
                credit = try await credits.take(timeout: deadline.slice(atMost: .milliseconds(mutual == nil ? 250 : 20)))
            } catch {
                if !isCancelled() { note("teacher \(teacher) stops serving replicas that join: credits: \(error)") }
                return
            }
            if let credit {
                record(credit)
                deadline = clock.deadline(after: timeout)
            }
        }
    }

    private func record(_ credit: Credit) { granted[Int(credit.replica), default: 0] += Int(clamping: credit.steps) }

    /// Whether replica slot r has taken every step before global step `g`: each step it takes
    /// grants one credit beyond its initial window of W.
    private func tookAll(before g: Int, replica r: Int) -> Bool {
        granted[r, default: 0] - plan.window >= g - fromStep
    }

    /// Messages sent to slot r, counted from `fromStep` (the steps before `startStep` count).
    private func sentCount(_ r: Int) -> Int { sent[r] ?? max(0, startStep - fromStep) }

    /// Waits (bounded, in slices that notice a cancellation or the slot being dropped) until
    /// replica slot r has granted more steps than were sent to it.
    private func waitForCredit(replica r: Int, isCancelled: @Sendable () -> Bool, next g: Int) async throws(DataPlaneError) {
        let limit = granted[r, default: 0] == 0 ? startTimeout : timeout
        let deadline = clock.deadline(after: limit)
        let started = clock.instant()
        while sentCount(r) >= granted[r, default: 0] {
            if !notedWait, (clock.instant() - started) > .seconds(10) {
                notedWait = true
                note("teacher \(teacher) has waited 10 s for credits from replica slot \(r) (granted \(granted[r, default: 0]), "
                    + "sent \(sentCount(r)), serving slots \(receivers()))")
            }
            if isCancelled() || !receivers().contains(r) { return }
            try await serveNewcomers(next: g)  // a newcomer's ring waits for it while others hold back their credits
            // A peer placed again may be what the replicas wait for: its requests are answered
            // within 20 ms (TeacherStreamer+Mutual.swift).
            try await servePeers(awaiting: g)
            guard !deadline.hasPassed else { throw .noCredit(teacher: teacher, replica: r, after: limit) }
            let credit: Credit?
            do { credit = try await credits.take(timeout: deadline.slice(atMost: .milliseconds(mutual == nil ? 250 : 20))) } catch {
                throw .transport("credits: \(error)")
            }
            if let credit { record(credit) }
        }
    }
}
