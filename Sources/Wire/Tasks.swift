// Task assignment and progress (proto section "tasks").

/// A teacher's part of a run (proto `distillery.v1.TeacherTask`).
///
/// The teacher's model and where it comes from (a checkpoint, or a recipe to train) are in
/// the run spec (`AssignTask.run_spec_yaml`, `teachers[teacher_index]`), which the worker
/// parses once; fields 2 and 4 (`model_spec`, `recipe_yaml`, which repeated it) are reserved.
///
/// Rules: `replicas` without repeats; `replica_endpoints` empty or one per replica;
/// `teacher_endpoints` empty or with `teacher_index` in range.
public struct TeacherTask: Sendable, Equatable {
    public var teacherIndex: UInt32
    /// The SHA-256 of a checkpoint the coordinator sends: a `checkpoint:` teacher's file, or a
    /// stored trained teacher of the same recipe key (empty: train from the recipe).
    public var checkpointHash: String
    /// The replica slots this teacher streams to (`StudentTask.replicaSlot`; slot = rank in
    /// ring generation 1). A repeated assignment leaves out the slot of a lost replica.
    public var replicas: [UInt32]
    /// Data endpoints of `replicas`, in the same order (empty when not known).
    public var replicaEndpoints: [String]
    /// Every teacher's data endpoint by teacher index (online runs with a mutual term; else empty).
    public var teacherEndpoints: [String]
    /// The first global step to stream: a resumed run's checkpoint step (0 otherwise). Credits
    /// count from it; at or past the last streamed step nothing is streamed.
    public var fromStep: UInt64
    /// Online runs: the SHA-256 of the teacher's latest state the coordinator offers
    /// (`teacher-<i>-state.safetensors`); the teacher loads it and goes on from its step
    /// (empty: from the run's first step).
    public var stateHash: String

    public init(teacherIndex: UInt32 = 0, checkpointHash: String = "", replicas: [UInt32] = [],
                replicaEndpoints: [String] = [], teacherEndpoints: [String] = [], fromStep: UInt64 = 0, stateHash: String = "") {
        self.fromStep = fromStep
        self.stateHash = stateHash
        self.teacherIndex = teacherIndex
        self.checkpointHash = checkpointHash
        self.replicas = replicas
        self.replicaEndpoints = replicaEndpoints
        self.teacherEndpoints = teacherEndpoints
    }
}

/// A student replica's part of a run (proto `distillery.v1.StudentTask`).
///
/// The student's model is in the run spec (`AssignTask.run_spec_yaml`); field 6
/// (`model_spec`, which repeated it) is reserved.
///
/// Rules: `replicas` ≥ 1; `rank` < `replicas`; `peer_endpoints` empty or exactly `replicas`
/// entries.
public struct StudentTask: Sendable, Equatable {
    public var rank: UInt32
    public var replicas: UInt32
    public var ringGeneration: UInt64
    /// Data endpoints of ranks 0..R-1 (ring order).
    public var peerEndpoints: [String]
    public var teacherEndpoints: [String]
    /// The replica's place in the teachers' streams (`LogitsBatch.replica`, `Credit.replica`,
    /// `TeacherTask.replicas`): its rank in ring generation 1, kept when later generations
    /// renumber the ranks.
    public var replicaSlot: UInt32
    /// The SHA-256 of a resume checkpoint the coordinator offers (a resumed run's): the
    /// replica starts from its state, soft-label cache and step. Empty: from step 0.
    public var resumeHash: String
    /// The first global step the teachers stream (`TeacherTask.fromStep`): a replica that
    /// joins while they stream counts its credits from it.
    public var fromStep: UInt64

    public init(rank: UInt32 = 0, replicas: UInt32 = 0, ringGeneration: UInt64 = 0, peerEndpoints: [String] = [],
                teacherEndpoints: [String] = [], replicaSlot: UInt32? = nil, resumeHash: String = "", fromStep: UInt64 = 0) {
        self.resumeHash = resumeHash
        self.fromStep = fromStep
        self.rank = rank
        self.replicas = replicas
        self.ringGeneration = ringGeneration
        self.peerEndpoints = peerEndpoints
        self.teacherEndpoints = teacherEndpoints
        self.replicaSlot = replicaSlot ?? rank
    }
}

/// The `task` oneof of `AssignTask`.
public enum TaskSpec: Sendable, Equatable {
    case teacher(TeacherTask)
    case student(StudentTask)
}

/// coordinator → worker: do this (proto `distillery.v1.AssignTask`).
///
/// Rules: `run_id`, `task_id`, `run_spec_yaml` non-empty; `task` set (the oneof may be absent
/// on the wire, hence the optional, but an assignment without a task is refused) and valid
/// (see ``TeacherTask``, ``StudentTask``); no tensors.
public struct AssignTask: Sendable, Equatable {
    public var runID: String
    public var taskID: String
    /// The validated spec in canonical form (`RunSpec.canonicalYAML()`): the only place a task's
    /// models, recipes and settings travel; the worker parses it once per task, and every node
    /// derives the same step plan from it.
    public var runSpecYaml: String
    /// The data shard this task needs.
    public var shardHash: String
    public var task: TaskSpec?
    /// CURVE clusters: every worker of the run with its endpoint, key and part (empty otherwise).
    public var peerKeys: [PeerKey]

    public init(runID: String = "", taskID: String = "", runSpecYaml: String = "", shardHash: String = "",
                task: TaskSpec? = nil, peerKeys: [PeerKey] = []) {
        self.runID = runID
        self.taskID = taskID
        self.runSpecYaml = runSpecYaml
        self.shardHash = shardHash
        self.task = task
        self.peerKeys = peerKeys
    }
}

/// A worker of a run as the data plane knows it (proto `distillery.v1.PeerKey`). Rules:
/// `endpoint` not empty; `public_key` 40 characters.
public struct PeerKey: Sendable, Equatable {
    public var endpoint: String
    /// Its CURVE public key (Z85).
    public var publicKey: String
    /// It holds a teacher task of the run.
    public var teacher: Bool
    /// It holds a student replica task of the run.
    public var student: Bool

    public init(endpoint: String, publicKey: String, teacher: Bool = false, student: Bool = false) {
        self.endpoint = endpoint
        self.publicKey = publicKey
        self.teacher = teacher
        self.student = student
    }
}

/// worker → coordinator: progress of a task (proto `distillery.v1.TaskStatus`).
///
/// Rules: `run_id`, `task_id` non-empty; `state` a known value; `failed` ⇒ `reason`
/// non-empty; `total` > 0 ⇒ `done` ≤ `total`; no tensors.
public struct TaskStatus: Sendable, Equatable {
    public var runID: String
    public var taskID: String
    public var state: TaskState
    public var reason: String
    public var done: UInt64
    public var total: UInt64

    public init(runID: String = "", taskID: String = "", state: TaskState = .accepted, reason: String = "",
                done: UInt64 = 0, total: UInt64 = 0) {
        self.runID = runID
        self.taskID = taskID
        self.state = state
        self.reason = reason
        self.done = done
        self.total = total
    }
}
