import FileSupport
import Foundation
import Testing

/// A fresh directory under the system's temporary directory, removed by `remove()`.
struct ScratchDirectory {
    let path: String

    init() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("filesupport-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func file(_ name: String) -> String { path + "/" + name }
    func names() throws -> [String] { try FileManager.default.contentsOfDirectory(atPath: path).sorted() }
    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

func contents(_ path: String) -> [UInt8]? {
    FileManager.default.contents(atPath: path).map { [UInt8]($0) }
}

func mode(_ path: String) throws -> Int {
    try #require(try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber).intValue
}

/// The `FileError` thrown by `body`, or nil (recorded as an issue) when it did not throw.
func fileError(_ body: () throws(FileError) -> Void, sourceLocation: SourceLocation = #_sourceLocation) -> FileError? {
    do throws(FileError) {
        try body()
        Issue.record("expected a FileError, nothing was thrown", sourceLocation: sourceLocation)
        return nil
    } catch {
        return error
    }
}

@Suite("AtomicFile")
struct AtomicFileTests {
    @Test("writes exactly the bytes given and leaves no temporary file")
    func writesContent() throws {
        let dir = try ScratchDirectory()
        defer { dir.remove() }
        let path = dir.file("a.bin")
        let bytes = (0..<3_000_003).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        try AtomicFile.write(bytes, to: path)
        #expect(contents(path) == bytes)
        #expect(try dir.names() == ["a.bin"])

        // Empty content, and the raw-buffer form.
        try AtomicFile.write([], to: dir.file("empty"))
        #expect(contents(dir.file("empty")) == [])
        let text = Array("{\"k\": 1}\n".utf8)
        try text.withUnsafeBytes { raw in try AtomicFile.write(raw, to: dir.file("r.json")) }
        #expect(contents(dir.file("r.json")) == text)
        #expect(try dir.names() == ["a.bin", "empty", "r.json"])
    }

    @Test("overwrites an existing file, keeping its permission bits unless told otherwise")
    func overwrites() throws {
        let dir = try ScratchDirectory()
        defer { dir.remove() }
        let path = dir.file("f")
        try AtomicFile.write(Array(repeating: 1, count: 10_000), to: path)
        try FileManager.default.setAttributes([.posixPermissions: 0o640], ofItemAtPath: path)
        try AtomicFile.write([9, 8, 7], to: path)
        #expect(contents(path) == [9, 8, 7])
        #expect(try mode(path) == 0o640)
        #expect(try dir.names() == ["f"])

        // Explicit permissions apply exactly, whatever the umask, to new and replaced files.
        try AtomicFile.write([1], to: path, permissions: 0o600)
        #expect(try mode(path) == 0o600)
        try AtomicFile.write([2], to: dir.file("g"), permissions: 0o664)
        #expect(try mode(dir.file("g")) == 0o664)
        #expect(contents(dir.file("g")) == [2])
    }

    @Test("replacing: false refuses an existing target with EEXIST and changes nothing")
    func refusesToReplace() throws {
        let dir = try ScratchDirectory()
        defer { dir.remove() }
        let path = dir.file("secret.key")
        try AtomicFile.write(Array("first".utf8), to: path, permissions: 0o600, replacing: false)
        #expect(contents(path) == Array("first".utf8))
        #expect(try mode(path) == 0o600)
        let error = try #require(fileError { () throws(FileError) in
            try AtomicFile.write(Array("second".utf8), to: path, replacing: false)
        })
        #expect(error.path == path)
        #expect(error.code == EEXIST)
        #expect(error.description.contains(path) && error.reason.contains("already exists"))
        #expect(contents(path) == Array("first".utf8))
        #expect(try dir.names() == ["secret.key"])
    }

