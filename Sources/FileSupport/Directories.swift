// Directory creation over POSIX calls, with errors that name the component that failed.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Creating directories (`mkdir -p`) and checking that one can hold new files.
public enum Directories {
    /// Creates `path` and any missing parents, like `mkdir -p`, with `mode` (minus the umask);
    /// existing directories on the way are fine.
    /// - Throws: a ``FileError`` on `path` whose reason names the component that failed:
    ///   "`/a/b` exists and is not a directory", or "mkdir `/a/b`: Permission denied (errno 13)".
    public static func create(_ path: String, mode: mode_t = 0o755) throws(FileError) {
        var prefix = path.hasPrefix("/") ? "/" : ""
        for component in path.split(separator: "/") {
            prefix += (prefix.isEmpty || prefix.hasSuffix("/") ? "" : "/") + component
            if mkdir(prefix, mode) == 0 { continue }
            let code = errno
            var info = stat()
            if code == EEXIST, stat(prefix, &info) == 0, info.st_mode & S_IFMT == S_IFDIR { continue }
            if code == EEXIST {
                throw FileError(path: path, reason: "\(prefix) exists and is not a directory", code: ENOTDIR)
            }
            throw FileError(path: path, reason: "mkdir \(prefix): \(AtomicFile.describe(code))", code: code)
        }
    }

    /// Throws unless this process may create and remove files in the directory `path`
    /// (write and search permission).
    public static func checkWritable(_ path: String) throws(FileError) {
        guard access(path, W_OK | X_OK) != 0 else { return }
        let code = errno
        throw FileError(path: path, reason: "not writable: \(AtomicFile.describe(code))", code: code)
    }
}
