import Foundation
import GRDB

extension ClusterStore {
    /// Inserts or replaces the worker named `worker.name`. Roles are stored sorted, without
    /// duplicates.
    public func saveWorker(_ worker: WorkerRecord) throws(ClusterStoreError) {
        let roles = Self.encodeRoles(worker.roles)
        try write("cannot save worker \(worker.name) in") { db in
            try db.execute(
                sql: """
                    INSERT INTO workers (name, roles, address, cores, memoryBytes, version, state, lastSeenMs, reason)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT(name) DO UPDATE SET
                        roles = excluded.roles, address = excluded.address, cores = excluded.cores,
                        memoryBytes = excluded.memoryBytes, version = excluded.version, state = excluded.state,
                        lastSeenMs = excluded.lastSeenMs, reason = excluded.reason
                    """,
                arguments: [
                    worker.name, roles, worker.address, worker.cores, worker.memoryBytes, worker.version,
                    worker.state, worker.lastSeenMs, worker.reason,
                ])
        }
    }

    /// Every worker ever saved, by name.
    public func workers() throws(ClusterStoreError) -> [WorkerRecord] {
        try read("cannot read the workers of") { db in
            try Row.fetchAll(db, sql: "SELECT * FROM workers ORDER BY name").map { row in
                WorkerRecord(
                    name: try row.decode(forColumn: "name"),
                    roles: try Self.decodeRoles(try row.decode(forColumn: "roles")),
                    address: try row.decode(forColumn: "address"),
                    cores: try row.decode(forColumn: "cores"),
                    memoryBytes: try row.decode(forColumn: "memoryBytes"),
                    version: try row.decode(forColumn: "version"),
                    state: try row.decode(forColumn: "state"),
                    lastSeenMs: try row.decode(forColumn: "lastSeenMs"),
                    reason: try row.decode(forColumn: "reason"))
            }
        }
    }

    /// Roles as a JSON array (robust to any character in a role name).
    static func encodeRoles(_ roles: [String]) -> String {
        let sorted = Array(Set(roles)).sorted()
        guard let data = try? JSONEncoder().encode(sorted), let text = String(data: data, encoding: .utf8) else {
            return "[]"  // unreachable: an array of strings always encodes
        }
        return text
    }

    static func decodeRoles(_ text: String) throws -> [String] {
        do {
            return try JSONDecoder().decode([String].self, from: Data(text.utf8))
        } catch {
            throw DatabaseError(resultCode: .SQLITE_CORRUPT, message: "worker roles are not a JSON array: \(text)")
        }
    }
}
