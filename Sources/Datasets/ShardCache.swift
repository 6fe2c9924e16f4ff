import FileSupport
import Foundation

/// Shards a worker keeps on disk, by hash: `<directory>/<sha256>.shard`.
///
/// Writes are atomic: the bytes go to a hidden temporary file in the same directory
/// (`.<sha256>.shard.tmp-<pid>-<random>`), which is fsync'd, renamed over the target, and the
/// directory fsync'd; readers see the whole shard or none. Hashes are verified on ``store(_:sha256:)``
/// and again on ``load(_:)``: a file whose content no longer matches its name is removed and
/// reported (``DatasetError/corruptCachedShard(path:expected:found:)``). Hashes from outside
/// must be 64 lower-case hex digits (``SHA256/isHexDigest(_:)``), so they cannot name
/// anything outside the directory.
///
/// The value only holds the directory path: copies and other processes may use the same
/// directory concurrently (renames are atomic; a reader that finds a corrupt file removes it
/// only if it is still the same file).
public struct ShardCache: Sendable {
    /// The file name suffix of a cached shard.
    public static let fileSuffix = ".shard"

    /// The largest file ``load(_:)`` reads: 16 GiB, four times the largest shard a worker
    /// accepts (4 GiB), so only a runaway file (not a shard) is refused unread.
    public static let maxFileBytes = 16 << 30

    /// The cache directory.
    public let directory: String

    /// Opens the cache in `directory`, creating it (and its parents) if needed.
    /// - Throws: ``DatasetError/unwritable(path:reason:)`` if it cannot be created, is not a
    ///   directory, or is not writable.
    public init(directory: String) throws(DatasetError) {
        guard !directory.isEmpty else {
            throw .unwritable(path: directory, reason: "the shard cache directory path is empty")
        }
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else {
                throw .unwritable(path: directory, reason: "it exists but is not a directory, so it cannot hold the shard cache")
            }
        } else {
            // Private (0700): it holds the data sets and the teachers this worker was given.
            do throws(FileError) { try Directories.create(directory, mode: 0o700) } catch {
                throw .unwritable(path: directory, reason: "cannot create the shard cache directory: \(error.reason)")
            }
        }
        do throws(FileError) { try Directories.checkWritable(directory) } catch {
            throw .unwritable(path: directory, reason: "the shard cache directory is \(error.reason)")
        }
        self.directory = directory
    }

    /// The path of the shard with hash `sha256` (whether it is cached or not).
    /// `sha256` must be a valid hash (``SHA256/isHexDigest(_:)``).
    public func path(for sha256: String) -> String {
        precondition(SHA256.isHexDigest(sha256), "ShardCache.path: not a SHA-256 hex digest")
        return (directory.hasSuffix("/") ? directory : directory + "/") + sha256 + Self.fileSuffix
    }

    /// Hashes of the complete shards present, sorted (cheap: by file name; no re-hashing).
    /// Only names of 64 lower-case hex digits plus `.shard` count; temporary and other files
    /// are ignored.
    public func hashes() -> [String] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return [] }
        return names.compactMap { name -> String? in
            guard name.hasSuffix(Self.fileSuffix) else { return nil }
            let hash = String(name.dropLast(Self.fileSuffix.count))
            return SHA256.isHexDigest(hash) ? hash : nil
        }.sorted()
    }

    /// Whether a shard with this hash is present (by file name; `false` for a malformed hash).
    public func contains(_ sha256: String) -> Bool {
        guard SHA256.isHexDigest(sha256) else { return false }
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path(for: sha256), isDirectory: &isDirectory) && !isDirectory.boolValue
    }

    /// Verifies `bytes` hash to `sha256` (else throws, naming both hashes), then stores atomically,
    /// replacing any file of that name.
    /// - Throws: ``DatasetError/invalidShardHash(hash:)``,
    ///   ``DatasetError/shardHashMismatch(path:expected:found:)`` (nothing is written), or
    ///   ``DatasetError/unwritable(path:reason:)``.
    public func store(_ bytes: [UInt8], sha256: String) throws(DatasetError) {
        guard SHA256.isHexDigest(sha256) else { throw .invalidShardHash(hash: sha256) }
        let target = path(for: sha256)
        let actual = SHA256.hex(bytes)
        guard actual == sha256 else {
            throw .shardHashMismatch(path: target, expected: sha256, found: actual)
        }
        do throws(FileError) { try AtomicFile.write(bytes, to: target) } catch {
            throw .unwritable(path: target, reason: error.reason)
        }
    }

    /// Stores an encoded shard under its own hash (see ``store(_:sha256:)``).
    public func store(_ shard: DatasetShard) throws(DatasetError) {
        try store(shard.bytes, sha256: shard.sha256)
    }

    /// Reads (``FileBytes/readIdentified(_:limit:)``) and re-verifies; a mismatch removes the
    /// file, unless another process has meanwhile replaced it, and throws.
    /// - Throws: ``DatasetError/invalidShardHash(hash:)``, ``DatasetError/missingShard(path:)``,
    ///   ``DatasetError/unreadable(path:reason:)``, or
    ///   ``DatasetError/corruptCachedShard(path:expected:found:)`` (the file is gone afterwards).
    public func load(_ sha256: String) throws(DatasetError) -> [UInt8] {
        guard SHA256.isHexDigest(sha256) else { throw .invalidShardHash(hash: sha256) }
        let target = path(for: sha256)
        let file: (bytes: [UInt8], identity: FileIdentity)
        do throws(FileError) { file = try FileBytes.readIdentified(target, limit: Self.maxFileBytes) } catch {
            if error.code == ENOENT { throw .missingShard(path: target) }
            throw .unreadable(path: target, reason: error.reason)
        }
        let actual = SHA256.hex(file.bytes)
        guard actual == sha256 else {
            FileIdentity.remove(target, ifStill: file.identity)
            throw .corruptCachedShard(path: target, expected: sha256, found: actual)
        }
        return file.bytes
    }

    /// Removes the shard with this hash if it is present; returns whether a file was removed.
    @discardableResult
    public func remove(_ sha256: String) -> Bool {
        guard SHA256.isHexDigest(sha256) else { return false }
        return unlink(path(for: sha256)) == 0
    }
}
