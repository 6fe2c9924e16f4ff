// The POSIX pieces `AtomicFile` and `FileBytes` share: loops over partial reads and writes,
// the directory fsync, and readable errno texts.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

extension AtomicFile {
    /// (directory, file name) of `path`; nil when the path has no file name component.
    static func split(_ path: String) -> (String, String)? {
        guard !path.isEmpty, !path.hasSuffix("/") else { return nil }
        guard let slash = path.lastIndex(of: "/") else { return (".", path) }
        let name = String(path[path.index(after: slash)...])
        let directory = slash == path.startIndex ? "/" : String(path[..<slash])
        guard name != ".", name != ".." else { return nil }
        return (directory, name)
    }

    /// Writes all bytes, looping over partial writes and EINTR. Returns errno on failure.
    static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Int32? {
        guard let base = bytes.baseAddress else { return nil }
        var written = 0
        while written < bytes.count {
            let n = systemWrite(fd, base + written, min(bytes.count - written, 1 << 30))
            if n < 0 {
                if errno == EINTR { continue }
                return errno
            }
            if n == 0 { return EIO }
            written += n
        }
        return nil
    }

    /// fsync of `directory`, so that a rename or link inside it survives a power loss.
    static func syncDirectory(_ directory: String, path: String) throws(FileError) {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd < 0 {
            let code = errno
            throw FileError(path: path, reason: "file was replaced, but opening directory \"\(directory)\" "
                            + "to fsync it failed: \(describe(code))", code: code)
        }
        defer { _ = close(fd) }
        if fsync(fd) != 0 {
            let code = errno
            // Some file systems cannot fsync directories; nothing more can be done there.
            if code == EINVAL || code == ENOTSUP { return }
            throw FileError(path: path, reason: "file was replaced, but fsync of directory \"\(directory)\" "
                            + "failed: \(describe(code))", code: code)
        }
    }

    /// "No such file or directory (errno 2)".
    static func describe(_ code: Int32) -> String {
        if let text = strerror(code) { return "\(String(cString: text)) (errno \(code))" }
        return "errno \(code)"
    }

    /// "0600".
    static func octal(_ mode: mode_t) -> String {
        let digits = String(mode, radix: 8)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }

    // `read`/`write` are shadowed by the members of `FileBytes`/`AtomicFile`; name the C functions.
    static func systemRead(_ fd: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int) -> Int {
        #if canImport(Glibc)
        return Glibc.read(fd, buffer, count)
        #elseif canImport(Musl)
        return Musl.read(fd, buffer, count)
        #else
        return Darwin.read(fd, buffer, count)
        #endif
    }

    static func systemWrite(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
        #if canImport(Glibc)
        return Glibc.write(fd, buffer, count)
        #elseif canImport(Musl)
        return Musl.write(fd, buffer, count)
        #else
        return Darwin.write(fd, buffer, count)
        #endif
    }
}
