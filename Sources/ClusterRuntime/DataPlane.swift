import ClusterCore
import Datasets
import Distillation
import NN
import Training
import Transport
import Wire

/// The step plan every node derives from the run spec alone (DESIGN.md §2 step 5): epoch e
/// visits `Permutation.of(N, seed, e)`, global step i covers positions `[i·B, (i+1)·B)` of it,
/// replica r owns micro-batch slice r (`BatchPlan.microBatch`). No per-step coordination.
public struct StepPlan: Sendable, Equatable {
    public var sampleCount: Int
    public var batchSize: Int
    public var seed: UInt64
    public var epochs: Int
    public var replicas: Int
    /// Steps a teacher may run ahead of a replica (the prefetch window W, in credits).
    public var window: Int
    /// Which epochs the teachers stream, and what each replica receives.
    public var streaming: LogitsStreaming

    public init(sampleCount: Int, batchSize: Int, seed: UInt64, epochs: Int, replicas: Int, window: Int,
                streaming: LogitsStreaming = .everyEpoch) {
        self.sampleCount = sampleCount
        self.batchSize = batchSize
        self.seed = seed
        self.epochs = epochs
        self.replicas = replicas
        self.window = window
        self.streaming = streaming
    }

    /// Epochs whose logits the teachers send: all, or only epoch 0 when targets are cached.
    public var streamedEpochs: Int { streaming == .firstEpochCached ? min(1, epochs) : epochs }
    /// Steps whose logits the teachers send.
    public var streamedSteps: Int { streamedEpochs * stepsPerEpoch }

    /// The sample positions replica r receives logits for at `step` of the epoch `batches`
    /// plans: its micro-batch, or the whole global batch when epoch 0's targets are being cached.
    public func logitsRange(_ batches: BatchPlan, step: Int, replica r: Int) -> ArraySlice<Int> {
        streaming == .firstEpochCached ? batches.batch(step: step) : batches.microBatch(step: step, replica: r, of: replicas)
    }

    public func batches(epoch: Int) -> BatchPlan {
        BatchPlan(count: sampleCount, batchSize: batchSize, dropLast: false, seed: seed, epoch: epoch)
    }

    /// ⌈N / B⌉ (the last partial batch is kept), without building an epoch's permutation.
    public var stepsPerEpoch: Int { (sampleCount + batchSize - 1) / batchSize }
}

/// Which epochs teachers stream logits for (DESIGN.md §2 step 5).
public enum LogitsStreaming: Sendable, Equatable {
    /// Every epoch; each replica gets the logits of its own micro-batch (online mode: the
    /// teachers change as they train, so targets cannot be kept).
    case everyEpoch
    /// Offline mode (frozen teachers, no augmentation): epoch 0 only, and each replica gets
    /// the whole global batch, so after epoch 0 every replica holds the soft target of every
    /// sample (`SoftLabelCache`) and the teachers go idle. Costs R× the logits of one epoch
    /// instead of one micro-batch per replica in every one of E epochs.
    case firstEpochCached
}

/// Why streaming or training on the data plane stopped. Every case names who was waited for.
public enum DataPlaneError: Error, Sendable, CustomStringConvertible {
    case noCredit(teacher: Int, replica: Int, after: Duration)
    case missingLogits(replica: Int, epoch: Int, step: Int, teachers: [Int], after: Duration)
    case badLogits(String)
    case ring(RingError)
    case transport(String)
    /// Replicas' parameters differ: they no longer train the same model.
    case diverged(step: Int, hashes: [UInt64])

    public var description: String {
        switch self {
        case .noCredit(let t, let r, let after):
            return "teacher \(t) got no credit from replica \(r) within \(after.shortDescription); the replica is stuck, gone or unreachable"
        case .missingLogits(let r, let e, let s, let teachers, let after):
            return "replica \(r) got no logits for epoch \(e) step \(s) from teacher(s) "
                + "\(teachers.map(String.init).joined(separator: ", ")) within \(after.shortDescription)"
        case .badLogits(let text): return "bad logits: \(text)"
        case .ring(let e): return e.description
        case .transport(let text): return text
        case .diverged(let step, let hashes):
            let list = hashes.enumerated().map { "replica \($0.offset) \(String($0.element, radix: 16))" }.joined(separator: ", ")
            return "the replicas' parameters differ after step \(step) (\(list)); they must stay bit-identical"
        }
    }
}

