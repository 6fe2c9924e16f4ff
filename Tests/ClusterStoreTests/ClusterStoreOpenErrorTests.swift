import Foundation
import GRDB
import Testing
@testable import ClusterStore

@Suite struct ClusterStoreOpenErrorTests {
    /// A state directory the store creates is private (mode 0700): its database and artifacts
    /// are the cluster's.
    @Test func aNewStateDirIsPrivate() throws {
        let tmp = try TempDir()
        defer { tmp.remove() }
        let dir = tmp.sub("state/deeper")
        _ = try ClusterStore(directory: dir)
        #expect(try FileManager.default.attributesOfItem(atPath: dir)[.posixPermissions] as? Int == 0o700)
    }

    @Test func aFileWhereTheStateDirShouldBe() throws {
        let tmp = try TempDir()
        defer { tmp.remove() }
        let file = tmp.sub("not-a-dir")
        try Data("hello".utf8).write(to: URL(fileURLWithPath: file))
        expectStoreError(containing: ["cannot use state dir \(file)", "is not a directory", "--state-dir"]) {
            _ = try ClusterStore(directory: file)
        }
        #expect(try String(contentsOfFile: file, encoding: .utf8) == "hello")
    }

    @Test func aStateDirThatCannotBeCreated() throws {
        let tmp = try TempDir()
        defer { tmp.remove() }
        let file = tmp.sub("file")
        try Data().write(to: URL(fileURLWithPath: file))
        expectStoreError(containing: ["cannot create state dir \(file)/state/deeper: \(file): Not a directory",
                                      "--state-dir"]) {
            _ = try ClusterStore(directory: file + "/state/deeper")
        }
        #expect(!FileManager.default.fileExists(atPath: file + "/state"))
    }

    @Test(.enabled(if: getuid() != 0, "root can write anywhere"))
    func anUnwritableStateDir() throws {
        let tmp = try TempDir()
        defer { tmp.remove() }
        let dir = tmp.sub("readonly")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: false)
        chmod(dir, 0o500)
        defer { chmod(dir, 0o700) }
        expectStoreError(containing: ["cannot write to state dir \(dir)", "Permission denied", "chmod", "--state-dir"]) {
            _ = try ClusterStore(directory: dir)
        }
    }

    @Test func aGarbageFileNamedLikeTheDatabase() throws {
        let tmp = try TempDir()
        defer { tmp.remove() }
        let path = tmp.sub(ClusterStore.fileName)
        let garbage = Data((0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) })
        try garbage.write(to: URL(fileURLWithPath: path))
        let message = expectStoreError(containing: [
            "cannot open \(path): file is not a database",
            "is --state-dir pointing at another program's files? Move it away or choose another --state-dir",
        ]) {
            _ = try ClusterStore(directory: tmp.path)
        }
        #expect(message == "cannot open \(path): file is not a database — is --state-dir pointing at another "
            + "program's files? Move it away or choose another --state-dir")
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == garbage)  // left untouched
    }

    @Test func aShortTextFileNamedLikeTheDatabase() throws {
        let tmp = try TempDir()
        defer { tmp.remove() }
        let path = tmp.sub(ClusterStore.fileName)
        try Data("not sqlite\n".utf8).write(to: URL(fileURLWithPath: path))
        expectStoreError(containing: ["cannot open \(path)", "not a database", "--state-dir"]) {
            _ = try ClusterStore(directory: tmp.path)
        }
    }

    @Test func aDirectoryNamedLikeTheDatabase() throws {
        let tmp = try TempDir()
        defer { tmp.remove() }
        try FileManager.default.createDirectory(atPath: tmp.sub(ClusterStore.fileName), withIntermediateDirectories: false)
        expectStoreError(containing: ["cannot open \(tmp.sub(ClusterStore.fileName))", "is a directory"]) {
            _ = try ClusterStore(directory: tmp.path)
        }
    }

    @Test func anotherProgramsSQLiteDatabase() throws {
        let tmp = try TempDir()
        defer { tmp.remove() }
        let path = tmp.sub(ClusterStore.fileName)
        do {
            let other = try DatabaseQueue(path: path)
            try other.write { db in
                try db.execute(sql: "CREATE TABLE runs (x); CREATE TABLE users (name TEXT)")
            }
        }
        expectStoreError(containing: ["cannot open \(path)", "not a Distillery database", "runs, users",
                                      "--state-dir"]) {
            _ = try ClusterStore(directory: tmp.path)
        }
        // …and it was not modified, not even its journal mode.
        let (tables, journal) = try DatabaseQueue(path: path).read { db in
            (
                try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"),
                try String.fetchOne(db, sql: "PRAGMA journal_mode")
            )
        }
        #expect(tables == ["runs", "users"])
        #expect(journal == "delete")
    }

    @Test func anotherProgramsApplicationID() throws {
        let tmp = try TempDir()
        defer { tmp.remove() }
        let path = tmp.sub(ClusterStore.fileName)
        do {
            let other = try DatabaseQueue(path: path)
            try other.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA application_id = 1234") }
        }
        expectStoreError(containing: ["cannot open \(path)", "another program", "1234", "--state-dir"]) {
            _ = try ClusterStore(directory: tmp.path)
        }
    }

    @Test func aDatabaseFromANewerSchemaIsRefused() throws {
        let tmp = try TempDir()
        defer { tmp.remove() }
        let path: String
        do {
            let store = try ClusterStore(directory: tmp.path)
            _ = try store.insertRun(name: "old", specYAML: "", submittedAtMs: 0)
            path = store.databasePath
            // What a future Distillery would have done: applied "v4" (and changed the schema).
            try store.dbQueue.write { db in
                try db.execute(sql: """
                    INSERT INTO grdb_migrations (identifier) VALUES ('v4'), ('v10');
                    ALTER TABLE runs ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;
                    """)
            }
        }
        expectStoreError(containing: ["cannot open \(path)", "newer Distillery", "v10, v4", "this one knows v1, v2, v3",
                                      "run the newer distillery"]) {
            _ = try ClusterStore(directory: tmp.path)
        }
        // Refusing changed nothing.
        let applied = try DatabaseQueue(path: path).read { db in
            try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations ORDER BY identifier")
        }
        #expect(applied == ["v1", "v10", "v2", "v3", "v4"])
    }

    @Test func anEmptyFileIsAFreshDatabase() throws {
        let tmp = try TempDir()
        defer { tmp.remove() }
        try Data().write(to: URL(fileURLWithPath: tmp.sub(ClusterStore.fileName)))
        let store = try ClusterStore(directory: tmp.path)
        #expect(try store.insertRun(name: "r", specYAML: "", submittedAtMs: 0).id.short == "run-1")
    }

    @Test func errorsDescribeThemselvesAndCompare() {
        let error = ClusterStoreError(message: "cannot open /x: y — z")
        #expect(error.description == "cannot open /x: y — z")
        #expect("\(error)" == "cannot open /x: y — z")
        #expect(error == ClusterStoreError(message: "cannot open /x: y — z"))
        #expect(error != ClusterStoreError(message: "other"))
    }
}
