import Clocks
import ClusterCore
import Datasets
import Distillation
import NN
import Tensor
import Training
import Transport
import Wire

/// A student replica (DESIGN.md §2 step 5): for each step it joins the K teachers' logits
/// of its micro-batch, builds the ensemble target with the run's rule, computes the KD loss
/// and its gradient scaled by n_r/N, ring-all-reduces the flat gradient (the sum is the
/// global batch's mean gradient) and applies the optimizer step — the same on every replica,
/// so replicas stay bit-identical. It grants each teacher W credits at the start and one per
/// consumed step.
///
/// With `LogitsStreaming.firstEpochCached` the teachers send the whole global batch during
/// epoch 0; the replica keeps every sample's target in a `SoftLabelCache` (full, or top-k with
/// a tail bucket) and trains the later epochs from it without waiting for anyone but its ring.
/// With `.everyEpochWholeBatch` (online runs) they send the whole batch every step and the
/// replica keeps only the last step's targets: enough to run that step again over a new ring.
public final class StudentReplica {
    public let runID: String
    /// The replica's rank in its current ring (0 ..< R); a new ring generation renumbers it.
    public internal(set) var rank: Int
    /// The replica's place in the teachers' streams (credits and logits): its rank in ring
    /// generation 1, kept through later generations.
    public let slot: Int
    public let trainer: Trainer
    let plan: StepPlan
    let kd: KDLoss
    let rule: EnsembleRule
    let codec: LogitsCodec
    /// Builds the credits this replica sends and checks the logits it receives.
    let stream: LogitsStream
    let train: LabeledImages
    var teachers: [any Connection]
    /// The teachers' endpoints this replica follows (elastic rings: a lost teacher is placed
    /// again while epoch 0 streams).
    var knownTeachers: [String] = []
    /// How long a replica waits for logits while one of its teachers is being placed again (the
    /// coordinator's replacement wait, 5 min, and a margin).
    static let teacherReplacementWait: Duration = .seconds(360)
    /// The run's teachers (`teachers` is empty for a replica that joined after the teachers
    /// streamed their last step: it needs none of them).
    let teacherCount: Int
    /// The replica joins a ring that is already training (it starts in ring generation > 1):
    /// it takes its state and soft-label cache from the ring before its first step.
    let joins: Bool
    let logits: BoundedQueue<ArrivedLogits>
    /// The current ring (a new generation replaces it: `StudentReplica+Ring.swift`).
    var ring: RingAllReduce
    let timeout: Duration
    /// Elastic runs: where the replica learns of a new ring and reaches its new peers.
    let elastic: ElasticRing?
    /// The clock the waits for logits run on.
    public var clock: any RuntimeClock = SystemRuntimeClock()
    /// Where the replica tells what it does about rare events (a teacher placed again).
    public var note: @Sendable (String) -> Void = { _ in }
    /// The clock `timing` is measured on (real by default, also under a manual `clock`).
    public var stopwatch: any RuntimeClock = SystemRuntimeClock()
    /// Replicas compare parameter hashes every this many steps and after the last one.
    let hashEvery: Int
    /// Where a replica's time went, in seconds, since the start (DESIGN.md §2: compute /
    /// waiting for logits / all-reduce).
    public struct Timing: Sendable, Equatable {
        public var compute: Double = 0
        public var logitsWait: Double = 0
        public var allReduce: Double = 0
        public var steps = 0
        /// The distillation loss over this replica's micro-batches (sum of loss × samples).
        public var lossSum: Double = 0
        public var lossSamples = 0
        /// Bytes of gradient chunks this replica sent, over every ring it was in.
        public var gradientBytesSent = 0
    }

