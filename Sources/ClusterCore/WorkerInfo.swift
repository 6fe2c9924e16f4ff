// What workers say about themselves: at registration (WorkerInfo) and in heartbeats (WorkerLoad).

/// A job a worker can do; it declares its roles when it starts (`--roles teacher,student`).
public enum WorkerRole: String, Sendable, CaseIterable, Comparable {
    case teacher, student

    /// Teacher before student, the order of `allCases`.
    public static func < (a: WorkerRole, b: WorkerRole) -> Bool {
        a.rank < b.rank
    }

    private var rank: Int {
        switch self {
        case .teacher: 0
        case .student: 1
        }
    }
}

/// What a worker says about itself when it registers.
public struct WorkerInfo: Sendable, Equatable {
    /// Unique in the cluster; also the node id.
    public var name: String
    public var roles: Set<WorkerRole>
    /// Where the worker's data socket is bound, e.g. `tcp://B:7879`.
    public var dataEndpoint: String
    public var cores: Int
    public var memoryBytes: UInt64
    /// Software version, e.g. "0.4.0" (see ``VersionPolicy``).
    public var version: String
    /// Which process of that name this is: a random id each worker process picks at start
    /// (`Register.incarnation`). The same name with another incarnation is a restarted worker,
    /// whose earlier work is gone; "" from peers that send none (then a registration of a
    /// worker that holds work is taken as a reconnection of the same process).
    public var incarnation: String

    public init(name: String, roles: Set<WorkerRole>, dataEndpoint: String, cores: Int, memoryBytes: UInt64, version: String,
                incarnation: String = "") {
        self.name = name
        self.roles = roles
        self.dataEndpoint = dataEndpoint
        self.cores = cores
        self.memoryBytes = memoryBytes
        self.version = version
        self.incarnation = incarnation
    }
}

/// Latest load a worker reported in a heartbeat.
public struct WorkerLoad: Sendable, Equatable {
    public var cpuPercent: Float
    public var rssBytes: UInt64
    /// The task id the worker is busy with, "" when idle.
    public var currentTask: String

    public init(cpuPercent: Float = 0, rssBytes: UInt64 = 0, currentTask: String = "") {
        self.cpuPercent = cpuPercent
        self.rssBytes = rssBytes
        self.currentTask = currentTask
    }
}