/// Parameter hashes exchanged through a ring all-reduce: replica r writes its 64-bit hash as
/// three 22-bit pieces (exact in Float32) at positions 3r…3r+2 of a zero vector of 3R floats;
/// the sum then holds every replica's hash, exactly, on every replica.
public enum ParameterHashes {
    public static func encode(_ hash: UInt64, rank: Int, ranks: Int) -> [Float] {
        var v = [Float](repeating: 0, count: 3 * ranks)
        for piece in 0..<3 { v[3 * rank + piece] = Float((hash >> (22 * UInt64(piece))) & 0x3F_FFFF) }
        return v
    }

    public static func decode(_ values: [Float]) -> [UInt64] {
        stride(from: 0, to: values.count - 2, by: 3).map { i in
            (0..<3).reduce(UInt64(0)) { $0 | (UInt64(values[i + $1]) << (22 * UInt64($1))) }
        }
    }
}

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
/// every other teacher its full f32 logits of the global batch (`LogitsBatch{to_teacher}`),
/// waits for theirs of the same step, and trains on
/// (1 − β)·CE(y, z_k) + β·T²·KL(p̄_{−k} ‖ softmax(z_k/T)), p̄_{−k} = mean over j ≠ k of
/// softmax(z_j/T) — all logits from before anyone's update of that step, so every teacher's
/// step is the same function of the same inputs wherever it runs.
public final class TeacherStreamer {
    public let runID: String
    public let teacher: Int
    let model: Sequential
    let train: LabeledImages
    let plan: StepPlan
    let codec: LogitsCodec
    let online: Trainer?
    /// Sent to replica 0 once streaming ends (its logits give the ensemble's test accuracy).
    let test: LabeledImages?
    /// Reaches replica r when sending.
    let replicas: PeerRoute
    let credits: BoundedQueue<Credit>
    let timeout: Duration
    /// How long to wait for a replica's first credit: the replicas start only once every
    /// teacher of the run is ready, which can take as long as the slowest teacher trains.
    let startTimeout: Duration
    private var granted: [Int]
    private var sent: [Int]
    private var pixels: [Float] = []
    private var labels: [Int32] = []
    /// Bytes of logits payload sent so far (all replicas).
    public private(set) var bytesSent = 0
    /// The mutual term (online only): its weight β and temperature, connections to the other
    /// teachers by index, and the queue where their logits for this teacher arrive.
    public struct Mutual {
        public var weight: Float
        public var temperature: Float
        /// The other teachers' indices, ascending, and how to reach each when sending.
        public var peers: [Int]
        public var route: PeerRoute
        public var arrivals: BoundedQueue<ArrivedLogits>

        public init(weight: Float, temperature: Float, peers: [Int], route: PeerRoute, arrivals: BoundedQueue<ArrivedLogits>) {
            self.weight = weight
            self.temperature = temperature
            self.peers = peers.sorted()
            self.route = route
            self.arrivals = arrivals
        }

        /// Fixed connections to the other teachers, by index.
        public init(weight: Float, temperature: Float, peers: [Int: any Connection], arrivals: BoundedQueue<ArrivedLogits>) {
            self.init(weight: weight, temperature: temperature, peers: Array(peers.keys), route: PeerRoute(peers),
                      arrivals: arrivals)
        }
    }
    let mutual: Mutual?
    /// Peers' logits that arrived ahead of the step being trained, by (epoch, step) then teacher.
    private var early: [StepKey: [Int: ArrivedLogits]] = [:]
    private struct StepKey: Hashable { var epoch: Int; var step: Int }