    public internal(set) var timing = Timing()
    /// The cached soft targets (offline mode), filled during epoch 0.
    public internal(set) var cache: SoftLabelCache?
    /// The ring generations this replica trained in, in order, with the step each began at.
    public internal(set) var generations: [(generation: UInt64, ranks: Int, fromStep: Int)] = []
    /// How many times this replica's ring copied one replica's state to the others after a
    /// change (the replicas stood at different steps, or held different state).
    public internal(set) var transfers = 0
    /// How many times this replica loaded another replica's soft-label cache (it joined
    /// without one).
    public internal(set) var cacheTransfers = 0
    var hashRing: RingAllReduce?
    var stateRing: RingAllReduce?
    /// This step's soft targets, row j for sample j of the micro-batch.
    private var stepTargets: [Float] = []
    /// Semi-supervised runs (`training.label-fraction` < 1): 1 for each training sample whose
    /// label the student sees, 0 for the others (their hard-label term is dropped); nil: all.
    public var labelMask: [Float]?
    /// This step's rows of `labelMask`.
    private var stepMask: [Float] = []
    /// The last global step whose logits this replica took from its teachers (−1: none).
    var taken = -1
    /// Without a cache (online runs, whose teachers stream every step whole): the ensemble
    /// targets of the last step taken, for its whole global batch (`part`), so that the step in
    /// flight can run again split over a new ring.
    private var takenTargets: (step: Int, part: ArraySlice<Int>, rows: [Float])?
    private var notedCachedStep = false
    /// The first global step the teachers stream to this replica: a resumed run's checkpoint
    /// step (``resume(from:)``, or `StudentTask.from_step` for a replica that joins), 0
    /// otherwise. Credits count from it.
    public var streamStart = 0

    /// `codec` must match the teachers' (the run's top-k, float16 and temperature). `slot`
    /// defaults to `rank`; `elastic` lets the ring change during the run (offline runs);
    /// `joins` (elastic only) makes the replica take its state from `ring` before training, and
    /// `teacherCount` (default `teachers.count`) is the run's number of teachers when a joining
    /// replica connects to none.
    public init(runID: String, rank: Int, slot: Int? = nil, trainer: Trainer, plan: StepPlan, kd: KDLoss, rule: EnsembleRule,
                codec: LogitsCodec? = nil, train: LabeledImages, teachers: [any Connection], teacherCount: Int? = nil,
                logits: BoundedQueue<ArrivedLogits>, ring: RingAllReduce, timeout: Duration = .seconds(10), hashEvery: Int = 50,
                elastic: ElasticRing? = nil, joins: Bool = false) {
        self.teacherCount = teacherCount ?? teachers.count
        self.joins = joins && elastic != nil
        self.runID = runID
        self.rank = rank
        self.slot = slot ?? rank
        self.trainer = trainer
        self.plan = plan
        self.kd = kd
        self.rule = rule
        self.codec = codec ?? LogitsCodec(classes: train.classCount, temperature: kd.temperature)
        self.stream = LogitsStream(runID: runID, classes: train.classCount, codec: self.codec)
        self.train = train
        self.teachers = teachers
        self.logits = logits
        self.ring = ring
        self.timeout = timeout
        self.hashEvery = max(1, hashEvery)
        self.elastic = elastic
        if plan.streaming == .firstEpochCached {
            cache = SoftLabelCache(count: train.count, classes: train.classCount, topK: self.codec.topK)
        }
        generations = [(ring.generation, ring.schedule.ranks, 0)]
    }

    /// The number of replicas in the current ring.
    public var ranks: Int { ring.schedule.ranks }

    /// Trains every epoch of the plan; `onEpoch(epoch)` runs after each (rank 0 evaluates there).
    /// In an elastic run a step whose all-reduce is superseded by a new ring generation is
    /// abandoned, the replicas of the new ring agree on their state (`resynchronise`), and
    /// training goes on from the step they agree on with the batch split over the new ring.
    public func run(onStep: (_ done: Int, _ total: Int) -> Void = { _, _ in }, onEpoch: (Int) -> Void = { _ in },
                    isCancelled: @Sendable () -> Bool = { false }) async throws(DataPlaneError) {
        knownTeachers = elastic?.teachers() ?? []
        if let elastic {
            // A replica waiting for its ring (it took the step's logits before a teacher was lost,
            // a peer did not) follows a teacher placed again from there too: the new teacher
            // streams each step only once every replica granted it (docs/PROTOCOL.md "A teacher
            // placed again"), and the peer needs that step before the ring can finish.
            ring.watch?.idle = { [unowned self] in
                do throws(DataPlaneError) { _ = try await followTeachers(elastic) } catch { note("\(error)") }
            }
        }
        if joins {
            try await joinRing()
            if trainer.globalStep < plan.streamedSteps { try await joinStream() }
        } else {
            if plan.streamedSteps > streamStart { try await grant(plan.window) }
        }
        // A replica that joined while the teachers stream starts at the ring's step; the teachers
        // may stand one step further ahead of it than its window (they ran W ahead of a replica
        // that had taken that step already).
        var join = StepJoin<ArrivedLogits>(teachers: teacherCount, stepsPerEpoch: plan.stepsPerEpoch,
                                           window: plan.window + (joins ? 1 : 0),
                                           start: joins ? max(streamStart, trainer.globalStep) : streamStart)
        let totalSteps = plan.stepsPerEpoch * plan.epochs
        var epochPlan: (epoch: Int, batches: BatchPlan)?
        while trainer.globalStep < totalSteps {
            if isCancelled() { return }
            let g = trainer.globalStep
            let epoch = g / plan.stepsPerEpoch, step = g % plan.stepsPerEpoch
            if epochPlan?.epoch != epoch { epochPlan = (epoch, plan.batches(epoch: epoch)) }
            let snapshot = InFlight(trainer.model)
            do throws(DataPlaneError) {
                try await trainStep(epoch: epoch, step: step, batches: epochPlan!.batches, join: &join, totalSteps: totalSteps)
            } catch {
                guard case .ring(.superseded) = error else { throw error }
                if trainer.globalStep == g { snapshot.restore(trainer.model) }  // the step was not applied: undo its forward
                try await resynchroniseUntilSettled()  // a ring may be replaced again while its replicas agree
                // Step g was finished after all (here, before the ring changed, or by the replica
                // whose state this one took): what follows a step, and an epoch, is due now.
                if trainer.globalStep > g {
                    onStep(trainer.globalStep, totalSteps)
                    if trainer.globalStep % plan.stepsPerEpoch == 0 { onEpoch(trainer.globalStep / plan.stepsPerEpoch - 1) }
                }
                continue
            }
            onStep(trainer.globalStep, totalSteps)
            if step == plan.stepsPerEpoch - 1 { onEpoch(epoch) }
        }
    }

