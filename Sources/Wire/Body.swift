/// The `body` oneof of `distillery.v1.Envelope`: exactly one message per envelope.
///
/// A received envelope whose body is not set, or is a case this peer does not know (a newer
/// protocol), fails decode with ``WireError/Kind/unknownMessage``.
public enum Body: Sendable, Equatable {
    case register(Register)
    case registerAck(RegisterAck)
    case heartbeat(Heartbeat)
    case deregister(Deregister)

    case submitRun(SubmitRun)
    case submitRunReply(SubmitRunReply)
    case statusRequest(StatusRequest)
    case clusterStatus(ClusterStatus)
    case listRuns(ListRuns)
    case runList(RunList)
    case watchRun(WatchRun)
    case runUpdate(RunUpdate)
    case cancelRun(CancelRun)
    case cancelRunReply(CancelRunReply)

    case assignTask(AssignTask)
    case taskStatus(TaskStatus)

    case shardOffer(ShardOffer)
    case shardRequest(ShardRequest)
    case shardChunk(ShardChunk)
    case shardAck(ShardAck)

    case logitsBatch(LogitsBatch)
    case testSplitLogits(TestSplitLogits)
    case peerTeacherLogits(PeerTeacherLogits)
    case credit(Credit)
    case gradientChunk(GradientChunk)

    case metrics(Metrics)
    case artifactChunk(ArtifactChunk)
    case artifactAck(ArtifactAck)

    case listEvents(ListEvents)
    case eventList(EventList)

    case error(ErrorReply)

    /// The proto message name of the body, e.g. "Heartbeat", "LogitsBatch", "Error".
    public var name: String {
        switch self {
        case .register: "Register"
        case .registerAck: "RegisterAck"
        case .heartbeat: "Heartbeat"
        case .deregister: "Deregister"
        case .submitRun: "SubmitRun"
        case .submitRunReply: "SubmitRunReply"
        case .statusRequest: "StatusRequest"
        case .clusterStatus: "ClusterStatus"
        case .listRuns: "ListRuns"
        case .runList: "RunList"
        case .watchRun: "WatchRun"
        case .runUpdate: "RunUpdate"
        case .cancelRun: "CancelRun"
        case .cancelRunReply: "CancelRunReply"
        case .assignTask: "AssignTask"
        case .taskStatus: "TaskStatus"
        case .shardOffer: "ShardOffer"
        case .shardRequest: "ShardRequest"
        case .shardChunk: "ShardChunk"
        case .shardAck: "ShardAck"
        case .logitsBatch: "LogitsBatch"
        case .testSplitLogits: "TestSplitLogits"
        case .peerTeacherLogits: "PeerTeacherLogits"
        case .credit: "Credit"
        case .gradientChunk: "GradientChunk"
        case .metrics: "Metrics"
        case .artifactChunk: "ArtifactChunk"
        case .artifactAck: "ArtifactAck"
        case .listEvents: "ListEvents"
        case .eventList: "EventList"
        case .error: "Error"
        }
    }

    /// The oneof member's proto field name, e.g. "logits_batch": the prefix of field paths
    /// in error texts.
    var fieldName: String {
        switch self {
        case .register: "register"
        case .registerAck: "register_ack"
        case .heartbeat: "heartbeat"
        case .deregister: "deregister"
        case .submitRun: "submit_run"
        case .submitRunReply: "submit_run_reply"
        case .statusRequest: "status_request"
        case .clusterStatus: "cluster_status"
        case .listRuns: "list_runs"
        case .runList: "run_list"
        case .watchRun: "watch_run"
        case .runUpdate: "run_update"
        case .cancelRun: "cancel_run"
        case .cancelRunReply: "cancel_run_reply"
        case .assignTask: "assign_task"
        case .taskStatus: "task_status"
        case .shardOffer: "shard_offer"
        case .shardRequest: "shard_request"
        case .shardChunk: "shard_chunk"
        case .shardAck: "shard_ack"
        case .logitsBatch: "logits_batch"
        case .testSplitLogits: "test_split_logits"
        case .peerTeacherLogits: "peer_teacher_logits"
        case .credit: "credit"
        case .gradientChunk: "gradient_chunk"
        case .metrics: "metrics"
        case .artifactChunk: "artifact_chunk"
        case .artifactAck: "artifact_ack"
        case .listEvents: "list_events"
        case .eventList: "event_list"
        case .error: "error"
        }
    }
}
