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
    /// plans: its micro-batch, or the whole global batch when epoch 0's targets are being cached
    /// or every step is streamed whole (elastic online runs).
    public func logitsRange(_ batches: BatchPlan, step: Int, replica r: Int) -> ArraySlice<Int> {
        streaming == .everyEpoch ? batches.microBatch(step: step, replica: r, of: replicas) : batches.batch(step: step)
    }

    public func batches(epoch: Int) -> BatchPlan {
        BatchPlan(count: sampleCount, batchSize: batchSize, dropLast: false, seed: seed, epoch: epoch)
    }

    /// ⌈N / B⌉ (the last partial batch is kept), without building an epoch's permutation.
    public var stepsPerEpoch: Int { (sampleCount + batchSize - 1) / batchSize }
}

/// Which epochs teachers stream logits for (DESIGN.md §2 step 5).
public enum LogitsStreaming: Sendable, Equatable {
    /// Every epoch; each replica gets the logits of its own micro-batch (teachers that change
    /// as they train, in one process: targets cannot be kept).
    case everyEpoch
    /// Online mode in a cluster: every epoch, and each replica gets the whole global batch, so
    /// the survivors of a lost replica can take over its share of any step whose logits they
    /// hold (the ring may change mid-run). Costs R× the logits of `everyEpoch`: R·B·C values a
    /// step, small next to the student's gradient all-reduce.
    case everyEpochWholeBatch
    /// Offline mode (frozen teachers, no augmentation): epoch 0 only, and each replica gets
    /// the whole global batch, so after epoch 0 every replica holds the soft target of every
    /// sample (`SoftLabelCache`) and the teachers go idle. Costs R× the logits of one epoch
    /// instead of one micro-batch per replica in every one of E epochs.
    case firstEpochCached
}