    /// One global step on this replica's micro-batch of the current ring.
    private func trainStep(epoch: Int, step: Int, batches: BatchPlan, join: inout StepJoin<ArrivedLogits>,
                           totalSteps: Int) async throws(DataPlaneError) {
        let g = epoch * plan.stepsPerEpoch + step
        var mark = stopwatch.instant()
        let share = batches.microBatch(step: step, replica: rank, of: ranks)
        let streamed = epoch < plan.streamedEpochs
        if streamed && taken < g, let cache, batches.batch(step: step).allSatisfy(cache.contains) {
            // The soft-label cache taken from the ring holds this step already (a replica that
            // joined, or took a peer's cache, after the step's logits reached the ring): the
            // teachers' messages for it are not needed, and may not come (they stop serving
            // once every replica took epoch 0's last step).
            if !notedCachedStep {
                notedCachedStep = true
                note("replica \(rank) (slot \(slot)) takes step \(g) from the soft-label cache it took from the ring")
            }
            taken = g
            join.skip(through: g)
            try await grant(1)
            targetsFromCache(share)
        } else if streamed && taken < g {
            let arrived = try await next(&join, epoch: epoch, step: step)
            taken = g
            // Step g taken: one credit (step g + W may be sent; past the stream's end, it tells
            // the teachers this replica no longer needs them).
            try await grant(1)
            timing.logitsWait += seconds(since: &mark)
            try ensemble(arrived, part: plan.logitsRange(batches, step: step, replica: slot), share: share, step: g)
        } else if let kept = takenTargets, kept.step == g {
            // Online: the step in flight taken before the ring changed, its whole batch kept.
            let classes = train.classCount, offset = share.startIndex - kept.part.startIndex
            stepTargets = Array(kept.rows[(offset * classes) ..< ((offset + share.count) * classes)])
        } else {
            guard let cache else {
                throw .badLogits("replica \(rank) has no targets for epoch \(epoch) step \(step): it took that step's logits, "
                    + "but the teachers sent only its micro-batch, which the ring cannot split again")
            }
            if let missing = share.first(where: { !cache.contains($0) }) {
                throw .badLogits("replica \(rank) has no cached target for sample \(missing) in epoch \(epoch) step \(step) "
                    + "(\(cache.filled) of \(cache.count) cached)")
            }
            targetsFromCache(share)  // later epochs, or a step taken before the ring changed (its whole batch is cached)
        }
        let global = batches.batch(step: step)
        let n = global.count
        trainer.model.setRowWindow(offset: share.startIndex - global.startIndex, total: n)
        if let labelMask { stepMask = share.map { labelMask[$0] } }
        let (loss, _) = trainer.accumulateGradients(batch: share, train: train,
                                                    objective: .batchDistillation(loss: kd, targets: stepTargets,
                                                                                  labelMask: labelMask == nil ? nil : stepMask),
                                                    scale: Float(share.count) / Float(n))
        timing.lossSum += Double(loss) * Double(share.count)
        timing.lossSamples += share.count
        timing.compute += seconds(since: &mark)
        let arena = UnsafeMutableBufferPointer(start: trainer.model.gradients.pointer, count: trainer.model.parameterCount)
        let sentBefore = ring.bytesSent
        do throws(RingError) { try await ring.allReduce(arena, step: UInt64(g)) } catch {
            throw .ring(error)
        }
        timing.gradientBytesSent += ring.bytesSent - sentBefore
        timing.allReduce += seconds(since: &mark)
        let lr = trainer.settings.schedule.rate(base: trainer.settings.learningRate, step: trainer.globalStep,
                                                totalSteps: totalSteps)
        trainer.applyGradients(learningRate: lr)
        timing.compute += seconds(since: &mark)
        if ranks > 1 && trainer.model.state.count > 0 {
            try await averageState()
            timing.allReduce += seconds(since: &mark)
        }
        timing.steps += 1
        if trainer.globalStep % hashEvery == 0 || trainer.globalStep == totalSteps { try await compareHashes() }
    }

