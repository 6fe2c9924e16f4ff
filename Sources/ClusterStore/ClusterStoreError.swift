import GRDB

/// Every failure of `ClusterStore`: what failed, where (the database path or state dir), and
/// what to do about it, in one sentence fit for a log line or a CLI error.
public struct ClusterStoreError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What, where (the path), what to do.
    public var message: String
    public var description: String { message }

    public init(message: String) {
        self.message = message
    }
}

extension ClusterStoreError {
    /// `action` is a short phrase such as "cannot open" or "cannot save worker w1 in";
    /// the result reads "<action> <path>: <cause> — <advice>".
    init(_ action: String, path: String, underlying error: any Error) {
        if let storeError = error as? ClusterStoreError {
            self = storeError
            return
        }
        guard let dbError = error as? DatabaseError else {
            self.init(message: "\(action) \(path): \(error) — check the state dir and its files, then retry")
            return
        }
        let cause = dbError.message ?? "SQLite error \(dbError.extendedResultCode.rawValue)"
        let advice: String
        switch dbError.resultCode {
        case .SQLITE_NOTADB:
            advice = "is --state-dir pointing at another program's files? Move it away or choose another --state-dir"
        case .SQLITE_CORRUPT:
            advice = "the database is damaged: move it away (an empty history is created on the next start) "
                + "or restore it from a backup"
        case .SQLITE_CANTOPEN:
            advice = "check that the state dir exists, is a directory, and is writable by this user, "
                + "or choose another --state-dir"
        case .SQLITE_READONLY, .SQLITE_PERM, .SQLITE_AUTH:
            advice = "make the state dir and the files in it writable by this user, or choose another --state-dir"
        case .SQLITE_BUSY, .SQLITE_LOCKED:
            advice = "the database stayed locked for \(Int(ClusterStore.busyTimeoutSeconds)) s; is another "
                + "coordinator using this --state-dir? Stop it or choose another --state-dir"
        case .SQLITE_FULL:
            advice = "the disk is full: free space on the state dir's filesystem, then retry"
        case .SQLITE_IOERR:
            advice = "the disk or filesystem of the state dir failed: check it (dmesg, df), then retry"
        case .SQLITE_MISUSE where cause.contains("closed"):
            advice = "the store was closed; open a new ClusterStore"
        default:
            advice = "this is unexpected: keep the database file and report the error"
        }
        self.init(message: "\(action) \(path): \(cause) — \(advice)")
    }
}
