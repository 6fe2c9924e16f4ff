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

    public init(sampleCount: Int, batchSize: Int, seed: UInt64, epochs: Int, replicas: Int, window: Int) {
        self.sampleCount = sampleCount
        self.batchSize = batchSize
        self.seed = seed
        self.epochs = epochs
        self.replicas = replicas
        self.window = window
    }

    public func batches(epoch: Int) -> BatchPlan {
        BatchPlan(count: sampleCount, batchSize: batchSize, dropLast: false, seed: seed, epoch: epoch)
    }

    public var stepsPerEpoch: Int { batches(epoch: 0).stepsPerEpoch }
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

/// A teacher serving its logits (DESIGN.md §2 step 5): for every step of the plan and every
/// replica r it computes the logits of r's micro-batch and sends them to r as
/// `LogitsBatch{epoch, step, replica, teacher, sample_begin, sample_end}` + an F32 `[n × C]`
/// frame — but only while it holds a credit from r: a replica grants W at the start and one
/// per step it consumes, so a teacher is never more than W steps ahead.
public final class TeacherStreamer {
    public let runID: String
    public let teacher: Int
    let model: Sequential
    let train: LabeledImages
    let plan: StepPlan
    let replicas: [any Connection]
    let credits: BoundedQueue<Credit>
    let timeout: Duration
    /// How long to wait for a replica's first credit: the replicas start only once every
    /// teacher of the run is ready, which can take as long as the slowest teacher trains.
    let startTimeout: Duration
    private var granted: [Int]
    private var sent: [Int]
    private var pixels: [Float] = []
    private var labels: [Int32] = []

    /// `replicas[r]` reaches replica r's data endpoint; `credits` are this run's credits arriving here.
    public init(runID: String, teacher: Int, model: Sequential, train: LabeledImages, plan: StepPlan,
                replicas: [any Connection], credits: BoundedQueue<Credit>, timeout: Duration = .seconds(10),
                startTimeout: Duration? = nil) {
        self.runID = runID
        self.teacher = teacher
        self.model = model
        self.train = train
        self.plan = plan
        self.replicas = replicas
        self.credits = credits
        self.timeout = timeout
        self.startTimeout = startTimeout ?? timeout
        granted = [Int](repeating: 0, count: plan.replicas)
        sent = [Int](repeating: 0, count: plan.replicas)
    }

