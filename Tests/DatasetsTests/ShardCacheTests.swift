import Datasets
import Foundation
import Testing

/// The names in `directory`, sorted.
private func listing(_ directory: String) throws -> [String] {
    try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
}

/// Some shard-like bytes and their hash.
private func blob(_ seed: UInt64, count: Int = 1000) -> (bytes: [UInt8], hash: String) {
    let bytes = randomBytes(count, seed: seed)
    return (bytes, SHA256.hex(bytes))
}

@Suite("ShardCache")
struct ShardCacheTests {
    @Test("init creates the directory (mode 0700) with its parents; an existing directory is reused")
    func createsDirectory() throws {
        let root = try TemporaryDirectory()
        let nested = root.path("a/b/cache")
        let cache = try ShardCache(directory: nested)
        #expect(cache.directory == nested)
        var isDirectory: ObjCBool = false
        #expect(FileManager.default.fileExists(atPath: nested, isDirectory: &isDirectory) && isDirectory.boolValue)
        #expect(cache.hashes().isEmpty)
        // Private: it holds the data sets and teachers this worker was given.
        #expect(try FileManager.default.attributesOfItem(atPath: nested)[.posixPermissions] as? Int == 0o700)

        let (bytes, hash) = blob(1)
        try cache.store(bytes, sha256: hash)
        let again = try ShardCache(directory: nested)
        #expect(again.hashes() == [hash])
    }

