internal import DistilleryProtoC

// Envelope, TensorMeta and the body oneof ↔ protobuf-c structs.

extension TensorMeta {
    init(c: Distillery__V1__TensorMeta, path: String) throws(WireError) {
        try self.init(
            name: CRead.string(c.name, "\(path).name"),
            dtype: CRead.enumValue(c.dtype.rawValue, "\(path).dtype"),
            shape: CRead.array(c.n_shape, c.shape),
            byteLength: c.byte_length)
    }

    func c(_ a: CArena, path: String) throws(WireError) -> UnsafeMutablePointer<Distillery__V1__TensorMeta> {
        let p = a.message(distillery__v1__tensor_meta__init)
        p.pointee.name = try a.string(name, "\(path).name")
        p.pointee.dtype = Distillery__V1__DType(rawValue: dtype.rawValue)
        p.pointee.n_shape = shape.count
        p.pointee.shape = a.array(shape)
        p.pointee.byte_length = byteLength
        return p
    }
}

extension Envelope {
    /// The Swift envelope of an unpacked one whose header, counts, body case and tensors have
    /// been checked; enum values and UTF-8 are checked here (`.invalid`).
    init(c: Distillery__V1__Envelope) throws(WireError) {
        try self.init(
            sender: CRead.string(c.sender, "sender"),
            requestID: c.request_id,
            replyTo: c.reply_to,
            tensors: CRead.messages(c.n_tensors, c.tensors, "tensors") { (t, path) throws(WireError) in
                try TensorMeta(c: t, path: path)
            },
            body: Body(c: c),
            protocolVersion: c.protocol_version)
    }

    /// The C envelope, allocated in `a` (valid as long as `a` is).
    func c(_ a: CArena) throws(WireError) -> UnsafeMutablePointer<Distillery__V1__Envelope> {
        let p = a.message(distillery__v1__envelope__init)
        p.pointee.protocol_version = protocolVersion
        p.pointee.sender = try a.string(sender, "sender")
        p.pointee.request_id = requestID
        p.pointee.reply_to = replyTo
        p.pointee.n_tensors = tensors.count
        p.pointee.tensors = try a.messages(tensors) { (t, i) throws(WireError) in
            try t.c(a, path: "tensors[\(i)]")
        }
        try body.set(in: p, a)
        return p
    }
}

extension Body {
    /// Whether the envelope's body case is one this implementation knows.
    static func isKnown(_ c: Distillery__V1__Envelope__BodyCase) -> Bool {
        switch c {
        case DISTILLERY__V1__ENVELOPE__BODY_REGISTER, DISTILLERY__V1__ENVELOPE__BODY_REGISTER_ACK,
             DISTILLERY__V1__ENVELOPE__BODY_HEARTBEAT, DISTILLERY__V1__ENVELOPE__BODY_DEREGISTER,
             DISTILLERY__V1__ENVELOPE__BODY_SUBMIT_RUN, DISTILLERY__V1__ENVELOPE__BODY_SUBMIT_RUN_REPLY,
             DISTILLERY__V1__ENVELOPE__BODY_STATUS_REQUEST, DISTILLERY__V1__ENVELOPE__BODY_CLUSTER_STATUS,
             DISTILLERY__V1__ENVELOPE__BODY_LIST_RUNS, DISTILLERY__V1__ENVELOPE__BODY_RUN_LIST,
             DISTILLERY__V1__ENVELOPE__BODY_WATCH_RUN, DISTILLERY__V1__ENVELOPE__BODY_RUN_UPDATE,
             DISTILLERY__V1__ENVELOPE__BODY_CANCEL_RUN, DISTILLERY__V1__ENVELOPE__BODY_CANCEL_RUN_REPLY,
             DISTILLERY__V1__ENVELOPE__BODY_LIST_EVENTS, DISTILLERY__V1__ENVELOPE__BODY_EVENT_LIST,
             DISTILLERY__V1__ENVELOPE__BODY_ASSIGN_TASK, DISTILLERY__V1__ENVELOPE__BODY_TASK_STATUS,
             DISTILLERY__V1__ENVELOPE__BODY_SHARD_OFFER, DISTILLERY__V1__ENVELOPE__BODY_SHARD_REQUEST,
             DISTILLERY__V1__ENVELOPE__BODY_SHARD_CHUNK, DISTILLERY__V1__ENVELOPE__BODY_SHARD_ACK,
             DISTILLERY__V1__ENVELOPE__BODY_LOGITS_BATCH, DISTILLERY__V1__ENVELOPE__BODY_CREDIT,
             DISTILLERY__V1__ENVELOPE__BODY_TEST_SPLIT_LOGITS, DISTILLERY__V1__ENVELOPE__BODY_PEER_TEACHER_LOGITS,
             DISTILLERY__V1__ENVELOPE__BODY_GRADIENT_CHUNK, DISTILLERY__V1__ENVELOPE__BODY_METRICS,
             DISTILLERY__V1__ENVELOPE__BODY_ARTIFACT_CHUNK, DISTILLERY__V1__ENVELOPE__BODY_ARTIFACT_ACK,
             DISTILLERY__V1__ENVELOPE__BODY_ERROR:
            true
        default:
            false
        }
    }

