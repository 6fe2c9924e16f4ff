// Task assignment and progress (proto section "tasks").

/// A teacher's part of a run (proto `distillery.v1.TeacherTask`).
///
/// Rules: `model_spec` non-empty; `checkpoint_hash` or `recipe_yaml` non-empty (load the
/// artifact, else train from the recipe); `replicas` without repeats; `replica_endpoints`
/// empty or one per replica; `teacher_endpoints` empty or with `teacher_index` in range.
public struct TeacherTask: Sendable, Equatable {
    public var teacherIndex: UInt32
    public var modelSpec: String
    /// Load this artifact if set, else train from the recipe.
    public var checkpointHash: String
    public var recipeYaml: String
    /// Student ranks this teacher streams to.
    public var replicas: [UInt32]
    /// Data endpoints of `replicas`, in the same order (empty when not known).
    public var replicaEndpoints: [String]
    /// Every teacher's data endpoint by teacher index (online runs with a mutual term; else empty).
    public var teacherEndpoints: [String]

    public init(teacherIndex: UInt32 = 0, modelSpec: String = "", checkpointHash: String = "",
                recipeYaml: String = "", replicas: [UInt32] = [], replicaEndpoints: [String] = [],
                teacherEndpoints: [String] = []) {
        self.teacherIndex = teacherIndex
        self.modelSpec = modelSpec
        self.checkpointHash = checkpointHash
        self.recipeYaml = recipeYaml
        self.replicas = replicas
        self.replicaEndpoints = replicaEndpoints
        self.teacherEndpoints = teacherEndpoints
    }
}

/// A student replica's part of a run (proto `distillery.v1.StudentTask`).
///
/// Rules: `replicas` ≥ 1; `rank` < `replicas`; `peer_endpoints` empty or exactly `replicas`
/// entries; `model_spec` non-empty.
public struct StudentTask: Sendable, Equatable {
    public var rank: UInt32
    public var replicas: UInt32
    public var ringGeneration: UInt64
    /// Data endpoints of ranks 0..R-1 (ring order).
    public var peerEndpoints: [String]
    public var teacherEndpoints: [String]
    public var modelSpec: String

    public init(rank: UInt32 = 0, replicas: UInt32 = 0, ringGeneration: UInt64 = 0, peerEndpoints: [String] = [],
                teacherEndpoints: [String] = [], modelSpec: String = "") {
        self.rank = rank
        self.replicas = replicas
        self.ringGeneration = ringGeneration
        self.peerEndpoints = peerEndpoints
        self.teacherEndpoints = teacherEndpoints
        self.modelSpec = modelSpec
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
    /// The validated spec: every node derives the same step plan.
    public var runSpecYaml: String
    /// The data shard this task needs.
    public var shardHash: String
    public var task: TaskSpec?

    public init(runID: String = "", taskID: String = "", runSpecYaml: String = "", shardHash: String = "",
                task: TaskSpec? = nil) {
        self.runID = runID
        self.taskID = taskID
        self.runSpecYaml = runSpecYaml
        self.shardHash = shardHash
        self.task = task
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