    @Test("init fails clearly on a file, below a file, and on an empty path")
    func initErrors() throws {
        let root = try TemporaryDirectory()
        let file = root.path("plain-file")
        try writeRaw([1, 2, 3], to: file)
        let onFile = try #require(expectDatasetError { try ShardCache(directory: file) })
        guard case .unwritable(let path, let reason) = onFile else {
            Issue.record("expected .unwritable, got \(onFile)")
            return
        }
        #expect(path == file)
        #expect(reason.contains("not a directory"))
        #expect(onFile.description.contains(file))

        let below = file + "/cache"
        guard case .unwritable(let belowPath, let belowReason) = try #require(expectDatasetError {
            try ShardCache(directory: below)
        }) else {
            Issue.record("expected .unwritable below a file")
            return
        }
        #expect(belowPath == below)
        #expect(belowReason == "cannot create the shard cache directory: \(file) exists and is not a directory")
        guard case .unwritable = try #require(expectDatasetError { try ShardCache(directory: "") }) else {
            Issue.record("expected .unwritable for an empty path")
            return
        }
    }

    @Test("store then load round-trips; the file is <dir>/<sha256>.shard with the exact bytes and no temp file is left")
    func roundTrip() throws {
        let root = try TemporaryDirectory()
        let cache = try ShardCache(directory: root.url.path)
        let (bytes, hash) = blob(2, count: 300_000)
        #expect(!cache.contains(hash))
        try cache.store(bytes, sha256: hash)
        #expect(cache.contains(hash))
        #expect(cache.hashes() == [hash])
        #expect(try listing(root.url.path) == [hash + ".shard"])
        #expect(cache.path(for: hash) == root.path(hash + ".shard"))
        #expect(try readFile(cache.path(for: hash)) == bytes)
        #expect(try cache.load(hash) == bytes)

        // Storing again (same content) replaces the file atomically and still leaves one file.
        try cache.store(bytes, sha256: hash)
        #expect(try listing(root.url.path) == [hash + ".shard"])

        // A DatasetShard stores under its own hash; an empty shard is fine too.
        let shard = try DatasetShard(name: "t", sampleShape: [2], classCount: 2, preprocessing: .none,
                                     train: .init(values: .uint8([1, 2]), labels: [1]), test: .init(values: .uint8([]), labels: []))
        try cache.store(shard)
        #expect(try DatasetShard.unpack(try cache.load(shard.sha256)).train.labels == [1])
        let empty = SHA256.hex([])
        try cache.store([], sha256: empty)
        #expect(try cache.load(empty) == [])
        #expect(cache.hashes() == [hash, shard.sha256, empty].sorted())

        #expect(cache.remove(hash))
        #expect(!cache.remove(hash))
        #expect(!cache.contains(hash))
    }

    @Test("store verifies the hash first, naming both hashes, and writes nothing on a mismatch")
    func storeMismatch() throws {
        let root = try TemporaryDirectory()
        let cache = try ShardCache(directory: root.url.path)
        let (bytes, hash) = blob(3)
        let (_, other) = blob(4)
        let error = try #require(expectDatasetError { try cache.store(bytes, sha256: other) })
        #expect(error == .shardHashMismatch(path: root.path(other + ".shard"), expected: other, found: hash))
        #expect(error.description.contains(hash) && error.description.contains(other))
        #expect(try listing(root.url.path).isEmpty)
        #expect(!cache.contains(other))
    }

    @Test("malformed hashes are refused and cannot escape the directory",
          arguments: ["", "../../etc/passwd", String(repeating: "A", count: 64), String(repeating: "a", count: 63),
                      String(repeating: "a", count: 65), String(repeating: "0", count: 62) + "/x"])
    func malformedHash(hash: String) throws {
        let root = try TemporaryDirectory()
        let cache = try ShardCache(directory: root.url.path)
        #expect(expectDatasetError { try cache.store([1], sha256: hash) } == .invalidShardHash(hash: hash))
        #expect(expectDatasetError { try cache.load(hash) } == .invalidShardHash(hash: hash))
        #expect(!cache.contains(hash))
        #expect(!cache.remove(hash))
        #expect(try listing(root.url.path).isEmpty)
        #expect(DatasetError.invalidShardHash(hash: hash).description.contains("64 lower-case hex digits"))
    }

    @Test("loading an absent shard says so")
    func missing() throws {
        let root = try TemporaryDirectory()
        let cache = try ShardCache(directory: root.url.path)
        let (_, hash) = blob(5)
        let error = try #require(expectDatasetError { try cache.load(hash) })
        #expect(error == .missingShard(path: root.path(hash + ".shard")))
        #expect(error.description.contains("coordinator"))
    }

    @Test("a corrupted or truncated file is removed and reported on load", arguments: ["flip", "truncate", "empty"])
    func corruptFile(kind: String) throws {
        let root = try TemporaryDirectory()
        let cache = try ShardCache(directory: root.url.path)
        let (bytes, hash) = blob(6)
        let (_, other) = blob(7)
        try cache.store(bytes, sha256: hash)
        try cache.store(blob(7).bytes, sha256: other)

        var damaged = bytes
        switch kind {
        case "flip": damaged[500] ^= 0x10
        case "truncate": damaged.removeLast()
        default: damaged = []
        }
        try writeRaw(damaged, to: cache.path(for: hash))
        #expect(cache.contains(hash))  // by name only

        let error = try #require(expectDatasetError { try cache.load(hash) })
        #expect(error == .corruptCachedShard(path: cache.path(for: hash), expected: hash, found: SHA256.hex(damaged)))
        #expect(error.description.contains("removed"))
        #expect(!cache.contains(hash))
        #expect(!FileManager.default.fileExists(atPath: cache.path(for: hash)))
        #expect(cache.hashes() == [other])
        #expect(try cache.load(other) == blob(7).bytes)

        // Storing the good bytes again heals the cache.
        try cache.store(bytes, sha256: hash)
        #expect(try cache.load(hash) == bytes)
    }

    @Test("hashes() lists only <64 lower-case hex>.shard files")
    func hashesFilter() throws {
        let root = try TemporaryDirectory()
        let cache = try ShardCache(directory: root.url.path)
        let (a, hashA) = blob(8)
        let (b, hashB) = blob(9)
        try cache.store(b, sha256: hashB)
        try cache.store(a, sha256: hashA)
        let noise = [
            ".\(hashA).shard.tmp-123-abcdef",  // a temporary file of an interrupted store
            "\(hashA).shard.tmp",
            "\(hashA.uppercased()).shard",
            "\(hashA.dropLast()).shard",
            "\(hashA)0.shard",
            "\(hashA).shardx",
            "\(hashA).SHARD",
            "\(hashA)",
            "notes.txt",
            ".shard",
        ]
        for name in noise { try writeRaw([0], to: root.path(name)) }
        #expect(cache.hashes() == [hashA, hashB].sorted())
        #expect(try listing(root.url.path).count == 2 + noise.count)
    }

    @Test("store fails clearly when the directory has gone away")
    func unwritable() throws {
        let root = try TemporaryDirectory()
        let directory = root.path("cache")
        let cache = try ShardCache(directory: directory)
        try FileManager.default.removeItem(atPath: directory)
        let (bytes, hash) = blob(10)
        let error = try #require(expectDatasetError { try cache.store(bytes, sha256: hash) })
        guard case .unwritable(let path, let reason) = error else {
            Issue.record("expected .unwritable, got \(error)")
            return
        }
        #expect(path == cache.path(for: hash))
        #expect(reason.contains("cannot create temporary file"))
        #expect(cache.hashes().isEmpty)
        #expect(!cache.contains(hash))
    }

    @Test("concurrent stores of the same and of different shards from many tasks all succeed")
    func concurrentStores() async throws {
        let root = try TemporaryDirectory()
        let cache = try ShardCache(directory: root.url.path)
        let blobs = (0..<4).map { blob(100 + UInt64($0), count: 50_000) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for task in 0..<16 {
                group.addTask {
                    let (bytes, hash) = blobs[task % blobs.count]
                    try cache.store(bytes, sha256: hash)
                    #expect(try cache.load(hash) == bytes)
                }
            }
            try await group.waitForAll()
        }
        #expect(cache.hashes() == blobs.map(\.hash).sorted())
        #expect(try listing(root.url.path).count == blobs.count)  // no temp file left behind
    }
}
