import Foundation
import GRDB
import Testing
@testable import ClusterStore

@Suite struct ClusterStoreRoundTripTests {
    @Test func openCreatesTheDirectoryAndConfiguresSQLite() throws {
        let tmp = try TempDir()
        defer { tmp.remove() }
        let dir = tmp.sub("a/b/state")
        let store = try ClusterStore(directory: dir)
        #expect(store.directory == dir)
        #expect(store.databasePath == dir + "/distillery.sqlite")
        #expect(FileManager.default.fileExists(atPath: store.databasePath))
        let (journal, synchronous, foreignKeys, busy, appID, migrations) = try store.dbQueue.read { db in
            (
                try String.fetchOne(db, sql: "PRAGMA journal_mode"),
                try Int.fetchOne(db, sql: "PRAGMA synchronous"),
                try Int.fetchOne(db, sql: "PRAGMA foreign_keys"),
                try Int.fetchOne(db, sql: "PRAGMA busy_timeout"),
                try Int32.fetchOne(db, sql: "PRAGMA application_id"),
                try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations")
            )
        }
        #expect(journal == "wal")
        #expect(synchronous == 2)  // FULL (GRDB's own WAL set-up would have left NORMAL = 1)
        #expect(foreignKeys == 1)
        #expect(busy == 5_000)
        #expect(appID == ClusterStore.applicationID)
        #expect(migrations == ["v1", "v2", "v3"])
    }

    @Test func workersUpsertByNameAndListByName() throws {
        let tmp = try TempDir()
        defer { tmp.remove() }
        let store = try ClusterStore(directory: tmp.path)
        #expect(try store.workers().isEmpty)

        let b = sampleWorker("node-b", roles: ["teacher", "student", "teacher"])
        var a = sampleWorker("node-a", roles: [])
        a.reason = "fresh"
        try store.saveWorker(b)
        try store.saveWorker(a)
        var expectedB = b
        expectedB.roles = ["student", "teacher"]
        #expect(try store.workers() == [a, expectedB])

        var b2 = sampleWorker("node-b", roles: ["student"], state: "dead", lastSeenMs: 9_999)
        b2.address = "tcp://10.0.0.2:9000"
        b2.cores = 2
        b2.memoryBytes = Int64.max
        b2.version = "0.5.0"
        b2.reason = "no heartbeat for 10 s"
        try store.saveWorker(b2)
        #expect(try store.workers() == [a, b2])

        let odd = sampleWorker("node-c", roles: ["a,b", "quote\"d", "ünï"])
        try store.saveWorker(odd)
        #expect(try store.workers().last?.roles == ["a,b", "quote\"d", "ünï"])
    }