    /// Streams every step of every epoch; returns when all are sent.
    public func run(isCancelled: @Sendable () -> Bool = { false }) async throws(DataPlaneError) {
        let classes = model.outputFeatures
        for epoch in 0..<plan.epochs {
            let batches = plan.batches(epoch: epoch)
            for step in 0..<batches.stepsPerEpoch {
                if isCancelled() { return }
                for r in 0..<plan.replicas {
                    try await waitForCredit(replica: r, isCancelled: isCancelled)
                    if isCancelled() { return }
                    let share = batches.microBatch(step: step, replica: r, of: plan.replicas)
                    let n = share.count
                    if pixels.count < n * train.features {
                        pixels = [Float](repeating: 0, count: n * train.features)
                        labels = [Int32](repeating: 0, count: n)
                    }
                    let chunk: FloatChunk = pixels.withUnsafeMutableBufferPointer { px in
                        labels.withUnsafeMutableBufferPointer { lb in
                            train.gather(indices: share, into: px.baseAddress!, labels: lb.baseAddress!)
                            let out = model.forward(px.baseAddress!, batch: n, mode: .inference)
                            return FloatChunk(UnsafeBufferPointer(start: out, count: n * classes))
                        }
                    }
                    let body = LogitsBatch(runID: runID, epoch: UInt32(epoch), step: UInt64(step), replica: UInt32(r),
                                           teacher: UInt32(teacher), sampleBegin: UInt64(share.startIndex),
                                           sampleEnd: UInt64(share.endIndex), dtype: .f32)
                    let frame = Frame(owner: chunk, base: UnsafeRawPointer(chunk.base), count: n * classes * 4)
                    let message = Message(Envelope(sender: "\(runID)/teacher-\(teacher)",
                                                   tensors: [TensorMeta(name: "logits", dtype: .f32, shape: [UInt64(n), UInt64(classes)])],
                                                   body: .logitsBatch(body)), frames: [frame])
                    do { try await replicas[r].send(message) } catch {
                        throw .transport("teacher \(teacher) could not send logits to replica \(r): \(error)")
                    }
                    sent[r] += 1
                }
            }
        }
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
public final class StudentReplica {
    public let runID: String
    public let rank: Int
    public let trainer: Trainer
    let plan: StepPlan
    let kd: KDLoss
    let rule: EnsembleRule
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
    private var hashRing: RingAllReduce?
    /// Soft targets by sample index (rows are written as their step arrives).
    private var targets: [Float]
    private var gradient: [Float]

    public init(runID: String, rank: Int, trainer: Trainer, plan: StepPlan, kd: KDLoss, rule: EnsembleRule,
                train: LabeledImages, teachers: [any Connection], logits: BoundedQueue<ArrivedLogits>, ring: RingAllReduce,
                timeout: Duration = .seconds(10), hashEvery: Int = 50) {
        self.runID = runID
        self.rank = rank
        self.trainer = trainer
        self.plan = plan
        self.kd = kd
        self.rule = rule
        self.train = train
        self.teachers = teachers
        self.logits = logits
        self.ring = ring
        self.timeout = timeout
        self.hashEvery = max(1, hashEvery)
        targets = [Float](repeating: 0, count: train.count * train.classCount)
        gradient = [Float](repeating: 0, count: trainer.model.parameterCount)
    }

    /// Trains every epoch of the plan; `onEpoch(epoch)` runs after each (rank 0 evaluates there).
    public func run(onStep: (_ done: Int, _ total: Int) -> Void = { _, _ in }, onEpoch: (Int) -> Void = { _ in },
                    isCancelled: @Sendable () -> Bool = { false }) async throws(DataPlaneError) {
        try await grant(plan.window)
        var join = StepJoin<ArrivedLogits>(teachers: teachers.count, stepsPerEpoch: plan.stepsPerEpoch, window: plan.window)
        let classes = train.classCount
        let totalSteps = plan.stepsPerEpoch * plan.epochs
        for epoch in 0..<plan.epochs {
            let batches = plan.batches(epoch: epoch)
            for step in 0..<batches.stepsPerEpoch {
                if isCancelled() { return }
                var mark = ContinuousClock.now
                let arrived = try await next(&join, epoch: epoch, step: step)
                timing.logitsWait += seconds(since: &mark)
                let share = batches.microBatch(step: step, replica: rank, of: plan.replicas)
                try ensemble(arrived, share: share, classes: classes)
                let n = batches.batch(step: step).count
                _ = trainer.accumulateGradients(batch: share, train: train,
                                                objective: .distillation(loss: kd, targets: targets, labelMask: nil),
                                                scale: Float(share.count) / Float(n))
                let arena = trainer.model.gradients.pointer
                gradient.withUnsafeMutableBufferPointer { $0.baseAddress!.update(from: arena, count: $0.count) }
                timing.compute += seconds(since: &mark)
                do throws(RingError) { try await ring.allReduce(&gradient, step: UInt64(epoch * plan.stepsPerEpoch + step)) } catch {
                    throw .ring(error)
                }
                timing.allReduce += seconds(since: &mark)
                gradient.withUnsafeBufferPointer { arena.update(from: $0.baseAddress!, count: $0.count) }
                let lr = trainer.settings.schedule.rate(base: trainer.settings.learningRate, step: trainer.globalStep,
                                                        totalSteps: totalSteps)
                trainer.applyGradients(learningRate: lr)
                timing.compute += seconds(since: &mark)
                timing.steps += 1
                if timing.steps % hashEvery == 0 || trainer.globalStep == totalSteps { try await compareHashes() }
                try await grant(1)
                onStep(trainer.globalStep, totalSteps)
            }
            onEpoch(epoch)
        }
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
            _ = join.add(epoch: Int(a.batch.epoch), step: Int(a.batch.step), teacher: Int(a.batch.teacher), a)
        }
    }

    /// Writes the ensemble's soft targets (temperature T) for `share` into `targets`.
    private func ensemble(_ arrived: [ArrivedLogits], share: ArraySlice<Int>, classes: Int) throws(DataPlaneError) {
        let n = share.count
        var copies: [[Float]] = []
        for a in arrived {
            guard a.batch.sampleBegin == UInt64(share.startIndex), a.batch.sampleEnd == UInt64(share.endIndex),
                  a.frames.count == 1, a.frames[0].count == n * classes * 4, a.batch.dtype == .f32 else {
                throw .badLogits("teacher \(a.batch.teacher) sent samples [\(a.batch.sampleBegin), \(a.batch.sampleEnd)) "
                    + "(\(a.frames.first?.count ?? 0) bytes) for replica \(rank)'s [\(share.startIndex), \(share.endIndex)) × \(classes)")
            }
            var values = [Float](repeating: 0, count: n * classes)
            values.withUnsafeMutableBytes { dst in a.frames[0].withUnsafeBytes { dst.copyMemory(from: $0) } }
            copies.append(values)
        }
        var labels = [Int32](repeating: 0, count: n)
        for (row, i) in share.enumerated() { labels[row] = train.labels[i] }
        let rows = EnsembleTargets.compute(rule: rule, logits: copies, labels: labels, classes: classes,
                                           temperature: kd.temperature)
        targets.withUnsafeMutableBufferPointer { t in
            for (row, i) in share.enumerated() {
                for c in 0..<classes { t[i * classes + c] = rows[row * classes + c] }
            }
        }
    }

    private func grant(_ steps: Int) async throws(DataPlaneError) {
        for (t, connection) in teachers.enumerated() {
            let credit = Credit(runID: runID, replica: UInt32(rank), steps: UInt64(steps), teacher: UInt32(t))
            do { try await connection.send(Message(Envelope(sender: "\(runID)/student-\(rank)", body: .credit(credit)))) } catch {
                throw .transport("replica \(rank) could not send credits to teacher \(t): \(error)")
            }
        }
    }
}