    /// `replicas[r]` reaches replica r's data endpoint; `credits` are this run's credits arriving here.
    public convenience init(runID: String, teacher: Int, model: Sequential, train: LabeledImages, plan: StepPlan,
                            codec: LogitsCodec? = nil, online: Trainer? = nil, test: LabeledImages? = nil,
                            replicas: [any Connection], credits: BoundedQueue<Credit>, timeout: Duration = .seconds(10),
                            startTimeout: Duration? = nil, mutual: Mutual? = nil) {
        self.init(runID: runID, teacher: teacher, model: model, train: train, plan: plan, codec: codec, online: online,
                  test: test, replicaRoute: PeerRoute(replicas), credits: credits, timeout: timeout,
                  startTimeout: startTimeout, mutual: mutual)
    }

    /// `replicaRoute(r)` reaches replica r's data endpoint as it is when the teacher sends (a
    /// replica may move to another worker before distilling begins).
    public init(runID: String, teacher: Int, model: Sequential, train: LabeledImages, plan: StepPlan,
                codec: LogitsCodec? = nil, online: Trainer? = nil, test: LabeledImages? = nil,
                replicaRoute: PeerRoute, credits: BoundedQueue<Credit>, timeout: Duration = .seconds(10),
                startTimeout: Duration? = nil, mutual: Mutual? = nil) {
        self.runID = runID
        self.mutual = online == nil ? nil : mutual
        self.teacher = teacher
        self.model = model
        self.train = train
        self.plan = plan
        self.codec = codec ?? LogitsCodec(classes: model.outputFeatures)
        self.online = online
        self.test = test
        self.replicas = replicaRoute
        self.credits = credits
        self.timeout = timeout
        self.startTimeout = startTimeout ?? timeout
        granted = [Int](repeating: 0, count: plan.replicas)
        sent = [Int](repeating: 0, count: plan.replicas)
    }