    @Test("a missing directory is an error naming the target and the directory")
    func missingDirectory() throws {
        let dir = try ScratchDirectory()
        defer { dir.remove() }
        let path = dir.path + "/not/there/f.json"
        let error = try #require(fileError { () throws(FileError) in try AtomicFile.write([1, 2], to: path) })
        #expect(error.path == path)
        #expect(error.code == ENOENT)
        #expect(error.reason.contains("\"\(dir.path)/not/there\" does not exist"))
        #expect(error.reason.contains("cannot create temporary file"))
        #expect(error.description.hasPrefix(path + ": "))
        #expect(try dir.names().isEmpty)

        // A path that names no file.
        let noName = try #require(fileError { () throws(FileError) in try AtomicFile.write([1], to: dir.path + "/") })
        #expect(noName.reason.contains("does not name a file"))
    }

    @Test("an unwritable directory is an error naming the target, the directory and the OS reason")
    func unwritableDirectory() throws {
        // Root writes through mode bits, so as root use a directory of a file system that refuses
        // new files to everyone (sysfs); otherwise a 0500 directory of our own.
        let dir = try ScratchDirectory()
        defer { chmod(dir.file("readonly"), 0o700); dir.remove() }
        let directory: String
        if getuid() == 0 {
            directory = "/sys/kernel"
            try #require(FileManager.default.fileExists(atPath: directory), "needs sysfs when run as root")
        } else {
            directory = dir.file("readonly")
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
            chmod(directory, 0o500)
        }
        let path = directory + "/distillery-should-not-exist.json"
        let error = try #require(fileError { () throws(FileError) in try AtomicFile.write([1, 2, 3], to: path) })
        #expect(error.path == path)
        #expect(error.description.hasPrefix(path + ": "))
        #expect(error.reason.contains("cannot create temporary file"))
        #expect(error.reason.contains("in directory \"\(directory)\""))
        #expect(error.reason.contains("errno \(error.code ?? -1)"))
        #expect(error.code == EACCES || error.code == EPERM || error.code == EROFS)
        #expect(!FileManager.default.fileExists(atPath: path))
    }

    @Test("copy makes an identical file, leaves no temporary file and reports a missing source by its path")
    func copies() throws {
        let dir = try ScratchDirectory()
        defer { dir.remove() }
        let source = dir.file("source.bin")
        let bytes = (0..<(2 << 20) + 12_345).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ $0 >> 9) }
        try AtomicFile.write(bytes, to: source)
        try AtomicFile.write([1, 2, 3], to: dir.file("copy.bin"))
        try AtomicFile.copy(from: source, to: dir.file("copy.bin"))
        #expect(contents(dir.file("copy.bin")) == bytes)
        #expect(contents(source) == bytes)
        #expect(try dir.names() == ["copy.bin", "source.bin"])

        try AtomicFile.copy(from: dir.file("copy.bin"), to: dir.file("third"), permissions: 0o600)
        #expect(try mode(dir.file("third")) == 0o600)
        #expect(contents(dir.file("third")) == bytes)

        let missing = dir.file("nope")
        let error = try #require(fileError { () throws(FileError) in try AtomicFile.copy(from: missing, to: dir.file("x")) })
        #expect(error.path == missing)
        #expect(error.code == ENOENT)
        #expect(error.reason.contains(dir.file("x")))
        let fromDirectory = try #require(fileError { () throws(FileError) in
            try AtomicFile.copy(from: dir.path, to: dir.file("x"))
        })
        #expect(fromDirectory.reason.contains("not a regular file"))
        #expect(try dir.names() == ["copy.bin", "source.bin", "third"])
    }

    @Test("concurrent writers of one target: every reader sees one whole version, no temporary file stays")
    func concurrentWriters() async throws {
        let dir = try ScratchDirectory()
        defer { dir.remove() }
        let path = dir.file("shared")
        let versions = (0..<4).map { v in [UInt8](repeating: UInt8(v + 1), count: 200_000 + v) }
        try AtomicFile.write(versions[0], to: path)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for task in 0..<8 {
                group.addTask {
                    for round in 0..<5 { try AtomicFile.write(versions[(task + round) % versions.count], to: path) }
                }
            }
            group.addTask {
                for _ in 0..<50 {
                    let seen = try #require(contents(path))
                    #expect(versions.contains(seen), "a reader saw \(seen.count) bytes that are no whole version")
                }
            }
            try await group.waitForAll()
        }
        #expect(try dir.names() == ["shared"])
    }
}
