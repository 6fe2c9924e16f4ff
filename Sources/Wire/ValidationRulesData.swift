// Semantic rules of the messages that carry tensor frames.

extension LogitsBatch {
    func check(tensors: [TensorMeta]) throws(WireError) {
        try Rules.nonEmpty(runID, "logits_batch.run_id")
        try Rules.rule(sampleEnd > sampleBegin, "logits_batch.sample_end (\(sampleEnd)) must be greater than "
            + "sample_begin (\(sampleBegin))")
        try Rules.rule(dtype == .f32 || dtype == .f16, "logits_batch.dtype (\(dtype)) must be f32 or f16")
        let n = sampleEnd - sampleBegin
        if topK == 0 {
            try Rules.tensorCount(tensors, 1, "LogitsBatch with top_k 0", "logits [\(n), classes]")
            try Rules.tensor(tensors, 0, "logits", dtype: dtype, shape: [n, nil])
        } else {
            let k = UInt64(topK)
            try Rules.tensorCount(tensors, 3, "LogitsBatch with top_k \(topK)",
                                  "values [\(n), \(k)], indices [\(n), \(k)] i32, tail mass [\(n)]")
            try Rules.tensor(tensors, 0, "top-k values", dtype: dtype, shape: [n, k])
            try Rules.tensor(tensors, 1, "top-k indices", dtype: .i32, shape: [n, k])
            try Rules.tensor(tensors, 2, "tail mass", dtype: dtype, shape: [n])
        }
    }
}

extension TestSplitLogits {
    func check(tensors: [TensorMeta]) throws(WireError) {
        try Rules.nonEmpty(runID, "test_split_logits.run_id")
        try Rules.rule(sampleCount >= 1, "test_split_logits.sample_count must be at least 1")
        try Rules.tensorCount(tensors, 1, "TestSplitLogits", "logits [\(sampleCount), classes] f32")
        try Rules.tensor(tensors, 0, "test-split logits", dtype: .f32, shape: [sampleCount, nil])
    }
}

extension PeerTeacherLogits {
    func check(tensors: [TensorMeta]) throws(WireError) {
        try Rules.nonEmpty(runID, "peer_teacher_logits.run_id")
        try Rules.rule(sampleEnd > sampleBegin, "peer_teacher_logits.sample_end (\(sampleEnd)) must be greater than "
            + "sample_begin (\(sampleBegin))")
        try Rules.rule(toTeacher != fromTeacher, "peer_teacher_logits.to_teacher (\(toTeacher)) must not be "
            + "from_teacher: a teacher does not send its logits to itself")
        let n = sampleEnd - sampleBegin
        try Rules.tensorCount(tensors, 1, "PeerTeacherLogits", "logits [\(n), classes] f32")
        try Rules.tensor(tensors, 0, "peer logits", dtype: .f32, shape: [n, nil])
    }
}

extension Credit {
    func check() throws(WireError) {
        try Rules.nonEmpty(runID, "credit.run_id")
        try Rules.rule(steps >= 1, "credit.steps must be at least 1")
    }
}

extension GradientChunk {
    func check(tensors: [TensorMeta]) throws(WireError) {
        try Rules.nonEmpty(runID, "gradient_chunk.run_id")
        try Rules.tensorCount(tensors, 1, "GradientChunk", "the chunk, f32 [length]")
        try Rules.tensor(tensors, 0, "gradient chunk", dtype: .f32, shape: [nil])
    }
}

extension ShardChunk {
    func check(tensors: [TensorMeta]) throws(WireError) {
        try Rules.nonEmpty(shardHash, "shard_chunk.shard_hash")
        try Rules.tensorCount(tensors, 1, "ShardChunk", "the chunk's bytes, u8 [length]")
        try Rules.tensor(tensors, 0, "chunk bytes", dtype: .u8, shape: [nil])
        let (_, overflow) = offset.addingReportingOverflow(tensors[0].byteLength)
        try Rules.rule(!overflow, "shard_chunk.offset (\(offset)) + \(tensors[0].byteLength) bytes overflows 64 bits")
    }
}

extension ArtifactChunk {
    func check(tensors: [TensorMeta]) throws(WireError) {
        try Rules.nonEmpty(runID, "artifact_chunk.run_id")
        try Rules.nonEmpty(name, "artifact_chunk.name")
        try Rules.nonEmpty(sha256, "artifact_chunk.sha256")
        try Rules.tensorCount(tensors, 1, "ArtifactChunk", "the chunk's bytes, u8 [length]")
        try Rules.tensor(tensors, 0, "chunk bytes", dtype: .u8, shape: [nil], minimum: 0)
        let length = tensors[0].byteLength
        let (end, overflow) = offset.addingReportingOverflow(length)
        try Rules.rule(!overflow && end <= totalBytes, "artifact_chunk.offset (\(offset)) + \(length) bytes must not "
            + "exceed total_bytes (\(totalBytes))")
        if last {
            try Rules.rule(end == totalBytes, "artifact_chunk is last but offset (\(offset)) + \(length) bytes = "
                + "\(end), not total_bytes (\(totalBytes))")
        }
    }
}