    /// Streams every streamed step; returns when all are sent.
    public func run(isCancelled: @Sendable () -> Bool = { false }) async throws(DataPlaneError) {
        let classes = model.outputFeatures
        let totalSteps = plan.streamedSteps
        for epoch in 0..<plan.streamedEpochs {
            let batches = plan.batches(epoch: epoch)
            for step in 0..<batches.stepsPerEpoch {
                if isCancelled() { return }
                for r in 0..<plan.replicas { try await waitForCredit(replica: r, isCancelled: isCancelled) }
                if isCancelled() { return }
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
                        let out = model.forward(px.baseAddress!, batch: n, mode: .inference)
                        if mutual != nil { mine = Array(UnsafeBufferPointer(start: out, count: n * classes)) }
                        for r in 0..<plan.replicas {
                            let part = plan.logitsRange(batches, step: step, replica: r)
                            let rows = (part.startIndex - global.startIndex) ..< (part.endIndex - global.startIndex)
                            if encoded[rows] == nil { encoded[rows] = codec.encode(out, rows: rows) }
                        }
                    }
                }
                for r in 0..<plan.replicas {
                    let part = plan.logitsRange(batches, step: step, replica: r)
                    let rows = (part.startIndex - global.startIndex) ..< (part.endIndex - global.startIndex)
                    try await send(encoded[rows]!, epoch: epoch, step: step, replica: r, part: part, classes: classes)
                }
                if let online {
                    var objective = Objective.crossEntropy
                    if let mutual {
                        try await sendToPeers(mine, mutual, epoch: epoch, step: step, part: global, classes: classes)
                        let others = try await peersLogits(mutual, epoch: epoch, step: step, part: global, classes: classes,
                                                           first: epoch == 0 && step == 0)
                        let targets = EnsembleTargets.compute(rule: .meanProbabilities, logits: others,
                                                              labels: global.map { train.labels[$0] }, classes: classes,
                                                              temperature: mutual.temperature)
                        objective = .batchDistillation(loss: KDLoss(temperature: mutual.temperature, alpha: mutual.weight),
                                                       targets: targets)
                    }
                    _ = online.accumulateGradients(batch: global, train: train, objective: objective)
                    online.applyGradients(learningRate: online.settings.schedule.rate(
                        base: online.settings.learningRate, step: online.globalStep, totalSteps: totalSteps))
                }
            }
        }
        if let test, test.count > 0, !isCancelled() { try await sendTestLogits(test) }
    }

    /// This step's full logits of the global batch to every other teacher.
    private func sendToPeers(_ logits: [Float], _ mutual: Mutual, epoch: Int, step: Int, part: ArraySlice<Int>,
                             classes: Int) async throws(DataPlaneError) {
        let bytes = logits.withUnsafeBytes { [UInt8]($0) }
        for peer in mutual.peers {
            let body = LogitsBatch(runID: runID, epoch: UInt32(epoch), step: UInt64(step), teacher: UInt32(teacher),
                                   sampleBegin: UInt64(part.startIndex), sampleEnd: UInt64(part.endIndex), dtype: .f32,
                                   toTeacher: true, toTeacherIndex: UInt32(peer))
            let message = Message(Envelope(sender: "\(runID)/teacher-\(teacher)",
                                           tensors: [TensorMeta(name: "logits", dtype: .f32, shape: [UInt64(part.count), UInt64(classes)])],
                                           body: .logitsBatch(body)),
                                  frames: [Frame(bytes: bytes)])
            do { try await mutual.route(peer).send(message) } catch {
                throw .transport("teacher \(teacher) could not send its logits to teacher \(peer): \(error)")
            }
        }
    }

    /// The other teachers' logits of (epoch, step), in teacher order, waiting at most `timeout`
    /// (`startTimeout` for the first step: a peer may still be preparing).
    private func peersLogits(_ mutual: Mutual, epoch: Int, step: Int, part: ArraySlice<Int>, classes: Int,
                             first: Bool) async throws(DataPlaneError) -> [[Float]] {
        let key = StepKey(epoch: epoch, step: step)
        let limit = first ? startTimeout : timeout
        let deadline = ContinuousClock.now + limit
        while (early[key]?.count ?? 0) < mutual.peers.count {
            let left = deadline - ContinuousClock.now
            let a: ArrivedLogits?
            do { a = left > .zero ? try await mutual.arrivals.take(timeout: left) : nil } catch {
                throw .transport("teacher \(teacher), peers' logits: \(error)")
            }
            guard let a else {
                let missing = mutual.peers.filter { early[key]?[$0] == nil }
                throw .transport("teacher \(teacher) got no logits from teacher(s) \(missing.map(String.init).joined(separator: ", ")) "
                    + "for epoch \(epoch) step \(step) within \(limit.shortDescription); they are stuck, gone or unreachable")
            }
            let from = Int(a.batch.teacher)
            guard a.batch.toTeacher, a.batch.toTeacherIndex == UInt32(teacher), mutual.peers.contains(from) else { continue }
            let at = StepKey(epoch: Int(a.batch.epoch), step: Int(a.batch.step))
            guard at.epoch > epoch || (at.epoch == epoch && at.step >= step) else { continue }  // stale
            early[at, default: [:]][from] = a
        }
        let arrived = early.removeValue(forKey: key) ?? [:]
        var out: [[Float]] = []
        for peer in mutual.peers {
            let a = arrived[peer]!
            guard a.batch.sampleBegin == UInt64(part.startIndex), a.batch.sampleEnd == UInt64(part.endIndex), a.frames.count == 1,
                  a.frames[0].count == part.count * classes * 4 else {
                throw .badLogits("teacher \(peer) sent teacher \(teacher) samples [\(a.batch.sampleBegin), \(a.batch.sampleEnd)) "
                    + "in \(a.frames.count) frame(s) for epoch \(epoch) step \(step), expected [\(part.startIndex), \(part.endIndex)) "
                    + "as \(part.count)×\(classes) f32")
            }
            out.append(LogitsCodec.floats(a.frames[0].bytes, float16: false))
        }
        return out
    }

    /// The teacher's accuracy on the test split when it sent its test logits (for online
    /// runs, what it reached by training on), nil before.
    public private(set) var finalTestAccuracy: Float?

    /// The teacher's final logits on the test split, full f32, to replica 0 (`test_split`);
    /// `beforeSending` sees the teacher's accuracy on them first.
    private func sendTestLogits(_ test: LabeledImages) async throws(DataPlaneError) {
        let classes = model.outputFeatures
        let logits = Evaluation.logits(model, on: test)
        let accuracy = Evaluation.accuracy(logits: logits, labels: test.labels, classes: classes)
        finalTestAccuracy = accuracy
        let body = LogitsBatch(runID: runID, replica: 0, teacher: UInt32(teacher), sampleBegin: 0, sampleEnd: UInt64(test.count),
                               dtype: .f32, testSplit: true)
        let message = Message(Envelope(sender: "\(runID)/teacher-\(teacher)",
                                       tensors: [TensorMeta(name: "logits", dtype: .f32, shape: [UInt64(test.count), UInt64(classes)])],
                                       body: .logitsBatch(body)),
                              frames: [Frame(bytes: logits.withUnsafeBytes { [UInt8]($0) })])
        do { try await replicas(0).send(message) } catch {
            throw .transport("teacher \(teacher) could not send its test logits to replica 0: \(error)")
        }
    }

    private func send(_ encoded: LogitsCodec.Encoded, epoch: Int, step: Int, replica r: Int, part: ArraySlice<Int>,
                      classes: Int) async throws(DataPlaneError) {
        let n = UInt64(part.count), k = UInt64(codec.topK)
        let dtype: DType = codec.float16 ? .f16 : .f32
        let tensors = codec.topK == 0
            ? [TensorMeta(name: "logits", dtype: dtype, shape: [n, UInt64(classes)])]
            : [TensorMeta(name: "values", dtype: dtype, shape: [n, k]), TensorMeta(name: "indices", dtype: .i32, shape: [n, k]),
               TensorMeta(name: "tail", dtype: dtype, shape: [n])]
        let body = LogitsBatch(runID: runID, epoch: UInt32(epoch), step: UInt64(step), replica: UInt32(r),
                               teacher: UInt32(teacher), sampleBegin: UInt64(part.startIndex),
                               sampleEnd: UInt64(part.endIndex), dtype: dtype, topK: UInt32(codec.topK))
        let message = Message(Envelope(sender: "\(runID)/teacher-\(teacher)", tensors: tensors, body: .logitsBatch(body)),
                              frames: encoded.frames.map { Frame(bytes: $0) })
        do { try await replicas(r).send(message) } catch {
            throw .transport("teacher \(teacher) could not send logits to replica \(r): \(error)")
        }
        bytesSent += encoded.frames.reduce(0) { $0 + $1.count }
        sent[r] += 1
    }

    /// Waits (bounded, in slices that notice a cancellation) until replica r has granted more
    /// steps than were sent to it.
    private func waitForCredit(replica r: Int, isCancelled: @Sendable () -> Bool) async throws(DataPlaneError) {
        let limit = granted[r] == 0 ? startTimeout : timeout
        let deadline = ContinuousClock.now + limit
        while sent[r] >= granted[r] {
            if isCancelled() { return }
            let left = deadline - ContinuousClock.now
            guard left > .zero else { throw .noCredit(teacher: teacher, replica: r, after: limit) }
            let credit: Credit?
            do { credit = try await credits.take(timeout: min(left, .seconds(1))) } catch {
                throw .transport("credits: \(error)")
            }
            if let credit, Int(credit.replica) < granted.count { granted[Int(credit.replica)] += Int(clamping: credit.steps) }
        }
    }
}

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
public final class StudentReplica {
    public let runID: String
    public let rank: Int
    public let trainer: Trainer
    let plan: StepPlan
    let kd: KDLoss
    let rule: EnsembleRule
    let codec: LogitsCodec
    let train: LabeledImages
    let teachers: [any Connection]
    let logits: BoundedQueue<ArrivedLogits>
    let ring: RingAllReduce
    let timeout: Duration
    /// Replicas compare parameter hashes every this many steps and after the last one.
    let hashEvery: Int
    /// Where a replica's time went, in seconds, since the start (DESIGN.md §2: compute /
    /// waiting for logits / all-reduce).
    public struct Timing: Sendable, Equatable {
        public var compute: Double = 0
        public var logitsWait: Double = 0
        public var allReduce: Double = 0
        public var steps = 0
    }

