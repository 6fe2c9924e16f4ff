#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import FileSupport

/// Whole-file reads, directory creation and (through FileSupport) crash-safe whole-file
/// writes over POSIX calls, for ``ShardCache``.
enum POSIXFile {
    /// Which file was read: device and inode, to tell whether a path still names it.
    struct Identity: Equatable {
        var device: UInt64
        var inode: UInt64
    }

    /// Writes `bytes` to `directory/name` atomically (FileSupport's `AtomicFile`: a hidden
    /// temporary file in the same directory, fsync, rename over the target, fsync of the
    /// directory). On failure the temporary file is removed and the target is untouched.
    static func writeAtomically(_ bytes: [UInt8], directory: String, name: String) throws(DatasetError) {
        let target = (directory.hasSuffix("/") ? directory : directory + "/") + name
        do throws(FileError) {
            try AtomicFile.write(bytes, to: target)
        } catch {
            throw .unwritable(path: target, reason: error.reason)
        }
    }

    /// Creates `path` and any missing parents (like `mkdir -p`), mode 0755 minus umask.
    /// - Throws: ``DatasetError/unwritable(path:reason:)`` naming the component that failed.
    static func makeDirectories(_ path: String) throws(DatasetError) {
        var prefix = path.hasPrefix("/") ? "/" : ""
        for component in path.split(separator: "/") {
            prefix += (prefix.isEmpty || prefix.hasSuffix("/") ? "" : "/") + component
            if mkdir(prefix, 0o755) == 0 { continue }
            let code = errno
            var info = stat()
            if code == EEXIST, stat(prefix, &info) == 0, info.st_mode & S_IFMT == S_IFDIR { continue }
            let detail = code == EEXIST ? "\(prefix) exists and is not a directory" : "mkdir \(prefix): \(describeErrno(code))"
            throw .unwritable(path: path, reason: "cannot create the shard cache directory: \(detail)")
        }
    }

    /// The whole content of the regular file at `path` and its identity.
    /// - Throws: ``DatasetError/missingShard(path:)`` if nothing is there,
    ///   ``DatasetError/unreadable(path:reason:)`` otherwise.
    static func read(_ path: String) throws(DatasetError) -> (bytes: [UInt8], identity: Identity) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let code = errno
            if code == ENOENT { throw .missingShard(path: path) }
            throw .unreadable(path: path, reason: describeErrno(code))
        }
        defer { _ = close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            throw .unreadable(path: path, reason: "fstat failed: \(describeErrno(errno))")
        }
        guard info.st_mode & S_IFMT == S_IFREG else {
            throw .unreadable(path: path, reason: "it is not a regular file")
        }
        let identity = Identity(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
        var bytes = [UInt8](repeating: 0, count: Int(info.st_size))
        var filled = 0
        var failure: Int32?
        bytes.withUnsafeMutableBytes { buffer in
            guard let start = buffer.baseAddress else { return }
            while filled < buffer.count {
                let n = systemRead(fd, start + filled, min(buffer.count - filled, 1 << 30))
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = errno
                    return
                }
                if n == 0 { return }  // the file shrank; the hash check will catch it
                filled += n
            }
        }
        if let failure {
            throw .unreadable(path: path, reason: "read failed: \(describeErrno(failure))")
        }
        bytes.removeLast(bytes.count - filled)
        return (bytes, identity)
    }

    /// Removes `path` if it still names the file `identity` (another process may have
    /// replaced it with a good copy since it was read).
    static func remove(_ path: String, ifStill identity: Identity) {
        var info = stat()
        guard stat(path, &info) == 0,
              Identity(device: UInt64(info.st_dev), inode: UInt64(info.st_ino)) == identity else { return }
        _ = unlink(path)
    }

    static func describeErrno(_ code: Int32) -> String {
        if let text = strerror(code) { return "\(String(cString: text)) (errno \(code))" }
        return "errno \(code)"
    }

    // `read` is shadowed by `POSIXFile.read(_:)` inside this type; name the C function explicitly.
    private static func systemRead(_ fd: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int) -> Int {
        #if canImport(Glibc)
        return Glibc.read(fd, buffer, count)
        #elseif canImport(Musl)
        return Musl.read(fd, buffer, count)
        #else
        return Darwin.read(fd, buffer, count)
        #endif
    }
}