    /// Non-trainable state (BatchNorm running statistics) is updated from each replica's own
    /// micro-batch, so after every step the replicas replace theirs by the mean over replicas
    /// (sum by the ring, then × 1/R: the same bits everywhere) and stay bit-identical. The
    /// normalisation itself still uses micro-batch statistics, so a BatchNorm student is not
    /// the single-process one (that needs synchronised batch statistics in the forward pass).
    private func averageState() async throws(DataPlaneError) {
        // On a copy: an all-reduce abandoned half-way (a new ring) leaves the replica's own
        // statistics intact, and the new ring's resynchronisation settles them.
        let state = UnsafeMutableBufferPointer(start: trainer.model.state.pointer, count: trainer.model.state.count)
        var values = Array(state)
        do throws(RingError) {
            if stateRing == nil { stateRing = try ring.sibling(count: state.count) }
            try await stateRing!.allReduce(&values, step: UInt64(trainer.globalStep) | (1 << 62))
        } catch {
            throw .ring(error)
        }
        let scale = 1 / Float(ranks)
        for i in state.indices { state[i] = values[i] * scale }
    }

    /// All-reduces every replica's parameter hash (`ParameterHashes`); any difference fails the run.
    private func compareHashes() async throws(DataPlaneError) {
        guard ranks > 1 else { return }
        var values = ParameterHashes.encode(trainer.model.parameterHash, rank: rank, ranks: ranks)
        do throws(RingError) {
            if hashRing == nil { hashRing = try ring.sibling(count: values.count) }
            try await hashRing!.allReduce(&values, step: UInt64(trainer.globalStep) | (1 << 63))
        } catch {
            throw .ring(error)
        }
        let hashes = ParameterHashes.decode(values)
        if Set(hashes).count != 1 { throw .diverged(step: trainer.globalStep, hashes: hashes) }
    }

    private func seconds(since mark: inout ClockInstant) -> Double {
        let now = stopwatch.instant()
        defer { mark = now }
        return (now - mark).inSeconds
    }

    /// The K teachers' logits of (epoch, step), waiting at most `timeout` for them.
    private func next(_ join: inout StepJoin<ArrivedLogits>, epoch: Int, step: Int) async throws(DataPlaneError) -> [ArrivedLogits] {
        // A teacher being placed again (its endpoint "", perhaps seen while waiting for the ring)
        // makes the wait the replacement's.
        var limit = knownTeachers.contains("") ? Self.teacherReplacementWait : timeout
        var deadline = clock.deadline(after: limit)
        while true {
            if let all = join.takeNext() { return all }
            if let elastic, let wait = try await followTeachers(elastic) {
                limit = wait
                deadline = clock.deadline(after: wait)
            }
            let a: ArrivedLogits?
            do {
                // An elastic replica looks at its teachers' endpoints at least every 250 ms.
                a = elastic == nil ? try await deadline.wait({ try await logits.take(timeout: $0) })
                    : try await logits.take(timeout: deadline.slice(atMost: .milliseconds(250)))
            } catch { throw .transport("logits: \(error)") }
            guard let a else {
                if elastic != nil && !deadline.hasPassed { continue }
                throw .missingLogits(replica: rank, epoch: epoch, step: step, teachers: join.missingTeachers, after: limit)
            }
            guard a.batch.replica == UInt32(slot) else { continue }
            _ = join.add(epoch: Int(a.batch.epoch), step: Int(a.batch.step), teacher: Int(a.batch.teacher), a)
            // An elastic replica waits for progress, not for one arrival: a teacher placed again
            // streams epoch 0 from its first step, and the steps before this one (dropped here)
            // show it is alive; on a busy machine they may take longer than the wait itself.
            if elastic != nil { deadline = clock.deadline(after: limit) }
        }
    }