    public private(set) var timing = Timing()
    /// The cached soft targets (offline mode), filled during epoch 0.
    public private(set) var cache: SoftLabelCache?
    private var hashRing: RingAllReduce?
    private var stateRing: RingAllReduce?
    /// Teachers' test-split logits by teacher (replica 0 only), for the ensemble's accuracy.
    private var testLogits: [Int: ArrivedLogits] = [:]
    /// This step's soft targets, row j for sample j of the micro-batch.
    private var stepTargets: [Float] = []

    /// `codec` must match the teachers' (the run's top-k, float16 and temperature).
    public init(runID: String, rank: Int, trainer: Trainer, plan: StepPlan, kd: KDLoss, rule: EnsembleRule,
                codec: LogitsCodec? = nil, train: LabeledImages, teachers: [any Connection], logits: BoundedQueue<ArrivedLogits>,
                ring: RingAllReduce, timeout: Duration = .seconds(10), hashEvery: Int = 50) {
        self.runID = runID
        self.rank = rank
        self.trainer = trainer
        self.plan = plan
        self.kd = kd
        self.rule = rule
        self.codec = codec ?? LogitsCodec(classes: train.classCount, temperature: kd.temperature)
        self.train = train
        self.teachers = teachers
        self.logits = logits
        self.ring = ring
        self.timeout = timeout
        self.hashEvery = max(1, hashEvery)
        if plan.streaming == .firstEpochCached {
            cache = SoftLabelCache(count: train.count, classes: train.classCount, topK: self.codec.topK)
        }
    }