    @Test func runsRoundTripAndUpdate() throws {
        let tmp = try TempDir()
        defer { tmp.remove() }
        let store = try ClusterStore(directory: tmp.path)
        let yaml = "name: fashion\nteachers:\n  - mlp: [784, 512, 10]\n# ünïcode ✓ 'quotes' \"too\"\n"
        let run = try store.insertRun(name: "fashion", specYAML: yaml, submittedAtMs: 1_700_000_000_000)
        #expect(run.id.short == "run-1")
        #expect(run == RunRecord(id: run.id, name: "fashion", specYAML: yaml, state: "pending", reason: "",
                                 submittedAtMs: 1_700_000_000_000, updatedAtMs: 1_700_000_000_000))
        #expect(try store.run(id: run.id) == run)
        // People may name it run-1 or 1; nothing else finds it.
        #expect(try store.run(reference: "run-1") == run)
        #expect(try store.run(reference: "1") == run)
        for other in ["run-2", "2", "run-1-", "run-01x", "run-", "", "run-0", "-1", "+1", String(run.id.dropLast())] {
            #expect(try store.run(reference: other) == nil, "\(other)")
        }

        try store.updateRun(id: run.id, state: "failed", reason: "teacher 2 diverged", atMs: 1_700_000_000_500)
        var expected = run
        expected.state = "failed"
        expected.reason = "teacher 2 diverged"
        expected.updatedAtMs = 1_700_000_000_500
        #expect(try store.run(reference: "run-1") == expected)

        expectStoreError(containing: ["cannot update run run-7", store.databasePath, "no run run-7"]) {
            try store.updateRun(id: "run-7", state: "running", reason: "", atMs: 1)
        }
        #expect(try store.runs(limit: 0) == [expected])
    }

    @Test func runsAreNewestFirstAndLimited() throws {
        let tmp = try TempDir()
        defer { tmp.remove() }
        let store = try ClusterStore(directory: tmp.path)
        #expect(try store.runs(limit: 0).isEmpty)
        // Submission times deliberately out of order: the order is the id's, not the clock's.
        for (i, t) in [50, 10, 40, 20, 30].enumerated() {
            let run = try store.insertRun(name: "r\(i + 1)", specYAML: "", submittedAtMs: Int64(t))
            #expect(run.id.short == "run-\(i + 1)")
        }
        #expect(try store.runs(limit: 0).map(\.id.short) == ["run-5", "run-4", "run-3", "run-2", "run-1"])
        #expect(try store.runs(limit: 2).map(\.id.short) == ["run-5", "run-4"])
        #expect(try store.runs(limit: 1).map(\.name) == ["r5"])
        #expect(try store.runs(limit: 99).count == 5)
        #expect(try store.runs(limit: -1).count == 5)
        // run-10 must sort after run-9 (numerically, not as text).
        for i in 6...11 { _ = try store.insertRun(name: "r\(i)", specYAML: "", submittedAtMs: 0) }
        #expect(try store.runs(limit: 3).map(\.id.short) == ["run-11", "run-10", "run-9"])
    }

    @Test func markUnfinishedRunsMarksExactlyTheNonTerminalOnesAndSurvivesReopen() throws {
        let tmp = try TempDir()
        defer { tmp.remove() }
        let terminal: Set<String> = ["succeeded", "failed", "cancelled", "interrupted"]
        let states = ["succeeded", "running", "failed", "pending", "cancelled", "preparing-teachers"]
        do {
            let store = try ClusterStore(directory: tmp.path)
            for (i, state) in states.enumerated() {
                let run = try store.insertRun(name: "r", specYAML: "", submittedAtMs: 10)
                try store.updateRun(id: run.id, state: state, reason: "was \(state)", atMs: Int64(100 + i))
            }
            let marked = try store.markUnfinishedRuns(
                terminalStates: terminal, as: "interrupted", reason: "coordinator restarted", atMs: 5_000)
            #expect(marked.map(\.short) == ["run-2", "run-4", "run-6"])
        }
        let store = try ClusterStore(directory: tmp.path)
        let runs = try store.runs(limit: 0).reversed().map { $0 }
        for (i, run) in runs.enumerated() {
            if ["run-2", "run-4", "run-6"].contains(run.id.short) {
                #expect(run.state == "interrupted")
                #expect(run.reason == "coordinator restarted")
                #expect(run.updatedAtMs == 5_000)
            } else {
                #expect(run.state == states[i])
                #expect(run.reason == "was \(states[i])")
                #expect(run.updatedAtMs == Int64(100 + i))
            }
        }
        // A second start finds nothing left to mark.
        #expect(try store.markUnfinishedRuns(terminalStates: terminal, as: "interrupted", reason: "again", atMs: 6_000)
            .isEmpty)
        #expect(try store.run(reference: "run-2")?.reason == "coordinator restarted")
        #expect(try store.run(id: "run-2") == nil)  // the short form is no id
        // No terminal states: everything is unfinished.
        #expect(try store.markUnfinishedRuns(terminalStates: [], as: "x", reason: "", atMs: 7_000).count == 6)
        #expect(try store.runs(limit: 0).allSatisfy { $0.state == "x" })
    }

    @Test func eventsPerRunAndClusterWideWithLimits() throws {
        let tmp = try TempDir()
        defer { tmp.remove() }
        let store = try ClusterStore(directory: tmp.path)
        let r1 = try store.insertRun(name: "a", specYAML: "", submittedAtMs: 0).id
        let r2 = try store.insertRun(name: "b", specYAML: "", submittedAtMs: 0).id
        for i in 0..<10 {
            try store.appendEvent(runID: r1, kind: "state", message: "r1-\(i)", atMs: Int64(1_000 - i))
            if i % 2 == 0 { try store.appendEvent(runID: r2, kind: "task", message: "r2-\(i)", atMs: Int64(i)) }
            if i % 3 == 0 { try store.appendEvent(runID: nil, kind: "worker", message: "c-\(i)", atMs: Int64(i)) }
        }
        let all1 = try store.events(runID: r1, limit: 0)
        #expect(all1.map(\.message) == (0..<10).map { "r1-\($0)" })
        #expect(all1.allSatisfy { $0.runID == r1 && $0.kind == "state" })
        #expect(all1.map(\.atMs) == (0..<10).map { Int64(1_000 - $0) })  // stored as given, ordered by append
        #expect(zip(all1, all1.dropFirst()).allSatisfy { $0.id < $1.id })

        #expect(try store.events(runID: r1, limit: 3).map(\.message) == ["r1-7", "r1-8", "r1-9"])
        #expect(try store.events(runID: r1, limit: 3) == Array(all1.suffix(3)))
        #expect(try store.events(runID: r2, limit: 0).map(\.message) == ["r2-0", "r2-2", "r2-4", "r2-6", "r2-8"])
        #expect(try store.events(runID: r2, limit: 2).map(\.message) == ["r2-6", "r2-8"])

        let cluster = try store.events(runID: nil, limit: 0)
        #expect(cluster.map(\.message) == ["c-0", "c-3", "c-6", "c-9"])
        #expect(cluster.allSatisfy { $0.runID == nil && $0.kind == "worker" })
        #expect(try store.events(runID: nil, limit: 1).map(\.message) == ["c-9"])
        #expect(try store.events(runID: "run-99", limit: 0).isEmpty)

        expectStoreError(containing: ["cannot append a state event of run-99", store.databasePath, "no run run-99"]) {
            try store.appendEvent(runID: "run-99", kind: "state", message: "x", atMs: 0)
        }
    }

    @Test func metricsRoundTripInOrderIncludingNonFiniteValues() throws {
        let tmp = try TempDir()
        defer { tmp.remove() }
        let store = try ClusterStore(directory: tmp.path)
        let r1 = try store.insertRun(name: "a", specYAML: "", submittedAtMs: 0).id
        let r2 = try store.insertRun(name: "b", specYAML: "", submittedAtMs: 0).id
        #expect(try store.metrics(runID: r1).isEmpty)
        try store.appendMetrics(runID: r1, epoch: 0, step: 100, values: [("loss", 2.25), ("accuracy", 0.5)], atMs: 10)
        try store.appendMetrics(runID: r2, epoch: 0, step: 1, values: [("loss", 9)], atMs: 11)
        try store.appendMetrics(runID: r1, epoch: 1, step: 200, values: [], atMs: 12)  // no-op
        try store.appendMetrics(
            runID: r1, epoch: 1, step: 200,
            values: [("loss", .nan), ("grad-norm", .infinity), ("min", -.infinity), ("tiny", Double.leastNonzeroMagnitude)], atMs: 13)

        let m = try store.metrics(runID: r1)
        #expect(m.count == 6)
        #expect(Array(m.prefix(2)) == [
            MetricRecord(runID: r1, epoch: 0, step: 100, name: "loss", value: 2.25, atMs: 10),
            MetricRecord(runID: r1, epoch: 0, step: 100, name: "accuracy", value: 0.5, atMs: 10),
        ])
        #expect(m.map(\.name) == ["loss", "accuracy", "loss", "grad-norm", "min", "tiny"])
        #expect(m[2].value.isNaN && m[2].epoch == 1 && m[2].step == 200 && m[2].atMs == 13)
        #expect(m[3].value == .infinity)
        #expect(m[4].value == -.infinity)
        #expect(m[5].value == Double.leastNonzeroMagnitude)
        #expect(try store.metrics(runID: r2) == [MetricRecord(runID: r2, epoch: 0, step: 1, name: "loss", value: 9, atMs: 11)])

        expectStoreError(containing: ["cannot append metrics of run-5", "no run run-5", store.databasePath]) {
            try store.appendMetrics(runID: "run-5", epoch: 0, step: 0, values: [("loss", 1)], atMs: 0)
        }
    }

    @Test func artifactsUpsertByRunAndName() throws {
        let tmp = try TempDir()
        defer { tmp.remove() }
        let store = try ClusterStore(directory: tmp.path)
        let r1 = try store.insertRun(name: "a", specYAML: "", submittedAtMs: 0).id
        let r2 = try store.insertRun(name: "b", specYAML: "", submittedAtMs: 0).id
        let onnx = ArtifactRecord(runID: r1, name: "student.onnx", sha256: String(repeating: "a", count: 64),
                                  bytes: 1_234, path: "artifacts/run-1/student.onnx", atMs: 5)
        let ckpt = ArtifactRecord(runID: r1, name: "student.safetensors", sha256: "bb", bytes: 99,
                                  path: "artifacts/run-1/student.safetensors", atMs: 6)
        let other = ArtifactRecord(runID: r2, name: "student.onnx", sha256: "cc", bytes: 1,
                                   path: "artifacts/run-2/student.onnx", atMs: 7)
        try store.saveArtifact(ckpt)
        try store.saveArtifact(onnx)
        try store.saveArtifact(other)
        #expect(try store.artifacts(runID: r1) == [onnx, ckpt])  // by name

        var newer = onnx
        newer.sha256 = "dd"
        newer.bytes = 4_321
        newer.path = "artifacts/run-1/student-v2.onnx"
        newer.atMs = 50
        try store.saveArtifact(newer)
        #expect(try store.artifacts(runID: r1) == [newer, ckpt])
        #expect(try store.artifacts(runID: r2) == [other])
        #expect(try store.artifacts(runID: "run-3").isEmpty)

        expectStoreError(containing: ["cannot save artifact x of run-3", "no run run-3"]) {
            try store.saveArtifact(ArtifactRecord(runID: "run-3", name: "x", sha256: "", bytes: 0, path: "", atMs: 0))
        }
    }

    @Test func deleteRunCascadesAndNeverReusesItsId() throws {
        let tmp = try TempDir()
        defer { tmp.remove() }
        let store = try ClusterStore(directory: tmp.path)
        let r1 = try store.insertRun(name: "a", specYAML: "", submittedAtMs: 0).id
        let r2 = try store.insertRun(name: "b", specYAML: "", submittedAtMs: 0).id
        for run in [r1, r2] {
            try store.appendEvent(runID: run, kind: "state", message: run, atMs: 0)
            try store.appendMetrics(runID: run, epoch: 0, step: 0, values: [("loss", 1)], atMs: 0)
            try store.saveArtifact(ArtifactRecord(runID: run, name: "m", sha256: "", bytes: 0, path: "", atMs: 0))
        }
        let lastEventID = try #require(try store.events(runID: r2, limit: 0).last?.id)
        #expect(try store.deleteRun(id: r2))
        #expect(try !store.deleteRun(id: r2))
        #expect(try store.run(id: r2) == nil)
        #expect(try store.events(runID: r2, limit: 0).isEmpty)
        #expect(try store.metrics(runID: r2).isEmpty)
        #expect(try store.artifacts(runID: r2).isEmpty)
        #expect(try store.events(runID: r1, limit: 0).count == 1)
        #expect(try store.metrics(runID: r1).count == 1)
        #expect(try store.artifacts(runID: r1).count == 1)

        #expect(try store.insertRun(name: "c", specYAML: "", submittedAtMs: 0).id.short == "run-3")
        try store.appendEvent(runID: nil, kind: "worker", message: "w", atMs: 0)
        #expect(try store.events(runID: nil, limit: 0).first!.id > lastEventID)  // event ids not reused either
    }

    @Test func closedStoreSaysSo() throws {
        let tmp = try TempDir()
        defer { tmp.remove() }
        let store = try ClusterStore(directory: tmp.path)
        _ = try store.insertRun(name: "r", specYAML: "", submittedAtMs: 0)
        #expect(FileManager.default.fileExists(atPath: store.databasePath + "-wal"))
        try store.close()
        try store.close()  // idempotent
        #expect(!FileManager.default.fileExists(atPath: store.databasePath + "-wal"))  // checkpointed
        expectStoreError(containing: ["cannot read the runs of", store.databasePath, "the store is closed"]) {
            _ = try store.runs(limit: 0)
        }
        expectStoreError(containing: ["cannot insert run r into", store.databasePath, "the store is closed"]) {
            _ = try store.insertRun(name: "r", specYAML: "", submittedAtMs: 0)
        }
        #expect(try ClusterStore(directory: tmp.path).runs(limit: 0).map(\.id.short) == ["run-1"])
    }
}
