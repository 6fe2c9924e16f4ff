// Crash-safe whole-file writes over POSIX calls: the one way every target writes a file that
// a reader (or a restarted process) must find either old or new, never half-written.
//
// The bytes go to a temporary file in the target's directory (".NAME.tmp-PID-RANDOM"), which is
// fsync'd and then rename(2)d over the target; finally the directory is fsync'd so the rename
// itself is durable. Foundation's `Data.write(options: .atomic)` does the rename but neither
// fsync, so after a power loss the new name may point at an empty file.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Atomic whole-file replacement (`write`) and copying (`copy`).
///
/// ```swift
/// try AtomicFile.write(bytes, to: "/state/artifacts/run-3/report.json")
/// try AtomicFile.write(secret, to: keyPath, permissions: 0o600, replacing: false)
/// try AtomicFile.copy(from: received, to: cachePath)
/// ```
///
/// The parent directory must exist: creating it is the caller's job. On failure the
/// temporary file is removed, the target is untouched and the `FileError` names the target,
/// the failing step and the OS error. If only the final directory fsync fails, the file has
/// already been replaced but its durability across a power loss is not guaranteed; that is
/// reported too (file systems that cannot fsync a directory at all are accepted silently).
public enum AtomicFile {

    /// Atomically replaces (or creates) the file at `path` with `bytes`.
    ///
    /// - Parameters:
    ///   - permissions: the new file's mode bits, exactly (the umask does not apply; the
    ///     temporary file is created with them, so a secret is never readable by others, even
    ///     for a moment). nil: an existing target's bits are kept, a new file gets 0644 minus umask.
    ///   - replacing: false refuses an existing target: the error has `code` EEXIST and nothing
    ///     is changed (the file is linked into place with link(2), which never overwrites).
    public static func write(_ bytes: UnsafeRawBufferPointer, to path: String,
                             permissions: mode_t? = nil, replacing: Bool = true) throws(FileError) {
        try place(path, permissions: permissions, replacing: replacing) { (fd, temporary) throws(FileError) in
            if let code = writeAll(fd, bytes) {
                throw FileError(path: path, reason: "writing \(bytes.count) bytes to temporary file \"\(temporary)\" "
                                + "failed: \(describe(code))", code: code)
            }
        }
    }

    /// Atomically replaces (or creates) the file at `path` with `bytes` (see the raw-buffer form).
    public static func write(_ bytes: [UInt8], to path: String,
                             permissions: mode_t? = nil, replacing: Bool = true) throws(FileError) {
        var failure: FileError?
        bytes.withUnsafeBytes { buffer in
            do throws(FileError) {
                try write(buffer, to: path, permissions: permissions, replacing: replacing)
            } catch {
                failure = error
            }
        }
        if let failure { throw failure }
    }

    /// Atomically replaces (or creates) the file at `path` with a copy of the regular file at
    /// `source`, read in 1 MiB pieces (nothing is held in memory whole). Same options as `write`.
    /// A missing or unreadable source gives a `FileError` whose `path` is the source.
    public static func copy(from source: String, to path: String,
                            permissions: mode_t? = nil, replacing: Bool = true) throws(FileError) {
        let input = open(source, O_RDONLY | O_CLOEXEC)
        if input < 0 {
            let code = errno
            throw FileError(path: source, reason: "cannot open for reading (to copy it to \"\(path)\"): \(describe(code))",
                            code: code)
        }
        defer { _ = close(input) }
        var info = stat()
        guard fstat(input, &info) == 0, info.st_mode & S_IFMT == S_IFREG else {
            throw FileError(path: source, reason: "is not a regular file, so it cannot be copied to \"\(path)\"")
        }
        try place(path, permissions: permissions, replacing: replacing) { (fd, temporary) throws(FileError) in
            var chunk = [UInt8](repeating: 0, count: 1 << 20)
            var copied = 0
            while true {
                let n = chunk.withUnsafeMutableBytes { systemRead(input, $0.baseAddress!, $0.count) }
                if n < 0 {
                    let code = errno
                    if code == EINTR { continue }
                    throw FileError(path: source, reason: "read failed after \(copied) bytes (copying to \"\(path)\"): "
                                    + describe(code), code: code)
                }
                if n == 0 { return }
                if let code = chunk.withUnsafeBytes({ writeAll(fd, UnsafeRawBufferPointer(rebasing: $0[..<n])) }) {
                    throw FileError(path: path, reason: "writing to temporary file \"\(temporary)\" failed after "
                                    + "\(copied) bytes: \(describe(code))", code: code)
                }
                copied += n
            }
        }
    }