    /// Trains every epoch of the plan; `onEpoch(epoch)` runs after each (rank 0 evaluates there).
    public func run(onStep: (_ done: Int, _ total: Int) -> Void = { _, _ in }, onEpoch: (Int) -> Void = { _ in },
                    isCancelled: @Sendable () -> Bool = { false }) async throws(DataPlaneError) {
        try await grant(min(plan.window, plan.streamedSteps))
        var join = StepJoin<ArrivedLogits>(teachers: teachers.count, stepsPerEpoch: plan.stepsPerEpoch, window: plan.window)
        let totalSteps = plan.stepsPerEpoch * plan.epochs
        for epoch in 0..<plan.epochs {
            let batches = plan.batches(epoch: epoch)
            for step in 0..<batches.stepsPerEpoch {
                if isCancelled() { return }
                var mark = ContinuousClock.now
                let share = batches.microBatch(step: step, replica: rank, of: plan.replicas)
                let streamed = epoch < plan.streamedEpochs
                let arrived = streamed ? try await next(&join, epoch: epoch, step: step) : []
                timing.logitsWait += seconds(since: &mark)
                if streamed {
                    try ensemble(arrived, part: plan.logitsRange(batches, step: step, replica: rank), share: share)
                } else {
                    targetsFromCache(share)
                }
                let global = batches.batch(step: step)
                let n = global.count
                trainer.model.setRowWindow(offset: share.startIndex - global.startIndex, total: n)
                _ = trainer.accumulateGradients(batch: share, train: train,
                                                objective: .batchDistillation(loss: kd, targets: stepTargets),
                                                scale: Float(share.count) / Float(n))
                timing.compute += seconds(since: &mark)
                let arena = UnsafeMutableBufferPointer(start: trainer.model.gradients.pointer, count: trainer.model.parameterCount)
                do throws(RingError) { try await ring.allReduce(arena, step: UInt64(epoch * plan.stepsPerEpoch + step)) } catch {
                    throw .ring(error)
                }
                timing.allReduce += seconds(since: &mark)
                let lr = trainer.settings.schedule.rate(base: trainer.settings.learningRate, step: trainer.globalStep,
                                                        totalSteps: totalSteps)
                trainer.applyGradients(learningRate: lr)
                timing.compute += seconds(since: &mark)
                if plan.replicas > 1 && trainer.model.state.count > 0 {
                    try await averageState()
                    timing.allReduce += seconds(since: &mark)
                }
                timing.steps += 1
                if timing.steps % hashEvery == 0 || trainer.globalStep == totalSteps { try await compareHashes() }
                // Step s consumed: credit step s + W, if the teachers stream that far.
                if trainer.globalStep - 1 + plan.window < plan.streamedSteps { try await grant(1) }
                onStep(trainer.globalStep, totalSteps)
            }
            onEpoch(epoch)
        }
    }

