import Distillation
import Transport
import Wire

/// The logits stream of one run (docs/PROTOCOL.md "Data plane"): every `LogitsBatch` and
/// `Credit` the data plane sends is built here, and every arriving batch is checked here, so
/// teacher and replica cannot disagree on a field.
///
/// - Step logits, teacher → replica r: `LogitsBatch{epoch, step, replica, teacher, sample_begin,
///   sample_end, dtype, top_k}` + the `LogitsCodec` frames of samples [begin, end) of the epoch's
///   permutation (full `[n × C]`, or top-k values `[n × k]`, indices `[n × k]` i32, tail `[n]`).
/// - Test-split logits, teacher → replica 0 once streaming ends: `test_split`, samples
///   [0, N_test), one full f32 frame `[N_test × C]`.
/// - Mutual term, teacher → teacher: `to_teacher`, `to_teacher_index`, the global batch's full
///   f32 logits `[n × C]` from before the sender's update of that step.
/// - Credits, replica → teacher: `Credit{replica, teacher, steps}`.
public struct LogitsStream: Sendable {
    public let runID: String
    public let classes: Int
    public let codec: LogitsCodec

    public init(runID: String, classes: Int, codec: LogitsCodec) {
        self.runID = runID
        self.classes = classes
        self.codec = codec
    }

    var dtype: DType { codec.float16 ? .f16 : .f32 }

    // MARK: building

    /// Step logits of samples `part` for replica `replica`, as `codec` encoded them.
    public func stepLogits(teacher: Int, epoch: Int, step: Int, replica: Int, part: ArraySlice<Int>,
                           encoded: LogitsCodec.Encoded) -> Message {
        let n = UInt64(part.count), k = UInt64(codec.topK)
        let tensors = codec.topK == 0
            ? [TensorMeta(name: "logits", dtype: dtype, shape: [n, UInt64(classes)])]
            : [TensorMeta(name: "values", dtype: dtype, shape: [n, k]), TensorMeta(name: "indices", dtype: .i32, shape: [n, k]),
               TensorMeta(name: "tail", dtype: dtype, shape: [n])]
        let body = LogitsBatch(runID: runID, epoch: UInt32(epoch), step: UInt64(step), replica: UInt32(replica),
                               teacher: UInt32(teacher), sampleBegin: UInt64(part.startIndex),
                               sampleEnd: UInt64(part.endIndex), dtype: dtype, topK: UInt32(codec.topK))
        return Message(Envelope(sender: sender(teacher: teacher), tensors: tensors, body: .logitsBatch(body)),
                       frames: encoded.frames.map { Frame(bytes: $0) })
    }

    /// A teacher's full f32 logits of the test split (`samples` rows), for replica 0.
    public func testSplitLogits(teacher: Int, logits: [Float], samples: Int) -> Message {
        let body = LogitsBatch(runID: runID, replica: 0, teacher: UInt32(teacher), sampleBegin: 0, sampleEnd: UInt64(samples),
                               dtype: .f32, testSplit: true)
        return fullF32(body, teacher: teacher, logits: logits, rows: samples)
    }

    /// A teacher's full f32 logits of the global batch `part` of (epoch, step), for teacher `peer`.
    public func peerLogits(teacher: Int, peer: Int, epoch: Int, step: Int, part: ArraySlice<Int>, logits: [Float]) -> Message {
        let body = LogitsBatch(runID: runID, epoch: UInt32(epoch), step: UInt64(step), teacher: UInt32(teacher),
                               sampleBegin: UInt64(part.startIndex), sampleEnd: UInt64(part.endIndex), dtype: .f32,
                               toTeacher: true, toTeacherIndex: UInt32(peer))
        return fullF32(body, teacher: teacher, logits: logits, rows: part.count)
    }

    /// Replica `replica` grants teacher `teacher` `steps` more steps.
    public func credit(replica: Int, teacher: Int, steps: Int) -> Message {
        let credit = Credit(runID: runID, replica: UInt32(replica), steps: UInt64(steps), teacher: UInt32(teacher))
        return Message(Envelope(sender: "\(runID)/student-\(replica)", body: .credit(credit)))
    }

    private func fullF32(_ body: LogitsBatch, teacher: Int, logits: [Float], rows: Int) -> Message {
        Message(Envelope(sender: sender(teacher: teacher),
                         tensors: [TensorMeta(name: "logits", dtype: .f32, shape: [UInt64(rows), UInt64(classes)])],
                         body: .logitsBatch(body)),
                frames: [Frame(bytes: logits.withUnsafeBytes { [UInt8]($0) })])
    }

    private func sender(teacher: Int) -> String { "\(runID)/teacher-\(teacher)" }

    // MARK: checking

    /// The step logits in `arrived`, decoded to `[n × C]` f32 (temperature-free logits, or the
    /// top-k reconstruction), after checking that they cover `part` in the run's dtype and top-k.
    public func decodeStepLogits(_ arrived: ArrivedLogits, part: ArraySlice<Int>, replica: Int) throws(DataPlaneError) -> [Float] {
        let b = arrived.batch
        guard b.sampleBegin == UInt64(part.startIndex), b.sampleEnd == UInt64(part.endIndex), b.dtype == dtype,
              b.topK == UInt32(codec.topK) else {
            throw .badLogits("teacher \(b.teacher) sent samples [\(b.sampleBegin), \(b.sampleEnd)) as \(b.dtype) top-\(b.topK) "
                + "for replica \(replica), which expects [\(part.startIndex), \(part.endIndex)) as \(dtype) top-\(codec.topK)")
        }
        do throws(LogitsCodec.DecodeError) {
            return try codec.decode(arrived.frames.map { f in f.withUnsafeBytes { [UInt8]($0) } }, samples: part.count)
        } catch {
            throw .badLogits("teacher \(b.teacher), samples [\(part.startIndex), \(part.endIndex)): \(error)")
        }
    }

    /// The full f32 logits in `arrived` (test split or a peer's), after checking that they are
    /// one frame of exactly `samples` × C; `what` names them in the error.
    public func fullLogits(_ arrived: ArrivedLogits, samples: Range<Int>, what: String) throws(DataPlaneError) -> [Float] {
        let b = arrived.batch
        guard b.sampleBegin == UInt64(samples.lowerBound), b.sampleEnd == UInt64(samples.upperBound), b.dtype == .f32,
              arrived.frames.count == 1, arrived.frames[0].count == samples.count * classes * 4 else {
            throw .badLogits("\(what): teacher \(b.teacher) sent samples [\(b.sampleBegin), \(b.sampleEnd)) as \(b.dtype) in "
                + "\(arrived.frames.count) frame(s), expected [\(samples.lowerBound), \(samples.upperBound)) as "
                + "\(samples.count)×\(classes) f32 in one frame")
        }
        return LogitsCodec.floats(arrived.frames[0].bytes, float16: false)
    }
}