    /// The body of an unpacked envelope whose body case is known (see ``isKnown(_:)``).
    init(c e: Distillery__V1__Envelope) throws(WireError) {
        switch e.body_case {
        case DISTILLERY__V1__ENVELOPE__BODY_REGISTER: self = try .register(Register(c: Body.member(e.register_)))
        case DISTILLERY__V1__ENVELOPE__BODY_REGISTER_ACK: self = try .registerAck(RegisterAck(c: Body.member(e.register_ack)))
        case DISTILLERY__V1__ENVELOPE__BODY_HEARTBEAT: self = try .heartbeat(Heartbeat(c: Body.member(e.heartbeat)))
        case DISTILLERY__V1__ENVELOPE__BODY_DEREGISTER: self = try .deregister(Deregister(c: Body.member(e.deregister)))
        case DISTILLERY__V1__ENVELOPE__BODY_SUBMIT_RUN: self = try .submitRun(SubmitRun(c: Body.member(e.submit_run)))
        case DISTILLERY__V1__ENVELOPE__BODY_SUBMIT_RUN_REPLY:
            self = try .submitRunReply(SubmitRunReply(c: Body.member(e.submit_run_reply)))
        case DISTILLERY__V1__ENVELOPE__BODY_STATUS_REQUEST:
            _ = try Body.member(e.status_request)
            self = .statusRequest(StatusRequest())
        case DISTILLERY__V1__ENVELOPE__BODY_CLUSTER_STATUS:
            self = try .clusterStatus(ClusterStatus(c: Body.member(e.cluster_status)))
        case DISTILLERY__V1__ENVELOPE__BODY_LIST_EVENTS: self = try .listEvents(ListEvents(c: Body.member(e.list_events)))
        case DISTILLERY__V1__ENVELOPE__BODY_EVENT_LIST: self = try .eventList(EventList(c: Body.member(e.event_list)))
        case DISTILLERY__V1__ENVELOPE__BODY_LIST_RUNS: self = try .listRuns(ListRuns(c: Body.member(e.list_runs)))
        case DISTILLERY__V1__ENVELOPE__BODY_RUN_LIST: self = try .runList(RunList(c: Body.member(e.run_list)))
        case DISTILLERY__V1__ENVELOPE__BODY_WATCH_RUN: self = try .watchRun(WatchRun(c: Body.member(e.watch_run)))
        case DISTILLERY__V1__ENVELOPE__BODY_RUN_UPDATE: self = try .runUpdate(RunUpdate(c: Body.member(e.run_update)))
        case DISTILLERY__V1__ENVELOPE__BODY_CANCEL_RUN: self = try .cancelRun(CancelRun(c: Body.member(e.cancel_run)))
        case DISTILLERY__V1__ENVELOPE__BODY_CANCEL_RUN_REPLY:
            self = try .cancelRunReply(CancelRunReply(c: Body.member(e.cancel_run_reply)))
        case DISTILLERY__V1__ENVELOPE__BODY_ASSIGN_TASK: self = try .assignTask(AssignTask(c: Body.member(e.assign_task)))
        case DISTILLERY__V1__ENVELOPE__BODY_TASK_STATUS: self = try .taskStatus(TaskStatus(c: Body.member(e.task_status)))
        case DISTILLERY__V1__ENVELOPE__BODY_SHARD_OFFER: self = try .shardOffer(ShardOffer(c: Body.member(e.shard_offer)))
        case DISTILLERY__V1__ENVELOPE__BODY_SHARD_REQUEST:
            self = try .shardRequest(ShardRequest(c: Body.member(e.shard_request)))
        case DISTILLERY__V1__ENVELOPE__BODY_SHARD_CHUNK: self = try .shardChunk(ShardChunk(c: Body.member(e.shard_chunk)))
        case DISTILLERY__V1__ENVELOPE__BODY_SHARD_ACK: self = try .shardAck(ShardAck(c: Body.member(e.shard_ack)))
        case DISTILLERY__V1__ENVELOPE__BODY_LOGITS_BATCH:
            self = try .logitsBatch(LogitsBatch(c: Body.member(e.logits_batch)))
        case DISTILLERY__V1__ENVELOPE__BODY_TEST_SPLIT_LOGITS:
            self = try .testSplitLogits(TestSplitLogits(c: Body.member(e.test_split_logits)))
        case DISTILLERY__V1__ENVELOPE__BODY_PEER_TEACHER_LOGITS:
            self = try .peerTeacherLogits(PeerTeacherLogits(c: Body.member(e.peer_teacher_logits)))
        case DISTILLERY__V1__ENVELOPE__BODY_CREDIT: self = try .credit(Credit(c: Body.member(e.credit)))
        case DISTILLERY__V1__ENVELOPE__BODY_GRADIENT_CHUNK:
            self = try .gradientChunk(GradientChunk(c: Body.member(e.gradient_chunk)))
        case DISTILLERY__V1__ENVELOPE__BODY_METRICS: self = try .metrics(Metrics(c: Body.member(e.metrics)))
        case DISTILLERY__V1__ENVELOPE__BODY_ARTIFACT_CHUNK:
            self = try .artifactChunk(ArtifactChunk(c: Body.member(e.artifact_chunk)))
        case DISTILLERY__V1__ENVELOPE__BODY_ARTIFACT_ACK:
            self = try .artifactAck(ArtifactAck(c: Body.member(e.artifact_ack)))
        case DISTILLERY__V1__ENVELOPE__BODY_ERROR: self = try .error(ErrorReply(c: Body.member(e.error)))
        default:
            throw WireError(.unknownMessage, "envelope body case \(e.body_case.rawValue) is not a known message")
        }
    }