    /// Non-trainable state (BatchNorm running statistics) is updated from each replica's own
    /// micro-batch, so after every step the replicas replace theirs by the mean over replicas
    /// (sum by the ring, then × 1/R: the same bits everywhere) and stay bit-identical. The
    /// normalisation itself still uses micro-batch statistics, so a BatchNorm student is not
    /// the single-process one (that needs synchronised batch statistics in the forward pass).
    private func averageState() async throws(DataPlaneError) {
        let state = UnsafeMutableBufferPointer(start: trainer.model.state.pointer, count: trainer.model.state.count)
        do throws(RingError) {
            if stateRing == nil { stateRing = try ring.sibling(count: state.count) }
            try await stateRing!.allReduce(state, step: UInt64(trainer.globalStep) | (1 << 62))
        } catch {
            throw .ring(error)
        }
        let scale = 1 / Float(plan.replicas)
        for i in state.indices { state[i] *= scale }
    }

    /// All-reduces every replica's parameter hash (`ParameterHashes`); any difference fails the run.
    private func compareHashes() async throws(DataPlaneError) {
        guard plan.replicas > 1 else { return }
        var values = ParameterHashes.encode(trainer.model.parameterHash, rank: rank, ranks: plan.replicas)
        do throws(RingError) {
            if hashRing == nil { hashRing = try ring.sibling(count: values.count) }
            try await hashRing!.allReduce(&values, step: UInt64(trainer.globalStep) | (1 << 63))
        } catch {
            throw .ring(error)
        }
        let hashes = ParameterHashes.decode(values)
        if Set(hashes).count != 1 { throw .diverged(step: trainer.globalStep, hashes: hashes) }
    }

    private func seconds(since mark: inout ContinuousClock.Instant) -> Double {
        let now = ContinuousClock.now
        let d = now - mark
        mark = now
        return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    /// The K teachers' logits of (epoch, step), waiting at most `timeout` for them.
    private func next(_ join: inout StepJoin<ArrivedLogits>, epoch: Int, step: Int) async throws(DataPlaneError) -> [ArrivedLogits] {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let all = join.takeNext() { return all }
            let left = deadline - ContinuousClock.now
            let a: ArrivedLogits?
            do { a = left > .zero ? try await logits.take(timeout: left) : nil } catch { throw .transport("logits: \(error)") }
            guard let a else {
                throw .missingLogits(replica: rank, epoch: epoch, step: step, teachers: join.missingTeachers, after: timeout)
            }
            guard a.batch.replica == UInt32(rank) else { continue }
            if a.batch.testSplit { testLogits[Int(a.batch.teacher)] = a; continue }
            _ = join.add(epoch: Int(a.batch.epoch), step: Int(a.batch.step), teacher: Int(a.batch.teacher), a)
        }
    }

    /// Accuracies on the test split, from the logits every teacher sends replica 0 when it has
    /// streamed its last step: the ensemble's (mean of probabilities at T = 1) and each
    /// teacher's (what an online teacher became: the same number the teacher computes).
    public struct TestSplitAccuracy: Sendable, Equatable {
        public var ensemble: Float
        public var teachers: [Float]
    }

