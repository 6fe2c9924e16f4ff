internal import DistilleryProtoC

// Results and errors ↔ protobuf-c structs.

extension MetricValue {
    init(c: Distillery__V1__MetricValue, path: String) throws(WireError) {
        try self.init(name: CRead.string(c.name, "\(path).name"), value: c.value)
    }

    func c(_ a: CArena, path: String) throws(WireError) -> UnsafeMutablePointer<Distillery__V1__MetricValue> {
        let p = a.message(distillery__v1__metric_value__init)
        p.pointee.name = try a.string(name, "\(path).name")
        p.pointee.value = value
        return p
    }
}

extension Metrics {
    init(c: Distillery__V1__Metrics) throws(WireError) {
        try self.init(
            runID: CRead.string(c.run_id, "metrics.run_id"),
            epoch: c.epoch,
            step: c.step,
            values: CRead.messages(c.n_values, c.values, "metrics.values") { (m, path) throws(WireError) in
                try MetricValue(c: m, path: path)
            })
    }

    func c(_ a: CArena) throws(WireError) -> UnsafeMutablePointer<Distillery__V1__Metrics> {
        let p = a.message(distillery__v1__metrics__init)
        p.pointee.run_id = try a.string(runID, "metrics.run_id")
        p.pointee.epoch = epoch
        p.pointee.step = step
        p.pointee.n_values = values.count
        p.pointee.values = try a.messages(values) { (m, i) throws(WireError) in
            try m.c(a, path: "metrics.values[\(i)]")
        }
        return p
    }
}

extension ArtifactChunk {
    init(c: Distillery__V1__ArtifactChunk) throws(WireError) {
        try self.init(
            runID: CRead.string(c.run_id, "artifact_chunk.run_id"),
            name: CRead.string(c.name, "artifact_chunk.name"),
            sha256: CRead.string(c.sha256, "artifact_chunk.sha256"),
            totalBytes: c.total_bytes,
            offset: c.offset,
            last: c.last != 0)
    }

    func c(_ a: CArena) throws(WireError) -> UnsafeMutablePointer<Distillery__V1__ArtifactChunk> {
        let p = a.message(distillery__v1__artifact_chunk__init)
        p.pointee.run_id = try a.string(runID, "artifact_chunk.run_id")
        p.pointee.name = try a.string(name, "artifact_chunk.name")
        p.pointee.sha256 = try a.string(sha256, "artifact_chunk.sha256")
        p.pointee.total_bytes = totalBytes
        p.pointee.offset = offset
        p.pointee.last = last ? 1 : 0
        return p
    }
}

extension ArtifactAck {
    init(c: Distillery__V1__ArtifactAck) throws(WireError) {
        try self.init(
            runID: CRead.string(c.run_id, "artifact_ack.run_id"),
            name: CRead.string(c.name, "artifact_ack.name"),
            stored: c.stored != 0,
            error: CRead.string(c.error, "artifact_ack.error"))
    }

    func c(_ a: CArena) throws(WireError) -> UnsafeMutablePointer<Distillery__V1__ArtifactAck> {
        let p = a.message(distillery__v1__artifact_ack__init)
        p.pointee.run_id = try a.string(runID, "artifact_ack.run_id")
        p.pointee.name = try a.string(name, "artifact_ack.name")
        p.pointee.stored = stored ? 1 : 0
        p.pointee.error = try a.string(error, "artifact_ack.error")
        return p
    }
}

extension ErrorReply {
    init(c: Distillery__V1__Error) throws(WireError) {
        try self.init(
            code: CRead.enumValue(c.code.rawValue, "error.code"),
            message: CRead.string(c.message, "error.message"))
    }

    func c(_ a: CArena) throws(WireError) -> UnsafeMutablePointer<Distillery__V1__Error> {
        let p = a.message(distillery__v1__error__init)
        p.pointee.code = Distillery__V1__ErrorCode(rawValue: code.rawValue)
        p.pointee.message = try a.string(message, "error.message")
        return p
    }
}
