/// The per-body semantic rules (`.invalid`), checked on Swift values after the structural
/// checks, by decode and encode alike. Each message type's doc comment lists its rules.
enum Rules {
    static func check(_ e: Envelope) throws(WireError) {
        let t = e.tensors
        switch e.body {
        case .register(let m): try m.check(); try noTensors(t, e.body)
        case .registerAck(let m): try m.check(); try noTensors(t, e.body)
        case .heartbeat(let m): try m.check(); try noTensors(t, e.body)
        case .deregister: try noTensors(t, e.body)
        case .submitRun(let m): try m.check(); try noTensors(t, e.body)
        case .submitRunReply(let m): try m.check(); try noTensors(t, e.body)
        case .statusRequest: try noTensors(t, e.body)
        case .clusterStatus(let m): try m.check(); try noTensors(t, e.body)
        case .listRuns: try noTensors(t, e.body)
        case .listEvents: try noTensors(t, e.body)
        case .eventList(let m): try m.check(); try noTensors(t, e.body)
        case .runList(let m): try m.check(); try noTensors(t, e.body)
        case .watchRun(let m): try nonEmpty(m.runID, "watch_run.run_id"); try noTensors(t, e.body)
        case .runUpdate(let m): try m.check(); try noTensors(t, e.body)
        case .cancelRun(let m): try nonEmpty(m.runID, "cancel_run.run_id"); try noTensors(t, e.body)
        case .cancelRunReply: try noTensors(t, e.body)
        case .assignTask(let m): try m.check(); try noTensors(t, e.body)
        case .taskStatus(let m): try m.check(); try noTensors(t, e.body)
        case .shardOffer(let m): try m.check(); try noTensors(t, e.body)
        case .shardRequest(let m): try m.check(); try noTensors(t, e.body)
        case .shardChunk(let m): try m.check(tensors: t)
        case .shardAck(let m): try m.check(); try noTensors(t, e.body)
        case .logitsBatch(let m): try m.check(tensors: t)
        case .testSplitLogits(let m): try m.check(tensors: t)
        case .peerTeacherLogits(let m): try m.check(tensors: t)
        case .credit(let m): try m.check(); try noTensors(t, e.body)
        case .gradientChunk(let m): try m.check(tensors: t)
        case .metrics(let m): try m.check(); try noTensors(t, e.body)
        case .artifactChunk(let m): try m.check(tensors: t)
        case .artifactAck(let m): try m.check(); try noTensors(t, e.body)
        case .error(let m): try nonEmpty(m.message, "error.message"); try noTensors(t, e.body)
        }
    }

    // MARK: helpers

    /// Throws `.invalid` with `detail` unless `ok`.
    static func rule(_ ok: Bool, _ detail: @autoclosure () -> String) throws(WireError) {
        if !ok { throw WireError(.invalid, detail()) }
    }

    static func nonEmpty(_ s: String, _ path: String) throws(WireError) {
        try rule(!s.isEmpty, "\(path) must not be empty")
    }

    static func finiteNonNegative(_ x: Float, _ path: String) throws(WireError) {
        try rule(x.isFinite && x >= 0, "\(path) (\(x)) must be a finite number ≥ 0")
    }

    /// Messages that carry no tensor frames must describe none.
    static func noTensors(_ tensors: [TensorMeta], _ body: Body) throws(WireError) {
        try rule(tensors.isEmpty, "a \(body.name) carries no tensor frames, but tensors has \(tensors.count) "
            + "entr\(tensors.count == 1 ? "y" : "ies")")
    }

    /// Exactly `count` tensors for `body`, described as `what` in the error text.
    static func tensorCount(_ tensors: [TensorMeta], _ count: Int, _ body: String, _ what: String) throws(WireError) {
        try rule(tensors.count == count, "a \(body) carries exactly \(count) tensor\(count == 1 ? "" : "s") "
            + "(\(what)), but tensors has \(tensors.count)")
    }

    /// Tensor `i` has `dtype` and a shape matching `expected`, where nil means "any size ≥ 1"
    /// and `minimum` gives a lower bound for nil dimensions.
    static func tensor(_ tensors: [TensorMeta], _ i: Int, _ role: String, dtype: DType, shape expected: [UInt64?],
                       minimum: UInt64 = 1) throws(WireError) {
        let t = tensors[i]
        let wanted = "[" + expected.map { $0.map(String.init) ?? "≥\(minimum)" }.joined(separator: ", ") + "]"
        try rule(t.dtype == dtype, "tensors[\(i)] (\(role)) must be \(dtype), got \(t.dtype)")
        var matches = t.shape.count == expected.count
        if matches {
            for (dim, want) in zip(t.shape, expected) {
                if let want { matches = matches && dim == want } else { matches = matches && dim >= minimum }
            }
        }
        try rule(matches, "tensors[\(i)] (\(role)) must have shape \(wanted), got \(t.shape)")
    }

    /// Entries of `values` appear at most once.
    static func distinct<T: Hashable>(_ values: [T], _ path: String) throws(WireError) {
        var seen = Set<T>()
        for (i, v) in values.enumerated() {
            try rule(seen.insert(v).inserted, "\(path)[\(i)] (\(v)) repeats an earlier entry")
        }
    }
}
