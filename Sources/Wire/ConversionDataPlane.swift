internal import DistilleryProtoC

// Data-plane messages ↔ protobuf-c structs.

extension LogitsBatch {
    init(c: Distillery__V1__LogitsBatch) throws(WireError) {
        try self.init(
            runID: CRead.string(c.run_id, "logits_batch.run_id"),
            epoch: c.epoch,
            step: c.step,
            replica: c.replica,
            teacher: c.teacher,
            sampleBegin: c.sample_begin,
            sampleEnd: c.sample_end,
            dtype: CRead.enumValue(c.dtype.rawValue, "logits_batch.dtype"),
            topK: c.top_k)
    }

    func c(_ a: CArena) throws(WireError) -> UnsafeMutablePointer<Distillery__V1__LogitsBatch> {
        let p = a.message(distillery__v1__logits_batch__init)
        p.pointee.run_id = try a.string(runID, "logits_batch.run_id")
        p.pointee.epoch = epoch
        p.pointee.step = step
        p.pointee.replica = replica
        p.pointee.teacher = teacher
        p.pointee.sample_begin = sampleBegin
        p.pointee.sample_end = sampleEnd
        p.pointee.dtype = Distillery__V1__DType(rawValue: dtype.rawValue)
        p.pointee.top_k = topK
        return p
    }
}

extension TestSplitLogits {
    init(c: Distillery__V1__TestSplitLogits) throws(WireError) {
        try self.init(runID: CRead.string(c.run_id, "test_split_logits.run_id"), teacher: c.teacher,
                      sampleCount: c.sample_count)
    }

    func c(_ a: CArena) throws(WireError) -> UnsafeMutablePointer<Distillery__V1__TestSplitLogits> {
        let p = a.message(distillery__v1__test_split_logits__init)
        p.pointee.run_id = try a.string(runID, "test_split_logits.run_id")
        p.pointee.teacher = teacher
        p.pointee.sample_count = sampleCount
        return p
    }
}

extension PeerTeacherLogits {
    init(c: Distillery__V1__PeerTeacherLogits) throws(WireError) {
        try self.init(
            runID: CRead.string(c.run_id, "peer_teacher_logits.run_id"),
            epoch: c.epoch,
            step: c.step,
            fromTeacher: c.from_teacher,
            toTeacher: c.to_teacher,
            sampleBegin: c.sample_begin,
            sampleEnd: c.sample_end,
            resent: c.resent != 0)
    }

    func c(_ a: CArena) throws(WireError) -> UnsafeMutablePointer<Distillery__V1__PeerTeacherLogits> {
        let p = a.message(distillery__v1__peer_teacher_logits__init)
        p.pointee.run_id = try a.string(runID, "peer_teacher_logits.run_id")
        p.pointee.epoch = epoch
        p.pointee.step = step
        p.pointee.from_teacher = fromTeacher
        p.pointee.to_teacher = toTeacher
        p.pointee.sample_begin = sampleBegin
        p.pointee.sample_end = sampleEnd
        p.pointee.resent = resent ? 1 : 0
        return p
    }
}

extension Credit {
    init(c: Distillery__V1__Credit) throws(WireError) {
        try self.init(runID: CRead.string(c.run_id, "credit.run_id"), replica: c.replica, steps: c.steps, teacher: c.teacher)
    }

    func c(_ a: CArena) throws(WireError) -> UnsafeMutablePointer<Distillery__V1__Credit> {
        let p = a.message(distillery__v1__credit__init)
        p.pointee.run_id = try a.string(runID, "credit.run_id")
        p.pointee.replica = replica
        p.pointee.steps = steps
        p.pointee.teacher = teacher
        return p
    }
}

extension GradientChunk {
    init(c: Distillery__V1__GradientChunk) throws(WireError) {
        try self.init(
            runID: CRead.string(c.run_id, "gradient_chunk.run_id"),
            generation: c.generation,
            step: c.step,
            chunk: c.chunk,
            phase: CRead.enumValue(c.phase.rawValue, "gradient_chunk.phase"),
            hop: c.hop)
    }

    func c(_ a: CArena) throws(WireError) -> UnsafeMutablePointer<Distillery__V1__GradientChunk> {
        let p = a.message(distillery__v1__gradient_chunk__init)
        p.pointee.run_id = try a.string(runID, "gradient_chunk.run_id")
        p.pointee.generation = generation
        p.pointee.step = step
        p.pointee.chunk = chunk
        p.pointee.phase = Distillery__V1__RingPhase(rawValue: phase.rawValue)
        p.pointee.hop = hop
        return p
    }
}