    // MARK: - The one sequence every variant goes through

    /// Creates the temporary file, lets `fill` write the content, then fsync, close, rename
    /// (or link, when not `replacing`) and fsync of the directory. Removes the temporary file
    /// on every failure.
    private static func place(_ path: String, permissions: mode_t?, replacing: Bool,
                              fill: (Int32, String) throws(FileError) -> Void) throws(FileError) {
        guard let (directory, name) = split(path) else {
            throw FileError(path: path, reason: "cannot write: the path does not name a file")
        }
        let temporary = (directory.hasSuffix("/") ? directory : directory + "/")
            + ".\(name).tmp-\(getpid())-\(String(UInt64.random(in: 0...UInt64.max), radix: 16))"

        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, permissions ?? 0o644)
        if fd < 0 {
            let code = errno
            if code == ENOENT || code == ENOTDIR {
                throw FileError(path: path, reason: "cannot create temporary file \"\(temporary)\": directory "
                                + "\"\(directory)\" does not exist (\(describe(code))); create it first", code: code)
            }
            throw FileError(path: path, reason: "cannot create temporary file \"\(temporary)\" in directory "
                            + "\"\(directory)\": \(describe(code)); the directory must be writable", code: code)
        }
        func fail(_ step: String, _ code: Int32) -> FileError {
            _ = close(fd)
            _ = unlink(temporary)
            return FileError(path: path, reason: "\(step) failed: \(describe(code))", code: code)
        }

        // Exact bits when asked (umask applied to open's mode); else keep those of the file we replace.
        var existing = stat()
        if let permissions {
            if fchmod(fd, permissions) != 0 { throw fail("setting mode \(octal(permissions)) of \"\(temporary)\"", errno) }
        } else if stat(path, &existing) == 0, existing.st_mode & S_IFMT == S_IFREG {
            if fchmod(fd, existing.st_mode & 0o7777) != 0 {
                throw fail("setting permissions of temporary file \"\(temporary)\"", errno)
            }
        }

        do throws(FileError) {
            try fill(fd, temporary)
        } catch {
            _ = close(fd)
            _ = unlink(temporary)
            throw error
        }
        if fsync(fd) != 0 { throw fail("fsync of temporary file \"\(temporary)\"", errno) }
        if close(fd) != 0 {
            let code = errno
            _ = unlink(temporary)
            throw FileError(path: path, reason: "closing temporary file \"\(temporary)\" failed: \(describe(code))", code: code)
        }
        if replacing {
            if rename(temporary, path) != 0 {
                let code = errno
                _ = unlink(temporary)
                throw FileError(path: path, reason: "renaming temporary file \"\(temporary)\" over the target failed: "
                                + describe(code), code: code)
            }
        } else {
            let linked = link(temporary, path)
            let code = errno
            _ = unlink(temporary)
            if linked != 0 {
                if code == EEXIST {
                    throw FileError(path: path, reason: "already exists and was left as it is; remove it first "
                                    + "or choose another name", code: code)
                }
                throw FileError(path: path, reason: "linking temporary file \"\(temporary)\" to the target failed: "
                                + describe(code), code: code)
            }
        }
        try syncDirectory(directory, path: path)
    }
}
