// Crash-safe whole-file writes and bounded whole-file reads over POSIX calls.
//
// `write` never leaves a half-written target: the bytes go to a temporary file in the same
// directory (".NAME.tmp-PID-RANDOM"), which is fsync'd and then rename(2)d over the target;
// finally the directory is fsync'd so the rename itself is durable. Readers therefore see
// either the old file or the new one.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Atomic whole-file replacement and size-limited whole-file reads.
public enum AtomicFile {

    /// Atomically replaces (or creates) the file at `path` with `bytes`.
    ///
    /// The parent directory must already exist: creating it is the caller's job. On failure
    /// the temporary file is removed and `.io(source: path, …)` names the failing step and the
    /// OS error. If only the final directory fsync fails, the file has already been replaced
    /// but its durability across a power loss is not guaranteed; that is reported as well.
    /// An existing target's permission bits are kept; a new file gets 0644 (minus umask).
    public static func write(_ bytes: [UInt8], to path: String) throws(CheckpointError) {
        guard let (directory, name) = split(path) else {
            throw .io(source: path, reason: "cannot write: the path does not name a file")
        }
        let temporary = (directory.hasSuffix("/") ? directory : directory + "/")
            + ".\(name).tmp-\(getpid())-\(String(UInt64.random(in: 0...UInt64.max), radix: 16))"

        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        if fd < 0 {
            let code = errno
            if code == ENOENT || code == ENOTDIR {
                throw .io(source: path, reason: "cannot write: directory \"\(directory)\" does not exist "
                          + "(\(describeErrno(code))); create the parent directories before saving")
            }
            throw .io(source: path, reason: "cannot create temporary file \"\(temporary)\" in directory "
                      + "\"\(directory)\": \(describeErrno(code))")
        }

        func fail(_ step: String, _ code: Int32) -> CheckpointError {
            _ = close(fd)
            _ = unlink(temporary)
            return .io(source: path, reason: "\(step) failed: \(describeErrno(code))")
        }

        // Keep the permission bits of a file we replace.
        var existing = stat()
        if stat(path, &existing) == 0, existing.st_mode & 0o170000 == 0o100000 {
            if fchmod(fd, existing.st_mode & 0o7777) != 0 {
                throw fail("setting permissions of temporary file \"\(temporary)\"", errno)
            }
        }

        if let code = writeAll(fd, bytes) {
            throw fail("writing \(bytes.count) bytes to temporary file \"\(temporary)\"", code)
        }
        if fsync(fd) != 0 {
            throw fail("fsync of temporary file \"\(temporary)\"", errno)
        }
        if close(fd) != 0 {
            let code = errno
            _ = unlink(temporary)
            throw .io(source: path, reason: "closing temporary file \"\(temporary)\" failed: \(describeErrno(code))")
        }
        if rename(temporary, path) != 0 {
            let code = errno
            _ = unlink(temporary)
            throw .io(source: path, reason: "renaming temporary file \"\(temporary)\" over the target failed: "
                      + describeErrno(code))
        }
        try syncDirectory(directory, path: path)
    }

    /// Reads the whole file at `path`, refusing files larger than `limit` bytes.
    public static func read(_ path: String, limit: Int) throws(CheckpointError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            throw .io(source: path, reason: "cannot open for reading: \(describeErrno(errno))")
        }
        defer { _ = close(fd) }

        var info = stat()
        if fstat(fd, &info) != 0 {
            throw .io(source: path, reason: "cannot stat: \(describeErrno(errno))")
        }
        if info.st_mode & 0o170000 == 0o040000 {
            throw .io(source: path, reason: "is a directory, expected a file")
        }
        let size = Int(info.st_size)
        if size > limit {
            throw .io(source: path, reason: "file is \(size) bytes, larger than the limit of \(limit) bytes")
        }

        var result = [UInt8](repeating: 0, count: max(size, 0))
        var filled = 0
        var failure: Int32? = nil
        result.withUnsafeMutableBytes { buffer in
            guard let base = buffer.baseAddress else { return }
            while filled < buffer.count {
                let n = systemRead(fd, base + filled, buffer.count - filled)
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = errno
                    return
                }
                if n == 0 { return }  // The file shrank while we read it.
                filled += n
            }
        }
        if let failure {
            throw .io(source: path, reason: "read failed: \(describeErrno(failure))")
        }
        result.removeLast(result.count - filled)

        // The file may have grown since fstat (or st_size may be 0 for special files).
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = chunk.withUnsafeMutableBytes { buffer -> Int in
                guard let base = buffer.baseAddress else { return 0 }
                return systemRead(fd, base, buffer.count)
            }
            if n < 0 {
                let code = errno
                if code == EINTR { continue }
                throw .io(source: path, reason: "read failed: \(describeErrno(code))")
            }
            if n == 0 { break }
            if result.count + n > limit {
                throw .io(source: path, reason: "file is larger than the limit of \(limit) bytes")
            }
            result.append(contentsOf: chunk[0..<n])
        }
        return result
    }

    // MARK: - Helpers

    /// (directory, file name) of `path`; nil when the path has no file name component.
    private static func split(_ path: String) -> (String, String)? {
        guard !path.isEmpty, !path.hasSuffix("/") else { return nil }
        guard let slash = path.lastIndex(of: "/") else { return (".", path) }
        let name = String(path[path.index(after: slash)...])
        let directory = slash == path.startIndex ? "/" : String(path[..<slash])
        guard name != ".", name != ".." else { return nil }
        return (directory, name)
    }

    /// Writes all bytes, looping over partial writes and EINTR. Returns errno on failure.
    private static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Int32? {
        bytes.withUnsafeBytes { buffer -> Int32? in
            guard let base = buffer.baseAddress else { return nil }
            var written = 0
            while written < buffer.count {
                let n = systemWrite(fd, base + written, min(buffer.count - written, 1 << 30))
                if n < 0 {
                    if errno == EINTR { continue }
                    return errno
                }
                if n == 0 { return EIO }
                written += n
            }
            return nil
        }
    }

    private static func syncDirectory(_ directory: String, path: String) throws(CheckpointError) {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd < 0 {
            throw .io(source: path, reason: "file was replaced, but opening directory \"\(directory)\" "
                      + "to fsync it failed: \(describeErrno(errno))")
        }
        defer { _ = close(fd) }
        if fsync(fd) != 0 {
            let code = errno
            // Some file systems cannot fsync directories; nothing more can be done there.
            if code == EINVAL || code == ENOTSUP { return }
            throw .io(source: path, reason: "file was replaced, but fsync of directory \"\(directory)\" "
                      + "failed: \(describeErrno(code))")
        }
    }

    private static func describeErrno(_ code: Int32) -> String {
        if let text = strerror(code) {
            return "\(String(cString: text)) (errno \(code))"
        }
        return "errno \(code)"
    }

    // `AtomicFile.read`/`write` shadow the C functions inside this type; name them explicitly.
    private static func systemRead(_ fd: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int) -> Int {
        #if canImport(Glibc)
        return Glibc.read(fd, buffer, count)
        #elseif canImport(Musl)
        return Musl.read(fd, buffer, count)
        #else
        return Darwin.read(fd, buffer, count)
        #endif
    }

    private static func systemWrite(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
        #if canImport(Glibc)
        return Glibc.write(fd, buffer, count)
        #elseif canImport(Musl)
        return Musl.write(fd, buffer, count)
        #else
        return Darwin.write(fd, buffer, count)
        #endif
    }
}
