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
/// again, since the coordinator may have assigned it anew.
final class TaskPeers: Sendable {
    struct Entry: Sendable {
        var runID: String
        var replicas: [String]
        var teachers: [String]
        /// The teacher reported `COMPLETED` (it is ready and serves).
        var ready = false
    }

    private let entries = Mutex<[String: Entry]>([:])

    /// Registers the task of `assign`: true when it is new; false when a task with that id
    /// runs already, whose peers' endpoints are then replaced by the assignment's.
    func begin(_ assign: AssignTask) -> Bool {
        var entry = Entry(runID: assign.runID, replicas: [], teachers: [])
        if case .teacher(let teacher) = assign.task {
            entry.replicas = teacher.replicaEndpoints
            entry.teachers = teacher.teacherEndpoints
        }
        return entries.withLock { table in
            guard var running = table[assign.taskID] else {
                table[assign.taskID] = entry
                return true
            }
            running.replicas = entry.replicas
            running.teachers = entry.teachers
            table[assign.taskID] = running
            return false
        }
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

    func markReady(_ taskID: String) {
        entries.withLock { $0[taskID]?.ready = true }
    }

    func isReady(_ taskID: String) -> Bool {
        entries.withLock { $0[taskID]?.ready ?? false }
    }

    /// Replica `rank`'s endpoint as the task knows it now; nil when it has none.
    func replicaEndpoint(_ taskID: String, _ rank: Int) -> String? {
        entries.withLock { table in
            guard let list = table[taskID]?.replicas, list.indices.contains(rank), !list[rank].isEmpty else { return nil }
            return list[rank]
        }
    }

    /// Teacher `index`'s endpoint as the task knows it now; nil when it has none.
    func teacherEndpoint(_ taskID: String, _ index: Int) -> String? {
        entries.withLock { table in
            guard let list = table[taskID]?.teachers, list.indices.contains(index), !list[index].isEmpty else { return nil }
            return list[index]
        }
    }
}
