// Which file a path names, so that a reader can tell whether the path still names the file it
// read (another process may have replaced it by a rename in the meantime).

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A file's device and inode: the same pair means the same file, whatever its path says now.
public struct FileIdentity: Sendable, Hashable, CustomStringConvertible {
    public var device: UInt64
    public var inode: UInt64

    public init(device: UInt64, inode: UInt64) {
        self.device = device
        self.inode = inode
    }

    init(_ info: stat) {
        self.init(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
    }

    /// The file `path` names now; nil when nothing is there or it cannot be looked at.
    public static func of(_ path: String) -> FileIdentity? {
        var info = stat()
        return stat(path, &info) == 0 ? FileIdentity(info) : nil
    }

    /// Removes `path` only if it still names the file `identity` (e.g. a corrupt cache entry
    /// that another process may meanwhile have replaced with a good copy); whether it did.
    @discardableResult
    public static func remove(_ path: String, ifStill identity: FileIdentity) -> Bool {
        guard of(path) == identity else { return false }
        return unlink(path) == 0
    }

    /// `device:inode`, for messages.
    public var description: String { "\(device):\(inode)" }
}
