import Foundation
import GRDB
import Testing
@testable import ClusterStore

@Suite struct ClusterStoreDurabilityTests {
    @Test func runIdsAreMonotonicAcrossCloseReopenAndDeletes() throws {
        let tmp = try TempDir()
        defer { tmp.remove() }
        do {
            let store = try ClusterStore(directory: tmp.path)
            for i in 1...3 { #expect(try store.insertRun(name: "r", specYAML: "", submittedAtMs: 0).id.short == "run-\(i)") }
            try store.deleteRun(id: store.id("run-3"))
            try store.deleteRun(id: store.id("run-2"))
            try store.close()
        }
        do {
            // Reopened without an explicit close this time.
            let store = try ClusterStore(directory: tmp.path)
            #expect(try store.runs(limit: 0).map(\.id.short) == ["run-1"])
            #expect(try store.insertRun(name: "r", specYAML: "", submittedAtMs: 0).id.short == "run-4")
            try store.deleteRun(id: store.id("run-4"))
            try store.deleteRun(id: store.id("run-1"))
        }
        let store = try ClusterStore(directory: tmp.path)
        #expect(try store.runs(limit: 0).isEmpty)
        #expect(try store.insertRun(name: "r", specYAML: "", submittedAtMs: 0).id.short == "run-5")
    }

    /// The files as a crash leaves them: copied while the writer still has the database open,
    /// so the committed transactions exist only in the -wal file (never checkpointed).
    @Test func committedWritesSurviveACrashOfTheWriter() throws {
        let tmp = try TempDir()
        defer { tmp.remove() }
        let live = try ClusterStore(directory: tmp.sub("live"))
        let run = try live.insertRun(name: "survivor", specYAML: "a: 1", submittedAtMs: 42)
        try live.updateRun(id: run.id, state: "running", reason: "", atMs: 43)
        try live.appendEvent(runID: run.id, kind: "state", message: "running", atMs: 43)
        try live.appendMetrics(runID: run.id, epoch: 0, step: 1, values: [("loss", 0.75)], atMs: 44)
        try live.saveWorker(sampleWorker("w1"))

        let walSize = try FileManager.default.attributesOfItem(atPath: live.databasePath + "-wal")[.size] as? Int
        #expect((walSize ?? 0) > 0, "the commits should still be in the WAL for this test to mean anything")
        let crashed = tmp.sub("crashed")
        try FileManager.default.createDirectory(atPath: crashed, withIntermediateDirectories: false)
        for suffix in ["", "-wal"] {
            try FileManager.default.copyItem(
                atPath: live.databasePath + suffix, toPath: crashed + "/" + ClusterStore.fileName + suffix)
        }

        let reopened = try ClusterStore(directory: crashed)
        var expected = run
        expected.state = "running"
        expected.updatedAtMs = 43
        #expect(try reopened.run(id: run.id) == expected)
        #expect(try reopened.events(runID: run.id, limit: 0).map(\.message) == ["running"])
        #expect(try reopened.metrics(runID: run.id).map(\.value) == [0.75])
        #expect(try reopened.workers() == [sampleWorker("w1")])
        #expect(try reopened.insertRun(name: "next", specYAML: "", submittedAtMs: 0).id.short == "run-2")
        _ = live  // keep the writer open until the copy has been reopened
    }

    /// A separate process commits, starts another transaction, and is killed with SIGKILL:
    /// the commit survives, the open transaction vanishes, and the store opens cleanly.
    @Test(.enabled(if: SQLiteShell.isAvailable, "needs /usr/bin/sqlite3"))
    func commitOfAProcessKilledWithSIGKILLSurvives() async throws {
        let tmp = try TempDir()
        defer { tmp.remove() }
        let path: String
        do {
            let store = try ClusterStore(directory: tmp.path)
            _ = try store.insertRun(name: "first", specYAML: "", submittedAtMs: 1)
            path = store.databasePath
        }
        let marker = tmp.sub("committed")
        let shell = try SQLiteShell(database: path, script: """
            PRAGMA busy_timeout = 5000;
            BEGIN IMMEDIATE;
            UPDATE counters SET value = value + 1 WHERE name = 'run';
            INSERT INTO runs (id, seq, name, specYAML, state, reason, submittedAtMs, updatedAtMs)
                VALUES ('run-2', 2, 'child', 'b: 2', 'running', '', 2, 3);
            INSERT INTO events (runID, kind, message, atMs) VALUES ('run-2', 'state', 'from the child', 3);
            COMMIT;
            BEGIN IMMEDIATE;
            UPDATE counters SET value = value + 1 WHERE name = 'run';
            INSERT INTO runs (id, seq, name, specYAML, state, reason, submittedAtMs, updatedAtMs)
                VALUES ('run-3', 3, 'uncommitted', '', 'running', '', 4, 4);
            .shell touch '\(marker)'

            """)
        let committed = try await waitForFile(marker)
        shell.kill()
        try #require(committed, "the sqlite3 child never reached its marker")
        #expect(shell.process.terminationReason == .uncaughtSignal)
        #expect(shell.process.terminationStatus == SIGKILL)

        let store = try ClusterStore(directory: tmp.path)
        #expect(try store.runs(limit: 0).map(\.id.short) == ["run-2", "run-1"])
        #expect(try store.run(reference: "run-2")?.specYAML == "b: 2")
        #expect(try store.events(runID: "run-2", limit: 0).map(\.message) == ["from the child"])
        #expect(try store.insertRun(name: "after", specYAML: "", submittedAtMs: 5).id.short == "run-3")
    }

    @Test func concurrentWritersFromManyTasks() async throws {
        let tmp = try TempDir()
        defer { tmp.remove() }
        let store = try ClusterStore(directory: tmp.path)
        let ids = try await withThrowingTaskGroup(of: String.self) { group in
            for t in 0..<64 {
                group.addTask {
                    let id = try store.insertRun(name: "t\(t)", specYAML: "", submittedAtMs: Int64(t)).id
                    for i in 0..<5 {
                        try store.appendEvent(runID: id, kind: "task", message: "\(i)", atMs: Int64(i))
                        try store.appendEvent(runID: nil, kind: "worker", message: "\(t)", atMs: 0)
                        try store.appendMetrics(runID: id, epoch: 0, step: i, values: [("loss", Double(i))], atMs: 0)
                    }
                    try store.saveWorker(sampleWorker("w\(t % 8)", lastSeenMs: Int64(t)))
                    return id
                }
            }
            return try await group.reduce(into: [String]()) { $0.append($1) }
        }
        #expect(Set(ids.map(\.short)) == Set((1...64).map { "run-\($0)" }))
        #expect(try store.runs(limit: 0).count == 64)
        #expect(try store.events(runID: nil, limit: 0).count == 64 * 5)
        for id in ids {
            #expect(try store.events(runID: id, limit: 0).map(\.message) == ["0", "1", "2", "3", "4"])
            #expect(try store.metrics(runID: id).map(\.step) == [0, 1, 2, 3, 4])
        }
        #expect(try store.workers().map(\.name) == (0..<8).map { "w\($0)" })
    }

    /// Two stores on one state dir are two SQLite connections, as two processes would be: the
    /// busy timeout and IMMEDIATE transactions keep them from failing or reusing ids.
    @Test func concurrentWritersThroughTwoConnections() async throws {
        let tmp = try TempDir()
        defer { tmp.remove() }
        let stores = [try ClusterStore(directory: tmp.path), try ClusterStore(directory: tmp.path)]
        let ids = try await withThrowingTaskGroup(of: [String].self) { group in
            for t in 0..<8 {
                let store = stores[t % 2]
                group.addTask {
                    var ids: [String] = []
                    for _ in 0..<25 {
                        let id = try store.insertRun(name: "t\(t)", specYAML: "", submittedAtMs: 0).id
                        try store.appendEvent(runID: id, kind: "state", message: "t\(t)", atMs: 0)
                        ids.append(id)
                    }
                    return ids
                }
            }
            return try await group.reduce(into: [String]()) { $0 += $1 }
        }
        #expect(ids.count == 200)
        #expect(Set(ids.map(\.short)) == Set((1...200).map { "run-\($0)" }))
        #expect(Set(ids).count == 200)  // the random parts too: no two alike here
        #expect(try stores[0].runs(limit: 0).count == 200)
        #expect(try stores[1].events(runID: stores[1].id("run-200"), limit: 0).count == 1)
    }

    @Test(.enabled(if: SQLiteShell.isAvailable, "needs /usr/bin/sqlite3"), .timeLimit(.minutes(1)))
    func aLockHeldByAnotherProcessGivesABusyErrorAfterTheTimeout() async throws {
        let tmp = try TempDir()
        defer { tmp.remove() }
        let store = try ClusterStore(directory: tmp.path)
        let marker = tmp.sub("locked")
        let shell = try SQLiteShell(database: store.databasePath, script: """
            BEGIN IMMEDIATE;
            UPDATE counters SET value = value WHERE name = 'run';
            .shell touch '\(marker)'

            """)
        defer { shell.kill() }
        try #require(try await waitForFile(marker))
        let start = Date()
        expectStoreError(containing: ["cannot insert run r into", store.databasePath, "locked",
                                      "another coordinator", "--state-dir"]) {
            _ = try store.insertRun(name: "r", specYAML: "", submittedAtMs: 0)
        }
        let waited = Date().timeIntervalSince(start)
        #expect(waited >= 4.5 && waited < 20)
        // Reads still work (WAL), and writes work again once the other process is gone.
        #expect(try store.runs(limit: 0).isEmpty)
        shell.finish()
        #expect(try store.insertRun(name: "r", specYAML: "", submittedAtMs: 0).id.short == "run-1")
    }
}
