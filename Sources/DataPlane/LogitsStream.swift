import Distillation
import Transport
import Wire

/// The logits stream of one run (docs/PROTOCOL.md "Logits stream"): every `LogitsBatch`,
/// `TestSplitLogits`, `PeerTeacherLogits` and `Credit` the data plane sends is built here, and
/// every arriving logits message is checked here, so teacher and replica cannot disagree on a
/// field.
///
/// - Step logits, teacher → replica r: `LogitsBatch{epoch, step, replica, teacher, sample_begin,
///   sample_end, dtype, top_k}` + the `LogitsCodec` frames of samples [begin, end) of the epoch's
///   permutation (full `[n × C]`, or top-k values `[n × k]`, indices `[n × k]` i32, tail `[n]`).
/// - Test-split logits, teacher → replica 0 once streaming ends: `TestSplitLogits{teacher,
///   sample_count = N_test}`, one full f32 frame `[N_test × C]`.
/// - Mutual term, teacher → teacher: `PeerTeacherLogits{epoch, step, from_teacher, to_teacher,
///   sample_begin, sample_end, resent}`, the global batch's full f32 logits `[n × C]` from before
///   the sender's update of that step.
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
        let body = TestSplitLogits(runID: runID, teacher: UInt32(teacher), sampleCount: UInt64(samples))
        return fullF32(.testSplitLogits(body), teacher: teacher, logits: logits, rows: samples)
    }

    /// A teacher's full f32 logits of the global batch `part` of (epoch, step), for teacher `peer`;
    /// `resent` when they answer the peer's request (docs/PROTOCOL.md "Mutual term").
    public func peerLogits(teacher: Int, peer: Int, epoch: Int, step: Int, part: ArraySlice<Int>, logits: [Float],
                           resent: Bool = false) -> Message {
        let body = PeerTeacherLogits(runID: runID, epoch: UInt32(epoch), step: UInt64(step), fromTeacher: UInt32(teacher),
                                     toTeacher: UInt32(peer), sampleBegin: UInt64(part.startIndex),
                                     sampleEnd: UInt64(part.endIndex), resent: resent)
        return fullF32(.peerTeacherLogits(body), teacher: teacher, logits: logits, rows: part.count)
    }

    /// Replica `replica` grants teacher `teacher` `steps` more steps.
    public func credit(replica: Int, teacher: Int, steps: Int) -> Message {
        let credit = Credit(runID: runID, replica: UInt32(replica), steps: UInt64(steps), teacher: UInt32(teacher))
        return Message(Envelope(sender: "\(runID)/student-\(replica)", body: .credit(credit)))
    }

    private func fullF32(_ body: Body, teacher: Int, logits: [Float], rows: Int) -> Message {
        Message(Envelope(sender: sender(teacher: teacher),
                         tensors: [TensorMeta(name: "logits", dtype: .f32, shape: [UInt64(rows), UInt64(classes)])],
                         body: body),
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

    /// Teacher `arrived.logits.teacher`'s test-split logits, after checking that they are one f32
    /// frame of exactly `samples` × C.
    public func testSplitLogits(_ arrived: ArrivedTestSplit, samples: Int) throws(DataPlaneError) -> [Float] {
        let t = arrived.logits
        guard t.sampleCount == UInt64(samples) else {
            throw .badLogits("test-split logits: teacher \(t.teacher) sent \(t.sampleCount) samples, expected the test "
                + "split's \(samples)")
        }
        return try oneF32Frame(arrived.frames, teacher: t.teacher, sent: "\(t.sampleCount) samples", rows: samples,
                               expected: "\(samples) samples", what: "test-split logits")
    }

    /// A peer's logits of the global batch `part`, after checking that they cover exactly `part`
    /// in one f32 frame of `part.count` × C; `what` names them in the error.
    public func peerLogits(_ arrived: ArrivedPeerLogits, part: ArraySlice<Int>, what: String) throws(DataPlaneError) -> [Float] {
        let p = arrived.logits
        guard p.sampleBegin == UInt64(part.startIndex), p.sampleEnd == UInt64(part.endIndex) else {
            throw .badLogits("\(what): teacher \(p.fromTeacher) sent samples [\(p.sampleBegin), \(p.sampleEnd)), "
                + "expected [\(part.startIndex), \(part.endIndex))")
        }
        return try oneF32Frame(arrived.frames, teacher: p.fromTeacher, sent: "samples [\(p.sampleBegin), \(p.sampleEnd))",
                               rows: part.count, expected: "[\(part.startIndex), \(part.endIndex))", what: what)
    }

    /// The floats of `frames` when they are one f32 frame of `rows` × C rows (the wire checked
    /// the frame against the header; this checks the header against what the receiver expects).
    private func oneF32Frame(_ frames: [Frame], teacher: UInt32, sent: String, rows: Int, expected: String,
                             what: String) throws(DataPlaneError) -> [Float] {
        guard frames.count == 1, frames[0].count == rows * classes * 4 else {
            throw .badLogits("\(what): teacher \(teacher) sent \(sent) in \(frames.count) frame(s) of "
                + "\(frames.map { String($0.count) }.joined(separator: ", ")) bytes, expected \(expected) as "
                + "\(rows)×\(classes) f32 in one frame")
        }
        return LogitsCodec.floats(frames[0].bytes, float16: false)
    }
}