    /// The oneof member's struct (protobuf-c always sets the pointer with the case).
    private static func member<C>(_ p: UnsafeMutablePointer<C>?) throws(WireError) -> C {
        guard let p else { throw WireError(.malformed, "envelope body case is set but its message is missing") }
        return p.pointee
    }

    /// Sets `body_case` and the union member of the C envelope `e`.
    func set(in e: UnsafeMutablePointer<Distillery__V1__Envelope>, _ a: CArena) throws(WireError) {
        switch self {
        case .register(let m):
            e.pointee.body_case = DISTILLERY__V1__ENVELOPE__BODY_REGISTER
            e.pointee.register_ = try m.c(a)
        case .registerAck(let m):
            e.pointee.body_case = DISTILLERY__V1__ENVELOPE__BODY_REGISTER_ACK
            e.pointee.register_ack = try m.c(a)
        case .heartbeat(let m):
            e.pointee.body_case = DISTILLERY__V1__ENVELOPE__BODY_HEARTBEAT
            e.pointee.heartbeat = try m.c(a)
        case .deregister(let m):
            e.pointee.body_case = DISTILLERY__V1__ENVELOPE__BODY_DEREGISTER
            e.pointee.deregister = try m.c(a)
        case .submitRun(let m):
            e.pointee.body_case = DISTILLERY__V1__ENVELOPE__BODY_SUBMIT_RUN
            e.pointee.submit_run = try m.c(a)
        case .submitRunReply(let m):
            e.pointee.body_case = DISTILLERY__V1__ENVELOPE__BODY_SUBMIT_RUN_REPLY
            e.pointee.submit_run_reply = try m.c(a)
        case .statusRequest(let m):
            e.pointee.body_case = DISTILLERY__V1__ENVELOPE__BODY_STATUS_REQUEST
            e.pointee.status_request = m.c(a)
        case .clusterStatus(let m):
            e.pointee.body_case = DISTILLERY__V1__ENVELOPE__BODY_CLUSTER_STATUS
            e.pointee.cluster_status = try m.c(a)
        case .listEvents(let m):
            e.pointee.body_case = DISTILLERY__V1__ENVELOPE__BODY_LIST_EVENTS
            e.pointee.list_events = try m.c(a)
        case .eventList(let m):
            e.pointee.body_case = DISTILLERY__V1__ENVELOPE__BODY_EVENT_LIST
            e.pointee.event_list = try m.c(a)
        case .listRuns(let m):
            e.pointee.body_case = DISTILLERY__V1__ENVELOPE__BODY_LIST_RUNS
            e.pointee.list_runs = m.c(a)
        case .runList(let m):
            e.pointee.body_case = DISTILLERY__V1__ENVELOPE__BODY_RUN_LIST
            e.pointee.run_list = try m.c(a)
        case .watchRun(let m):
            e.pointee.body_case = DISTILLERY__V1__ENVELOPE__BODY_WATCH_RUN
            e.pointee.watch_run = try m.c(a)
        case .runUpdate(let m):
            e.pointee.body_case = DISTILLERY__V1__ENVELOPE__BODY_RUN_UPDATE
            e.pointee.run_update = try m.c(a)
        case .cancelRun(let m):
            e.pointee.body_case = DISTILLERY__V1__ENVELOPE__BODY_CANCEL_RUN
            e.pointee.cancel_run = try m.c(a)
        case .cancelRunReply(let m):
            e.pointee.body_case = DISTILLERY__V1__ENVELOPE__BODY_CANCEL_RUN_REPLY
            e.pointee.cancel_run_reply = try m.c(a)
        case .assignTask(let m):
            e.pointee.body_case = DISTILLERY__V1__ENVELOPE__BODY_ASSIGN_TASK
            e.pointee.assign_task = try m.c(a)
        case .taskStatus(let m):
            e.pointee.body_case = DISTILLERY__V1__ENVELOPE__BODY_TASK_STATUS
            e.pointee.task_status = try m.c(a)
        case .shardOffer(let m):
            e.pointee.body_case = DISTILLERY__V1__ENVELOPE__BODY_SHARD_OFFER
            e.pointee.shard_offer = try m.c(a)
        case .shardRequest(let m):
            e.pointee.body_case = DISTILLERY__V1__ENVELOPE__BODY_SHARD_REQUEST
            e.pointee.shard_request = try m.c(a)
        case .shardChunk(let m):
            e.pointee.body_case = DISTILLERY__V1__ENVELOPE__BODY_SHARD_CHUNK
            e.pointee.shard_chunk = try m.c(a)
        case .shardAck(let m):
            e.pointee.body_case = DISTILLERY__V1__ENVELOPE__BODY_SHARD_ACK
            e.pointee.shard_ack = try m.c(a)
        case .logitsBatch(let m):
            e.pointee.body_case = DISTILLERY__V1__ENVELOPE__BODY_LOGITS_BATCH
            e.pointee.logits_batch = try m.c(a)
        case .testSplitLogits(let m):
            e.pointee.body_case = DISTILLERY__V1__ENVELOPE__BODY_TEST_SPLIT_LOGITS
            e.pointee.test_split_logits = try m.c(a)
        case .peerTeacherLogits(let m):
            e.pointee.body_case = DISTILLERY__V1__ENVELOPE__BODY_PEER_TEACHER_LOGITS
            e.pointee.peer_teacher_logits = try m.c(a)
        case .credit(let m):
            e.pointee.body_case = DISTILLERY__V1__ENVELOPE__BODY_CREDIT
            e.pointee.credit = try m.c(a)
        case .gradientChunk(let m):
            e.pointee.body_case = DISTILLERY__V1__ENVELOPE__BODY_GRADIENT_CHUNK
            e.pointee.gradient_chunk = try m.c(a)
        case .metrics(let m):
            e.pointee.body_case = DISTILLERY__V1__ENVELOPE__BODY_METRICS
            e.pointee.metrics = try m.c(a)
        case .artifactChunk(let m):
            e.pointee.body_case = DISTILLERY__V1__ENVELOPE__BODY_ARTIFACT_CHUNK
            e.pointee.artifact_chunk = try m.c(a)
        case .artifactAck(let m):
            e.pointee.body_case = DISTILLERY__V1__ENVELOPE__BODY_ARTIFACT_ACK
            e.pointee.artifact_ack = try m.c(a)
        case .error(let m):
            e.pointee.body_case = DISTILLERY__V1__ENVELOPE__BODY_ERROR
            e.pointee.error = try m.c(a)
        }
    }
}
