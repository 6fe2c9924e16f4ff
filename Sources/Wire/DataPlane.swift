// Data-plane messages: logits stream, flow control, ring all-reduce (proto section "data plane").

/// teacher → student replica: one teacher's logits for one replica's micro-batch
/// (proto `distillery.v1.LogitsBatch`).
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
    /// Logits of the test split (samples in the test set's own order), sent once to replica 0
    /// for the report's ensemble accuracy; `epoch`/`step` are 0.
    public var testSplit: Bool
    /// Teacher → teacher (online runs with a mutual term): the sender's full f32 logits of the
    /// whole global batch, for teacher `toTeacherIndex`; `replica` is 0.
    public var toTeacher: Bool
    public var toTeacherIndex: UInt32

    public init(runID: String = "", epoch: UInt32 = 0, step: UInt64 = 0, replica: UInt32 = 0, teacher: UInt32 = 0,
                sampleBegin: UInt64 = 0, sampleEnd: UInt64 = 0, dtype: DType = .f32, topK: UInt32 = 0, testSplit: Bool = false,
                toTeacher: Bool = false, toTeacherIndex: UInt32 = 0) {
        self.runID = runID
        self.epoch = epoch
        self.step = step
        self.replica = replica
        self.teacher = teacher
        self.sampleBegin = sampleBegin
        self.sampleEnd = sampleEnd
        self.dtype = dtype
        self.topK = topK
        self.testSplit = testSplit
        self.toTeacher = toTeacher
        self.toTeacherIndex = toTeacherIndex
    }

    /// Number of samples, `sampleEnd − sampleBegin` (0 if the range is empty or reversed).
    public var sampleCount: UInt64 { sampleEnd > sampleBegin ? sampleEnd - sampleBegin : 0 }
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