    /// The `TestSplitAccuracy` of the teachers' test-split logits, waiting at most `timeout` for
    /// them; or why there is none.
    public func testSplitAccuracy(on test: LabeledImages, timeout: Duration) async -> Result<TestSplitAccuracy, DataPlaneError> {
        let deadline = ContinuousClock.now + timeout
        while testLogits.count < teachers.count {
            let left = deadline - ContinuousClock.now
            guard left > .zero, let a = try? await logits.take(timeout: left) else {
                let missing = (0..<teachers.count).filter { testLogits[$0] == nil }
                return .failure(.badLogits("no test-split logits from teacher(s) \(missing.map(String.init).joined(separator: ", ")) "
                    + "within \(timeout.shortDescription)"))
            }
            if a.batch.testSplit { testLogits[Int(a.batch.teacher)] = a }
        }
        let classes = test.classCount
        var all: [[Float]] = []
        for t in 0..<teachers.count {
            let a = testLogits[t]!
            guard a.batch.sampleBegin == 0, a.batch.sampleEnd == UInt64(test.count), a.frames.count == 1,
                  a.frames[0].count == test.count * classes * 4 else {
                return .failure(.badLogits("teacher \(t)'s test logits cover [\(a.batch.sampleBegin), \(a.batch.sampleEnd)), "
                    + "not the \(test.count) test samples × \(classes)"))
            }
            all.append(LogitsCodec.floats(a.frames[0].bytes, float16: false))
        }
        return .success(TestSplitAccuracy(
            ensemble: EnsembleTargets.accuracy(logits: all, labels: test.labels, classes: classes),
            teachers: all.map { Evaluation.accuracy(logits: $0, labels: test.labels, classes: classes) }))
    }

    /// Builds the ensemble's soft targets (temperature T) for the samples `part` the teachers
    /// sent, keeps them in the cache when caching, and leaves `share`'s rows in `stepTargets`.
    private func ensemble(_ arrived: [ArrivedLogits], part: ArraySlice<Int>, share: ArraySlice<Int>) throws(DataPlaneError) {
        let n = part.count, classes = train.classCount
        let dtype: DType = codec.float16 ? .f16 : .f32
        var decoded: [[Float]] = []
        for a in arrived {
            guard a.batch.sampleBegin == UInt64(part.startIndex), a.batch.sampleEnd == UInt64(part.endIndex),
                  a.batch.dtype == dtype, a.batch.topK == UInt32(codec.topK) else {
                throw .badLogits("teacher \(a.batch.teacher) sent samples [\(a.batch.sampleBegin), \(a.batch.sampleEnd)) as "
                    + "\(a.batch.dtype) top-\(a.batch.topK) for replica \(rank), which expects [\(part.startIndex), \(part.endIndex)) "
                    + "as \(dtype) top-\(codec.topK)")
            }
            do throws(LogitsCodec.DecodeError) {
                decoded.append(try codec.decode(a.frames.map { f in f.withUnsafeBytes { [UInt8]($0) } }, samples: n))
            } catch {
                throw .badLogits("teacher \(a.batch.teacher), samples [\(part.startIndex), \(part.endIndex)): \(error)")
            }
        }
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
    }

    /// `share`'s rows of the cached targets into `stepTargets`.
    private func targetsFromCache(_ share: ArraySlice<Int>) {
        let classes = train.classCount
        if stepTargets.count != share.count * classes { stepTargets = [Float](repeating: 0, count: share.count * classes) }
        stepTargets.withUnsafeMutableBufferPointer { out in
            for (row, i) in share.enumerated() { cache!.read(sample: i, into: out.baseAddress! + row * classes) }
        }
    }

    private func grant(_ steps: Int) async throws(DataPlaneError) {
        guard steps > 0 else { return }
        for (t, connection) in teachers.enumerated() {
            let credit = Credit(runID: runID, replica: UInt32(rank), steps: UInt64(steps), teacher: UInt32(t))
            do { try await connection.send(Message(Envelope(sender: "\(runID)/student-\(rank)", body: .credit(credit)))) } catch {
                throw .transport("replica \(rank) could not send credits to teacher \(t): \(error)")
            }
        }
    }
}
