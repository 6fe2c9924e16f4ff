// Bounded reads of whole files and of their first bytes over POSIX calls: a hostile or
// mistaken path (a 50 GB file, a FIFO that never ends) cannot exhaust memory.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Size-limited whole-file reads (`read`, and `readIdentified`, which also says which file was
/// read) and reads of a file's first bytes (`prefix`), e.g. of a safetensors header without its
/// tensors.
public enum FileBytes {

    /// Reads the whole file at `path`, refusing files larger than `limit` bytes (also those
    /// that grow past it while being read).
    public static func read(_ path: String, limit: Int) throws(FileError) -> [UInt8] {
        let (fd, info) = try openRegular(path)
        defer { _ = close(fd) }
        return try readAll(fd, size: Int(info.st_size), limit: limit, path: path)
    }

    /// Reads the whole regular file at `path` like ``read(_:limit:)`` and returns the identity
    /// of the file it read (taken from the open descriptor, so it is that file even if the path
    /// is renamed over meanwhile): a caller that finds the content bad can remove the file with
    /// ``FileIdentity/remove(_:ifStill:)`` without removing a good copy put there since.
    /// Anything but a regular file (a directory, a FIFO, a device) is refused.
    public static func readIdentified(_ path: String, limit: Int) throws(FileError) -> (bytes: [UInt8], identity: FileIdentity) {
        let (fd, info) = try openRegular(path)
        defer { _ = close(fd) }
        guard info.st_mode & S_IFMT == S_IFREG else {
            throw FileError(path: path, reason: "it is not a regular file")
        }
        return (try readAll(fd, size: Int(info.st_size), limit: limit, path: path), FileIdentity(info))
    }

    /// The first `count` bytes of the file at `path` (fewer when the file is shorter) and the
    /// file's size in bytes when it was opened.
    public static func prefix(_ path: String, count: Int) throws(FileError) -> (bytes: [UInt8], fileSize: Int) {
        precondition(count >= 0, "FileBytes.prefix: negative count \(count)")
        let (fd, info) = try openRegular(path)
        defer { _ = close(fd) }
        return (try readUpTo(fd, count, path: path), Int(info.st_size))
    }

    // MARK: - Helpers

    /// The rest of `fd` (`size` bytes by fstat), refusing more than `limit` bytes.
    private static func readAll(_ fd: Int32, size: Int, limit: Int, path: String) throws(FileError) -> [UInt8] {
        if size > limit {
            throw FileError(path: path, reason: "file is \(size) bytes, larger than the limit of \(limit) bytes")
        }
        var result = try readUpTo(fd, max(size, 0), path: path)

        // The file may have grown since fstat (or st_size may be 0 for special files).
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = chunk.withUnsafeMutableBytes { AtomicFile.systemRead(fd, $0.baseAddress!, $0.count) }
            if n < 0 {
                let code = errno
                if code == EINTR { continue }
                throw FileError(path: path, reason: "read failed: \(AtomicFile.describe(code))", code: code)
            }
            if n == 0 { break }
            if result.count + n > limit {
                throw FileError(path: path, reason: "file is larger than the limit of \(limit) bytes")
            }
            result.append(contentsOf: chunk[0..<n])
        }
        return result
    }

    /// Opens `path` for reading; refuses directories. Returns the descriptor and its fstat.
    private static func openRegular(_ path: String) throws(FileError) -> (Int32, stat) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            let code = errno
            throw FileError(path: path, reason: "cannot open for reading: \(AtomicFile.describe(code))", code: code)
        }
        var info = stat()
        if fstat(fd, &info) != 0 {
            let code = errno
            _ = close(fd)
            throw FileError(path: path, reason: "cannot stat: \(AtomicFile.describe(code))", code: code)
        }
        if info.st_mode & S_IFMT == S_IFDIR {
            _ = close(fd)
            throw FileError(path: path, reason: "is a directory, expected a file", code: EISDIR)
        }
        return (fd, info)
    }

    /// Up to `count` bytes from `fd` (fewer at end of file), looping over partial reads and EINTR.
    private static func readUpTo(_ fd: Int32, _ count: Int, path: String) throws(FileError) -> [UInt8] {
        var result = [UInt8](repeating: 0, count: count)
        var filled = 0
        var failure: Int32? = nil
        result.withUnsafeMutableBytes { buffer in
            guard let base = buffer.baseAddress else { return }
            while filled < buffer.count {
                let n = AtomicFile.systemRead(fd, base + filled, min(buffer.count - filled, 1 << 30))
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = errno
                    return
                }
                if n == 0 { return }  // end of file (it may have shrunk since fstat)
                filled += n
            }
        }
        if let failure {
            throw FileError(path: path, reason: "read failed: \(AtomicFile.describe(failure))", code: failure)
        }
        result.removeLast(result.count - filled)
        return result
    }
}
