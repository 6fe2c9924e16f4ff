import Clocks
import Foundation
import GRDB
import Synchronization

/// The coordinator's persistent state: one SQLite database (GRDB, WAL, `synchronous = FULL` so a
/// committed write survives a crash or power loss) at `<stateDir>/distillery.sqlite`. The schema
/// is created and migrated on open (`DatabaseMigrator`, migrations "v1", …); a database written
/// by a newer Distillery, or by another program, is refused.
///
/// Thread-safe: one serialized `DatabaseQueue` inside; every method is one short transaction.
/// The methods are synchronous: they block the calling thread for one SQLite transaction (a
/// commit costs an fsync, usually a few milliseconds), or up to the 5 s busy timeout while
/// another process holds the write lock.
public final class ClusterStore: Sendable {
    /// The file name of the database inside the state dir.
    public static let fileName = "distillery.sqlite"
    /// How long a write waits for another connection's lock before failing with SQLITE_BUSY.
    static let busyTimeoutSeconds: TimeInterval = 5
    /// `PRAGMA application_id` of a Distillery database ("DSTL"): tells our files from others'.
    static let applicationID: Int32 = 0x4453_544C

    /// The state dir, as an absolute path.
    public let directory: String
    /// `<directory>/distillery.sqlite`.
    public let databasePath: String
    let dbQueue: DatabaseQueue
    /// Set by `close()`; checked inside the queue before every access (GRDB crashes, rather than
    /// throws, when a closed DatabaseQueue is read).
    private let closed = Mutex(false)
    /// Fault injection for tests: the next write waits this long first (a disk stalled behind
    /// another process's I/O).
    private let nextWriteStall = Mutex<Duration?>(nil)
    /// The clock an injected write stall waits on.
    private let clock: any RuntimeClock

    /// Creates the directory if needed and opens/migrates the database. Throws
    /// `ClusterStoreError` with a clear message: directory not creatable/writable, file is not
    /// a Distillery database (or corrupt), written by a newer schema. `clock` times the
    /// injected write stalls (`stallNextWrite`).
    public init(directory: String, clock: any RuntimeClock = SystemRuntimeClock()) throws(ClusterStoreError) {
        self.clock = clock
        let dir = URL(fileURLWithPath: directory).standardizedFileURL.path
        let path = URL(fileURLWithPath: dir).appendingPathComponent(Self.fileName).path
        self.directory = dir
        self.databasePath = path
        try Self.prepareDirectory(dir, databasePath: path)
        self.dbQueue = try Self.openDatabase(path)
    }

    /// Closes the database (checkpointing the WAL). Optional: dropping the last reference closes
    /// it too. Any later call on this store throws.
    public func close() throws(ClusterStoreError) {
        let wasClosed = closed.withLock { isClosed in
            defer { isClosed = true }
            return isClosed
        }
        if wasClosed { return }
        do {
            try dbQueue.close()
        } catch {
            throw ClusterStoreError("cannot close", path: databasePath, underlying: error)
        }
    }

    // MARK: - Opening

    private static func prepareDirectory(_ dir: String, databasePath: String) throws(ClusterStoreError) {
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        if fm.fileExists(atPath: dir, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else {
                throw ClusterStoreError(message: "cannot use state dir \(dir): it exists and is not a directory — "
                    + "move the file away or choose another --state-dir")
            }
        } else if let (failedAt, code) = makeDirectories(dir) {
            let cause = failedAt == dir ? strerrorString(code) : "\(failedAt): \(strerrorString(code))"
            throw ClusterStoreError(message: "cannot create state dir \(dir): \(cause) — "
                + "create it yourself (writable by this user) or choose another --state-dir")
        }
        guard access(dir, W_OK | X_OK) == 0 else {
            let cause = strerrorString(errno)
            throw ClusterStoreError(message: "cannot write to state dir \(dir): \(cause) — make it writable "
                + "by user \(getuid()) (chown/chmod) or choose another --state-dir")
        }
        if fm.fileExists(atPath: databasePath, isDirectory: &isDirectory), isDirectory.boolValue {
            throw ClusterStoreError(message: "cannot open \(databasePath): it is a directory, not a database — "
                + "move it away or choose another --state-dir")
        }
    }

