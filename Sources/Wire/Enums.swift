/// Element type of a raw tensor frame (proto enum `distillery.v1.DType`).
///
/// `DTYPE_UNSPECIFIED` (0) is not a case: decode rejects it, and any value outside these
/// cases, with a `.invalid` ``WireError`` naming the field.
public enum DType: UInt32, Sendable, CaseIterable {
    case f32 = 1
    case f16 = 2
    case i32 = 3
    case i64 = 4
    case u8 = 5

    /// Bytes per element.
    public var byteWidth: Int {
        switch self {
        case .u8: 1
        case .f16: 2
        case .f32, .i32: 4
        case .i64: 8
        }
    }
}

/// What a worker can do (proto enum `distillery.v1.Role`; `ROLE_UNSPECIFIED` is rejected).
public enum Role: UInt32, Sendable, CaseIterable {
    case teacher = 1
    case student = 2
}

/// Liveness of a node as the coordinator sees it (proto enum `distillery.v1.NodeState`;
/// `NODE_STATE_UNSPECIFIED` is rejected).
public enum NodeState: UInt32, Sendable, CaseIterable {
    case alive = 1
    case suspect = 2
    case dead = 3
    case left = 4
}

/// How the coordinator admits clients (proto enum `distillery.v1.ListenerSecurity`;
/// `unreported` (0) is what a coordinator older than 0.11 sends, accepted).
public enum ListenerSecurity: UInt32, Sendable, CaseIterable {
    case unreported = 0
    /// CurveZMQ: only the keys in its authorized_keys.
    case curve = 1
    /// Plaintext, listening on loopback only (no keys).
    case loopback = 2
    /// Plaintext on a network interface: started with `--insecure`.
    case insecure = 3
}

/// Lifecycle of a run (proto enum `distillery.v1.RunState`; `RUN_STATE_UNSPECIFIED` is rejected).
public enum RunState: UInt32, Sendable, CaseIterable {
    case pending = 1
    case placing = 2
    case sharding = 3
    case preparingTeachers = 4
    case distilling = 5
    case completed = 6
    case failed = 7
    case cancelled = 8
    case interrupted = 9

    /// `completed`, `failed`, `cancelled` and `interrupted`: the run will not change again, and
    /// a `RunSummary` in such a state always carries a `reason`.
    public var isTerminal: Bool {
        switch self {
        case .completed, .failed, .cancelled, .interrupted: true
        case .pending, .placing, .sharding, .preparingTeachers, .distilling: false
        }
    }
}

/// Progress of one assigned task (proto enum `distillery.v1.TaskState`;
/// `TASK_STATE_UNSPECIFIED` is rejected).
public enum TaskState: UInt32, Sendable, CaseIterable {
    case accepted = 1
    case running = 2
    case completed = 3
    case failed = 4
}

/// Phase of the ring all-reduce (proto enum `distillery.v1.RingPhase`;
/// `RING_PHASE_UNSPECIFIED` is rejected).
public enum RingPhase: UInt32, Sendable, CaseIterable {
    case reduceScatter = 1
    case allGather = 2
    /// Two replicas swap whole buffers in one hop (`RingAllReduce`).
    case exchange = 3
}

/// Why a request failed (proto enum `distillery.v1.ErrorCode`; `ERROR_UNSPECIFIED` is rejected).
public enum ErrorCode: UInt32, Sendable, CaseIterable {
    /// `protocol_version` not spoken here.
    case version = 1
    /// Frame 0 does not decode, or the frames do not match `tensors`.
    case malformed = 2
    /// No body case this peer knows is set.
    case unknownMessage = 3
    /// Decodes but breaks a rule (sizes, ranges, state).
    case invalid = 4
    /// Run, task, shard or artifact unknown.
    case notFound = 5
    /// Cannot serve now (e.g. shutting down); retry later.
    case unavailable = 6
    case `internal` = 7
    /// The sender's key may not do this (its role, a revoked key, another worker's name).
    case permissionDenied = 8
}

/// The proto enums as the decoder sees them: a type name for error texts and the list of
/// allowed values.
protocol WireEnum: RawRepresentable, CaseIterable where RawValue == UInt32 {
    /// The proto enum's name, e.g. "DType".
    static var protoName: String { get }
}

extension WireEnum {
    /// "1 (f32), 2 (f16), …" for error texts.
    static var allowedValues: String {
        allCases.map { "\($0.rawValue) (\($0))" }.joined(separator: ", ")
    }
}

extension DType: WireEnum { static var protoName: String { "DType" } }
extension Role: WireEnum { static var protoName: String { "Role" } }
extension NodeState: WireEnum { static var protoName: String { "NodeState" } }
extension ListenerSecurity: WireEnum { static var protoName: String { "ListenerSecurity" } }
extension RunState: WireEnum { static var protoName: String { "RunState" } }
extension TaskState: WireEnum { static var protoName: String { "TaskState" } }
extension RingPhase: WireEnum { static var protoName: String { "RingPhase" } }
extension ErrorCode: WireEnum { static var protoName: String { "ErrorCode" } }
