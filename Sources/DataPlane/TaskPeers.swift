import ClusterCore
import Synchronization
import Transport
import Wire

/// How a sender reaches peer i (a replica rank, a teacher index) at the moment it sends:
/// fixed connections, or a lookup that follows the peer's current data endpoint.
public struct PeerRoute: Sendable {
    let resolve: @Sendable (Int) async throws -> any Connection

    public init(_ resolve: @escaping @Sendable (Int) async throws -> any Connection) {
        self.resolve = resolve
    }

    /// `connections[i]` reaches peer i.
    public init(_ connections: [any Connection]) {
        self.resolve = { connections[$0] }
    }

    /// `connections[i]` reaches peer i; a peer not listed is an error.
    public init(_ connections: [Int: any Connection]) {
        self.resolve = { i in
            guard let c = connections[i] else { throw TaskFailure("no connection to peer \(i)") }
            return c
        }
    }

    func callAsFunction(_ peer: Int) async throws -> any Connection {
        try await resolve(peer)
    }
}

/// The tasks a worker runs, by task id, with their peers' data endpoints
/// (docs/PROTOCOL.md "Tasks").
///
/// Rule: a repeated `AssignTask` for a task the worker runs updates its peers' endpoints (the
/// replicas', and the other teachers' in mutual runs) and starts nothing; the task's sends
/// resolve a peer's endpoint when they happen, so they follow a replica that moved to another
/// worker before distilling began. A teacher that was already ready reports `COMPLETED`
/// again, since the coordinator may have assigned it anew. A teacher's repeated assignment
/// may leave out a lost replica's slot (it then serves only the slots listed); a student's
/// may carry a new ring generation, which its replica adopts (`StudentReplica+Ring.swift`).
final class TaskPeers: Sendable {
    struct Entry: Sendable {
        var runID: String
        /// The replica slots a teacher serves, and their endpoints in the same order.
        var slots: [Int] = []
        var replicas: [String]
        var teachers: [String]
        /// A student replica's newest ring, and what wakes the replica when it changes.
        var ring: RingAssignment?
        var onRingChange: (@Sendable () -> Void)?
        /// The teacher reported `COMPLETED` (it is ready and serves).
        var ready = false
    }

    private let entries = Mutex<[String: Entry]>([:])

    /// Registers the task of `assign`: true when it is new; false when a task with that id
    /// runs already, whose peers' endpoints are then replaced by the assignment's.
    func begin(_ assign: AssignTask) -> Bool {
        var entry = Entry(runID: assign.runID, replicas: [], teachers: [])
        switch assign.task {
        case .teacher(let teacher):
            entry.slots = teacher.replicas.map(Int.init)
            entry.replicas = teacher.replicaEndpoints
            entry.teachers = teacher.teacherEndpoints
        case .student(let student):
            entry.ring = RingAssignment(generation: student.ringGeneration, rank: Int(student.rank),
                                        ranks: Int(student.replicas), endpoints: student.peerEndpoints)
            entry.teachers = student.teacherEndpoints
        default:
            break
        }
        let (isNew, wake): (Bool, (@Sendable () -> Void)?) = entries.withLock { table in
            guard var running = table[assign.taskID] else {
                table[assign.taskID] = entry
                return (true, nil)
            }
            running.slots = entry.slots
            running.replicas = entry.replicas
            running.teachers = entry.teachers
            var changed = false
            if let ring = entry.ring, ring.generation > running.ring?.generation ?? 0 {
                running.ring = ring
                changed = true
            }
            table[assign.taskID] = running
            return (false, changed ? running.onRingChange : nil)
        }
        wake?()
        return isNew
    }

    /// The task ended: a later assignment with its id starts it anew. True when it was the
    /// last task of its run here (the run's data-plane queues can go).
    @discardableResult
    func end(_ taskID: String) -> Bool {
        entries.withLock { table in
            guard let entry = table.removeValue(forKey: taskID) else { return false }
            return !table.values.contains { $0.runID == entry.runID }
        }
    }

    /// The runs with a task here, sorted.
    var runs: [String] {
        entries.withLock { Set($0.values.map(\.runID)).sorted() }
    }

    func markReady(_ taskID: String) {
        entries.withLock { $0[taskID]?.ready = true }
    }

    func isReady(_ taskID: String) -> Bool {
        entries.withLock { $0[taskID]?.ready ?? false }
    }

    /// Replica slot `slot`'s endpoint as the task knows it now; nil when it has none or the
    /// slot is not served (any more).
    func replicaEndpoint(_ taskID: String, _ slot: Int) -> String? {
        entries.withLock { table in
            guard let entry = table[taskID], let i = entry.slots.firstIndex(of: slot), entry.replicas.indices.contains(i),
                  !entry.replicas[i].isEmpty else { return nil }
            return entry.replicas[i]
        }
    }

    /// The replica slots a teacher task serves now, in the assignment's order.
    func replicaSlots(_ taskID: String) -> [Int] {
        entries.withLock { $0[taskID]?.slots ?? [] }
    }

    /// Runs `wake` whenever the student task `taskID` is assigned a newer ring.
    func onRingChange(_ taskID: String, _ wake: @escaping @Sendable () -> Void) {
        entries.withLock { $0[taskID]?.onRingChange = wake }
    }

    /// A student task's newest ring, nil when the task is not running here.
    func ring(_ taskID: String) -> RingAssignment? {
        entries.withLock { $0[taskID]?.ring }
    }

    /// A task's teachers' endpoints as it knows them now, by index ("" for a teacher being
    /// placed again); empty when the task is not running here.
    func teacherEndpoints(_ taskID: String) -> [String] {
        entries.withLock { $0[taskID]?.teachers ?? [] }
    }

    /// Teacher `index`'s endpoint as the task knows it now; nil when it has none.
    func teacherEndpoint(_ taskID: String, _ index: Int) -> String? {
        entries.withLock { table in
            guard let list = table[taskID]?.teachers, list.indices.contains(index), !list[index].isEmpty else { return nil }
            return list[index]
        }
    }
}
