import Foundation
import GRDB
import Testing
@testable import ClusterStore

/// Runs remember the idempotency key of the submission that created them (migration v2), so
/// a retried submission finds its run instead of creating another.
@Suite struct ClusterStoreIdempotencyTests {
    @Test func aKeyFindsItsRunAcrossReopenAndIsUsedOnce() throws {
        let tmp = try TempDir()
        defer { tmp.remove() }
        do {
            let store = try ClusterStore(directory: tmp.path)
            let a = try store.insertRun(name: "a", specYAML: "x", submittedAtMs: 1, idempotencyKey: "key-a")
            #expect(a.idempotencyKey == "key-a")
            let none = try store.insertRun(name: "b", specYAML: "y", submittedAtMs: 2)
            let empty = try store.insertRun(name: "c", specYAML: "z", submittedAtMs: 3, idempotencyKey: "")
            #expect(none.idempotencyKey == nil && empty.idempotencyKey == nil, "no key and an empty key are both 'none'")
            // A second run with the same key is refused, and allocates no id.
            expectStoreError(containing: ["cannot insert run a2 into", "idempotency key 'key-a' already belongs to run-1"]) {
                _ = try store.insertRun(name: "a2", specYAML: "x", submittedAtMs: 4, idempotencyKey: "key-a")
            }
            #expect(try store.insertRun(name: "d", specYAML: "", submittedAtMs: 5, idempotencyKey: "key-d").id.short == "run-4")
        }
        let store = try ClusterStore(directory: tmp.path)
        let found = try #require(try store.run(idempotencyKey: "key-a"))
        #expect(found.id.short == "run-1" && found.name == "a" && found.specYAML == "x" && found.idempotencyKey == "key-a")
        #expect(try store.run(reference: "run-1") == found)
        #expect(try store.run(idempotencyKey: "key-d")?.id.short == "run-4")
        #expect(try store.run(idempotencyKey: "unknown") == nil)
        #expect(try store.run(idempotencyKey: "") == nil, "runs without a key are never found by one")
        #expect(try store.runs(limit: 0).count == 4)
    }

    @Test func aDatabaseOfSchemaV1MigratesAndKeepsItsRuns() throws {
        let tmp = try TempDir()
        defer { tmp.remove() }
        let path = tmp.sub(ClusterStore.fileName)
        // What an older Distillery left: schema v1 only, with two runs.
        do {
            let old = try DatabaseQueue(path: path)
            try ClusterStore.migrator.migrate(old, upTo: "v1")
            try old.write { db in
                try db.execute(sql: """
                    UPDATE counters SET value = 2 WHERE name = 'run';
                    INSERT INTO runs (id, seq, name, specYAML, state, reason, submittedAtMs, updatedAtMs)
                    VALUES ('run-1', 1, 'old', 'a', 'completed', 'done', 10, 20),
                           ('run-2', 2, 'older', 'b', 'failed', 'oops', 30, 40);
                    """)
            }
            try old.close()
        }
        let store = try ClusterStore(directory: tmp.path)
        let applied = try store.dbQueue.read { db in
            try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations ORDER BY identifier")
        }
        #expect(applied == ["v1", "v2", "v3"])
        #expect(try store.runs(limit: 0).map(\.id) == ["run-2", "run-1"])
        #expect(try store.run(id: "run-1") == RunRecord(id: "run-1", name: "old", specYAML: "a", state: "completed",
                                                        reason: "done", submittedAtMs: 10, updatedAtMs: 20))
        // Old runs have no key; new ones get one, and ids continue.
        let new = try store.insertRun(name: "new", specYAML: "c", submittedAtMs: 50, idempotencyKey: "k")
        #expect(new.id.short == "run-3")
        #expect(try store.run(idempotencyKey: "k")?.id.short == "run-3")
        // Two runs without a key do not collide on the unique index.
        #expect(try store.insertRun(name: "n", specYAML: "", submittedAtMs: 60).id.short == "run-4")
    }
}