    /// `mkdir -p`, private (mode 0700: the database and artifacts are the cluster's); on
    /// failure, the path that could not be created and the errno.
    private static func makeDirectories(_ path: String) -> (String, Int32)? {
        var current = ""
        for component in path.split(separator: "/") {
            current += "/" + component
            guard mkdir(current, 0o700) != 0 else { continue }
            let code = errno
            guard code == EEXIST else { return (current, code) }
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: current, isDirectory: &isDirectory), isDirectory.boolValue
            else { return (current, ENOTDIR) }
        }
        return nil
    }

    private static func strerrorString(_ code: Int32) -> String {
        String(cString: strerror(code))
    }

    private static func configuration() -> Configuration {
        var config = Configuration()
        config.label = "ClusterStore"
        config.foreignKeysEnabled = true
        config.busyMode = .timeout(busyTimeoutSeconds)
        // Not `config.journalMode = .wal`: GRDB's WAL set-up runs after prepareDatabase and sets
        // `synchronous = NORMAL`, which may lose the last commits on power loss. We want FULL
        // (per connection, so here); WAL itself is persistent and switched on in `openDatabase`,
        // once the file is known to be ours.
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        return config
    }

    private static func openDatabase(_ path: String) throws(ClusterStoreError) -> DatabaseQueue {
        let queue: DatabaseQueue
        do {
            queue = try DatabaseQueue(path: path, configuration: configuration())
        } catch {
            throw ClusterStoreError("cannot open", path: path, underlying: error)
        }
        let migrator = Self.migrator
        do {
            try queue.writeWithoutTransaction { db in
                try checkOwnership(db, path: path, migrator: migrator)
                let mode = try String.fetchOne(db, sql: "PRAGMA journal_mode = WAL")
                guard mode?.lowercased() == "wal" else {
                    throw DatabaseError(
                        resultCode: .SQLITE_CANTOPEN,
                        message: "cannot switch the journal to WAL (got \(mode ?? "nothing")); "
                            + "is the state dir on a filesystem without shared memory (e.g. NFS)?")
                }
            }
            try migrator.migrate(queue)
        } catch {
            throw ClusterStoreError("cannot open", path: path, underlying: error)
        }
        return queue
    }

    /// Refuses files that are SQLite databases but not ours, and ours from a newer Distillery.
    private static func checkOwnership(_ db: Database, path: String, migrator: DatabaseMigrator) throws {
        let appID = try Int32.fetchOne(db, sql: "PRAGMA application_id") ?? 0
        let hasMigrations = try db.tableExists("grdb_migrations")
        if appID != 0 && appID != applicationID {
            throw ClusterStoreError(message: "cannot open \(path): it is an SQLite database of another program "
                + "(application_id \(appID)) — is --state-dir pointing at another program's files? "
                + "Move it away or choose another --state-dir")
        }
        if !hasMigrations {
            let tables = try String.fetchAll(db, sql: """
                SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name
                """)
            if !tables.isEmpty {
                throw ClusterStoreError(message: "cannot open \(path): it is not a Distillery database (it has "
                    + "tables \(tables.joined(separator: ", ")) but no Distillery schema) — is --state-dir "
                    + "pointing at another program's files? Move it away or choose another --state-dir")
            }
            return
        }
        if try migrator.hasBeenSuperseded(db) {
            let known = Set(migrator.migrations)
            let unknown = try migrator.appliedIdentifiers(db).subtracting(known).sorted()
            throw ClusterStoreError(message: "cannot open \(path): it was written by a newer Distillery "
                + "(unknown schema migrations \(unknown.joined(separator: ", ")); this one knows "
                + "\(migrator.migrations.joined(separator: ", "))) — run the newer distillery, or move the "
                + "file away to start with an empty history")
        }
    }

    /// Fault injection (tests, chaos runs): the next write transaction stalls for `duration`
    /// before it starts, as a write queued behind another process's fsync would.
    public func stallNextWrite(for duration: Duration) {
        nextWriteStall.withLock { $0 = duration }
    }

    // MARK: - Access helpers

    /// One IMMEDIATE write transaction; every error becomes a `ClusterStoreError` that starts with
    /// `action` (e.g. "cannot save worker w1 in").
    func write<T>(_ action: @autoclosure () -> String, _ body: (Database) throws -> T) throws(ClusterStoreError) -> T {
        if let stall = nextWriteStall.withLock({ s -> Duration? in defer { s = nil }; return s }) {
            clock.blockingSleep(for: stall)
        }
        do {
            return try dbQueue.writeWithoutTransaction { db in
                try checkOpen()
                return try Self.inTransaction(db, .immediate, body)
            }
        } catch {
            throw ClusterStoreError(action(), path: databasePath, underlying: error)
        }
    }

    /// One read-only (DEFERRED) transaction; errors as in `write`.
    func read<T>(_ action: @autoclosure () -> String, _ body: (Database) throws -> T) throws(ClusterStoreError) -> T {
        do {
            return try dbQueue.writeWithoutTransaction { db in
                try checkOpen()
                return try db.readOnly { try Self.inTransaction(db, .deferred, body) }
            }
        } catch {
            throw ClusterStoreError(action(), path: databasePath, underlying: error)
        }
    }

    private func checkOpen() throws {
        if closed.withLock({ $0 }) {
            throw DatabaseError(resultCode: .SQLITE_MISUSE, message: "the store is closed")
        }
    }

    private static func inTransaction<T>(
        _ db: Database, _ kind: Database.TransactionKind, _ body: (Database) throws -> T
    ) throws -> T {
        var result: T?
        try db.inTransaction(kind) {  // rolls back and rethrows if `body` throws
            result = try body(db)
            return .commit
        }
        guard let result else {
            throw DatabaseError(resultCode: .SQLITE_INTERNAL, message: "the transaction ended without a result")
        }
        return result
    }

    /// Throws "no run X" unless the run exists (inside a transaction).
    func requireRun(_ id: String, _ db: Database, for action: String) throws {
        guard try Bool.fetchOne(db, sql: "SELECT 1 FROM runs WHERE id = ?", arguments: [id]) == true else {
            throw ClusterStoreError(message: "\(action) \(databasePath): no run \(id) — "
                + "insert the run first (insertRun), or check the run id")
        }
    }
}
