/// The mini-batches of one epoch: step `i` takes the samples at positions
/// `[i·B, min((i+1)·B, count))` of the epoch's permutation.
///
/// Every node computes the same plan from `(count, batchSize, dropLast, seed, epoch)`,
/// so no per-step coordination is needed:
///
/// ```swift
/// let plan = BatchPlan(count: train.count, batchSize: 128, dropLast: true, seed: 42, epoch: e)
/// for step in 0..<plan.stepsPerEpoch {
///     let indices = plan.batch(step: step)   // ArraySlice<Int> of sample indices
///     train.gather(indices: indices, into: x, labels: y)
/// }
/// ```
///
/// With `dropLast` a final partial batch is skipped (every step has exactly `B` samples);
/// without it the last step may be shorter.
public struct BatchPlan: Sendable, Equatable, Sequence {
    /// Number of samples in the epoch.
    public let sampleCount: Int
    /// Samples per step, `B`.
    public let batchSize: Int
    /// Whether a final partial batch is skipped.
    public let dropLast: Bool
    /// The order in which samples are visited; a permutation of `0..<sampleCount`.
    public let permutation: [Int]

    /// A plan over `permutation` (which must have `count` elements). `batchSize` must be positive.
    public init(count: Int, batchSize: Int, dropLast: Bool, permutation: [Int]) {
        precondition(count >= 0, "BatchPlan: count must not be negative, got \(count)")
        precondition(batchSize > 0, "BatchPlan: batchSize must be positive, got \(batchSize)")
        precondition(permutation.count == count,
                     "BatchPlan: permutation has \(permutation.count) elements for \(count) samples")
        self.sampleCount = count
        self.batchSize = batchSize
        self.dropLast = dropLast
        self.permutation = permutation
    }

    /// A plan over `Permutation.of(count: count, seed: seed, epoch: epoch)`.
    public init(count: Int, batchSize: Int, dropLast: Bool, seed: UInt64, epoch: Int) {
        self.init(count: count, batchSize: batchSize, dropLast: dropLast,
                  permutation: Permutation.of(count: count, seed: seed, epoch: epoch))
    }

    /// A plan that visits samples in their stored order and keeps the last partial
    /// batch — for evaluation.
    public static func sequential(count: Int, batchSize: Int) -> BatchPlan {
        BatchPlan(count: count, batchSize: batchSize, dropLast: false, permutation: Array(0 ..< Swift.max(count, 0)))
    }

    /// Number of steps: `count / B` with `dropLast`, `⌈count / B⌉` without.
    public var stepsPerEpoch: Int {
        dropLast ? sampleCount / batchSize : (sampleCount + batchSize - 1) / batchSize
    }

    /// Positions `[step·B, min((step+1)·B, count))` in ``permutation`` for `step` in
    /// `0..<stepsPerEpoch`.
    public func range(step: Int) -> Range<Int> {
        precondition(step >= 0 && step < stepsPerEpoch, "BatchPlan: step \(step) out of 0..<\(stepsPerEpoch)")
        let start = step * batchSize
        return start ..< Swift.min(start + batchSize, sampleCount)
    }

    /// The sample indices of `step`: `permutation[range(step: step)]`.
    public func batch(step: Int) -> ArraySlice<Int> {
        permutation[range(step: step)]
    }

    /// Replica `replica`'s share of step `step` when `replicas` replicas split each batch:
    /// with the step's `b` samples, positions `[⌊replica·b/replicas⌋, ⌊(replica+1)·b/replicas⌋)`
    /// of ``batch(step:)``. Shares differ in size by at most one and cover the batch.
    public func microBatch(step: Int, replica: Int, of replicas: Int) -> ArraySlice<Int> {
        precondition(replicas > 0 && replica >= 0 && replica < replicas,
                     "BatchPlan: replica \(replica) out of 0..<\(replicas)")
        let r = range(step: step)
        let b = r.count
        return permutation[(r.lowerBound + replica * b / replicas) ..< (r.lowerBound + (replica + 1) * b / replicas)]
    }

    /// Iterates over the batches of steps `0..<stepsPerEpoch`.
    public func makeIterator() -> Iterator {
        Iterator(plan: self)
    }

    /// The number of batches.
    public var underestimatedCount: Int { stepsPerEpoch }

    /// Yields ``BatchPlan/batch(step:)`` for each step in order.
    public struct Iterator: IteratorProtocol {
        let plan: BatchPlan
        var step = 0

        /// The next batch, or `nil` after the last step.
        public mutating func next() -> ArraySlice<Int>? {
            guard step < plan.stepsPerEpoch else { return nil }
            defer { step += 1 }
            return plan.batch(step: step)
        }
    }
}
