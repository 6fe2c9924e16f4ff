/// A file operation that failed: which path, what went wrong (the step and the OS error), and
/// the `errno` when there was one, so callers can tell "already exists" (EEXIST) or "missing"
/// (ENOENT) apart without parsing text.
///
/// Targets wrap it in their own error types (`CheckpointError.io`, `DatasetError.unwritable`, …)
/// with `reason`, which never repeats the path at its start: `description` adds it.
public struct FileError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file the caller asked about (the target of a write, the file of a read).
    public var path: String
    /// What failed and why, e.g. `fsync of temporary file "/d/.x.tmp-1-f" failed: Input/output error (errno 5)`.
    public var reason: String
    /// The `errno` of the failing call, or nil when the problem was found without one (a limit, say).
    public var code: Int32?

    public init(path: String, reason: String, code: Int32? = nil) {
        self.path = path
        self.reason = reason
        self.code = code
    }

    /// `PATH: REASON`.
    public var description: String { "\(path): \(reason)" }
}