    /// Accuracies on the test split, from the logits every teacher sends replica 0 when it has
    /// streamed its last step: the ensemble's (mean of probabilities at T = 1) and each
    /// teacher's (what an online teacher became: the same number the teacher computes), and the
    /// ensemble's predicted class of each test sample (for its confusion matrix).
    public struct TestSplitAccuracy: Sendable, Equatable {
        public var ensemble: Float
        public var teachers: [Float]
        public var ensemblePredicted: [Int]
    }

    /// The `TestSplitAccuracy` of the teachers' test-split logits arriving in `queue` (the run's
    /// `TestSplitLogits`, ``DataInbox/testSplitQueue(run:)``), waiting at most `timeout` for
    /// them; or why there is none.
    public func testSplitAccuracy(on test: LabeledImages, from queue: BoundedQueue<ArrivedTestSplit>,
                                  timeout: Duration) async -> Result<TestSplitAccuracy, DataPlaneError> {
        var testLogits: [Int: ArrivedTestSplit] = [:]
        let deadline = clock.deadline(after: timeout)
        while testLogits.count < teacherCount {
            guard let a = try? await deadline.wait({ try await queue.take(timeout: $0) }) else {
                let missing = (0..<teacherCount).filter { testLogits[$0] == nil }
                return .failure(.badLogits("no test-split logits from teacher(s) \(missing.map(String.init).joined(separator: ", ")) "
                    + "within \(timeout.shortDescription)"))
            }
            if Int(a.logits.teacher) < teacherCount { testLogits[Int(a.logits.teacher)] = a }
        }
        let classes = test.classCount
        var all: [[Float]] = []
        for t in 0..<teacherCount {
            do throws(DataPlaneError) {
                all.append(try stream.testSplitLogits(testLogits[t]!, samples: test.count))
            } catch {
                return .failure(error)
            }
        }
        let predicted = EnsembleTargets.predictions(logits: all, labels: test.labels, classes: classes)
        return .success(TestSplitAccuracy(
            ensemble: Evaluation.accuracy(predicted: predicted, labels: test.labels),
            teachers: all.map { Evaluation.accuracy(logits: $0, labels: test.labels, classes: classes) },
            ensemblePredicted: predicted))
    }

    /// Builds the ensemble's soft targets (temperature T) for the samples `part` the teachers
    /// sent, keeps them in the cache when caching, and leaves `share`'s rows in `stepTargets`.
    private func ensemble(_ arrived: [ArrivedLogits], part: ArraySlice<Int>, share: ArraySlice<Int>, step g: Int) throws(DataPlaneError) {
        let classes = train.classCount
        var decoded: [[Float]] = []
        for a in arrived { decoded.append(try stream.decodeStepLogits(a, part: part, replica: slot)) }
        let labels = part.map { train.labels[$0] }
        let rows = EnsembleTargets.compute(rule: rule, logits: decoded, labels: labels, classes: classes,
                                           temperature: kd.temperature)
        if cache != nil {
            rows.withUnsafeBufferPointer { r in
                for (row, i) in part.enumerated() { cache!.store(sample: i, target: r.baseAddress! + row * classes) }
            }
        }
        let offset = share.startIndex - part.startIndex
        if cache != nil && cache!.topK > 0 {
            targetsFromCache(share)  // train on what later epochs will see
        } else {
            stepTargets = Array(rows[(offset * classes) ..< ((offset + share.count) * classes)])
        }
        if cache == nil && elastic != nil && part.count > share.count { takenTargets = (g, part, rows) }
    }

    /// `share`'s rows of the cached targets into `stepTargets`.
    private func targetsFromCache(_ share: ArraySlice<Int>) {
        let classes = train.classCount
        if stepTargets.count != share.count * classes { stepTargets = [Float](repeating: 0, count: share.count * classes) }
        stepTargets.withUnsafeMutableBufferPointer { out in
            for (row, i) in share.enumerated() { cache!.read(sample: i, into: out.baseAddress! + row * classes) }
        }
    }
}
