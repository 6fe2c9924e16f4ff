// Data-plane messages: logits stream, flow control, ring all-reduce (proto section "data plane").

/// teacher → student replica: one teacher's logits for one replica's micro-batch (or the whole
/// global batch while epoch 0's targets are cached) of one step (proto `distillery.v1.LogitsBatch`).
/// The test split's logits and teacher → teacher logits are messages of their own
/// (``TestSplitLogits``, ``PeerTeacherLogits``), so a `LogitsBatch` always means step logits.
///
/// Rules, with n = `sample_end − sample_begin`:
/// - `run_id` non-empty; `sample_end` > `sample_begin`; `dtype` f32 or f16;
/// - `top_k` == 0: exactly 1 tensor, logits `[n, classes]` (classes ≥ 1) of `dtype`;
/// - `top_k` > 0: exactly 3 tensors: values `[n, top_k]` of `dtype`, indices `[n, top_k]` i32,
///   tail mass `[n]` of `dtype`.
public struct LogitsBatch: Sendable, Equatable {
    public var runID: String
    public var epoch: UInt32
    public var step: UInt64
    public var replica: UInt32
    public var teacher: UInt32
    /// Range in the epoch's permutation: `[sampleBegin, sampleEnd)`.
    public var sampleBegin: UInt64
    public var sampleEnd: UInt64
    public var dtype: DType
    public var topK: UInt32

    public init(runID: String = "", epoch: UInt32 = 0, step: UInt64 = 0, replica: UInt32 = 0, teacher: UInt32 = 0,
                sampleBegin: UInt64 = 0, sampleEnd: UInt64 = 0, dtype: DType = .f32, topK: UInt32 = 0) {
        self.runID = runID
        self.epoch = epoch
        self.step = step
        self.replica = replica
        self.teacher = teacher
        self.sampleBegin = sampleBegin
        self.sampleEnd = sampleEnd
        self.dtype = dtype
        self.topK = topK
    }

    /// Number of samples, `sampleEnd − sampleBegin` (0 if the range is empty or reversed).
    public var sampleCount: UInt64 { sampleEnd > sampleBegin ? sampleEnd - sampleBegin : 0 }
}

/// teacher → student replica 0, once, after the teacher's last step: its full f32 logits of the
/// whole test split, in the test set's own order, for the report's ensemble (and online
/// teachers') test accuracy (proto `distillery.v1.TestSplitLogits`).
///
/// Rules: `run_id` non-empty; `sample_count` ≥ 1; exactly 1 tensor, logits
/// `[sample_count, classes]` (classes ≥ 1), f32.
public struct TestSplitLogits: Sendable, Equatable {
    public var runID: String
    /// The sending teacher's index.
    public var teacher: UInt32
    /// The test split's size: rows of the logits frame.
    public var sampleCount: UInt64

    public init(runID: String = "", teacher: UInt32 = 0, sampleCount: UInt64 = 0) {
        self.runID = runID
        self.teacher = teacher
        self.sampleCount = sampleCount
    }
}

/// teacher → teacher (online runs with a mutual term): teacher `fromTeacher`'s full f32 logits
/// of the whole global batch of (epoch, step), from before its own update of that step, for
/// teacher `toTeacher` (proto `distillery.v1.PeerTeacherLogits`).
///
/// Rules, with n = `sample_end − sample_begin`: `run_id` non-empty; `sample_end` >
/// `sample_begin`; `to_teacher` ≠ `from_teacher`; exactly 1 tensor, logits `[n, classes]`
/// (classes ≥ 1), f32.
public struct PeerTeacherLogits: Sendable, Equatable {
    public var runID: String
    public var epoch: UInt32
    public var step: UInt64
    /// The sender's teacher index.
    public var fromTeacher: UInt32
    /// The receiver's teacher index.
    public var toTeacher: UInt32
    /// The global batch: range in the epoch's permutation, `[sampleBegin, sampleEnd)`.
    public var sampleBegin: UInt64
    public var sampleEnd: UInt64
    /// An answer to a request: the sender sends its logits of a step again because the
    /// receiver sent its own of a step the sender had already trained (a teacher placed again,
    /// training through it). Never answered (docs/PROTOCOL.md "Mutual term").
    public var resent: Bool

    public init(runID: String = "", epoch: UInt32 = 0, step: UInt64 = 0, fromTeacher: UInt32 = 0, toTeacher: UInt32 = 0,
                sampleBegin: UInt64 = 0, sampleEnd: UInt64 = 0, resent: Bool = false) {
        self.runID = runID
        self.epoch = epoch
        self.step = step
        self.fromTeacher = fromTeacher
        self.toTeacher = toTeacher
        self.sampleBegin = sampleBegin
        self.sampleEnd = sampleEnd
        self.resent = resent
    }
}

/// student replica → teacher: permission to send `steps` more steps (credit-based flow
/// control; proto `distillery.v1.Credit`).
///
/// Rules: `run_id` non-empty; `steps` ≥ 1; no tensors.
public struct Credit: Sendable, Equatable {
    public var runID: String
    public var replica: UInt32
    public var steps: UInt64
    /// The teacher the credit is for (several teachers may share a worker's data endpoint).
    public var teacher: UInt32

    public init(runID: String = "", replica: UInt32 = 0, steps: UInt64 = 0, teacher: UInt32 = 0) {
        self.runID = runID
        self.replica = replica
        self.steps = steps
        self.teacher = teacher
    }
}

/// replica → next replica in the ring: one gradient chunk as tensor frame 1
/// (proto `distillery.v1.GradientChunk`).
///
/// Rules: `run_id` non-empty; `phase` a known value; exactly 1 tensor, dtype f32, rank 1.
public struct GradientChunk: Sendable, Equatable {
    public var runID: String
    /// Ring generation: messages of an older generation are dropped.
    public var generation: UInt64
    public var step: UInt64
    public var chunk: UInt32
    public var phase: RingPhase
    /// 0..R-2 within the phase.
    public var hop: UInt32

    public init(runID: String = "", generation: UInt64 = 0, step: UInt64 = 0, chunk: UInt32 = 0,
                phase: RingPhase = .reduceScatter, hop: UInt32 = 0) {
        self.runID = runID
        self.generation = generation
        self.step = step
        self.chunk = chunk
        self.phase = phase
        self.hop = hop
    }
}
