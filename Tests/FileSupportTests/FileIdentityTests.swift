import FileSupport
import Foundation
import Testing

@Suite("FileIdentity and FileBytes.readIdentified")
struct FileIdentityTests {
    @Test("readIdentified returns the bytes and the identity of the file read, within the limit")
    func readIdentified() throws {
        let dir = try ScratchDirectory()
        defer { dir.remove() }
        let path = dir.file("f")
        let bytes = (0..<5000).map { UInt8(truncatingIfNeeded: $0 &* 13) }
        try AtomicFile.write(bytes, to: path)
        let read = try FileBytes.readIdentified(path, limit: bytes.count)
        #expect(read.bytes == bytes)
        #expect(read.identity == FileIdentity.of(path))
        let over = try #require(fileError { () throws(FileError) in _ = try FileBytes.readIdentified(path, limit: 4999) })
        #expect(over.path == path && over.reason.contains("limit of 4999 bytes"))
    }

    @Test("a file renamed over the path after the read has another identity and survives remove(ifStill:)")
    func swappedFileIsKept() throws {
        let dir = try ScratchDirectory()
        defer { dir.remove() }
        let path = dir.file("shard")
        try AtomicFile.write([1, 2, 3], to: path)
        let read = try FileBytes.readIdentified(path, limit: 100)
        try AtomicFile.write([4, 5, 6], to: path)  // a good copy replaces it (temp file + rename)
        #expect(FileIdentity.of(path) != read.identity)
        #expect(!FileIdentity.remove(path, ifStill: read.identity), "not the file that was read")
        #expect(try FileBytes.read(path, limit: 100) == [4, 5, 6])

        let again = try FileBytes.readIdentified(path, limit: 100)
        #expect(FileIdentity.remove(path, ifStill: again.identity))
        #expect(FileIdentity.of(path) == nil)
        #expect(!FileIdentity.remove(path, ifStill: again.identity), "nothing left to remove")
    }

    @Test("readIdentified refuses what is not a regular file, and says when nothing is there")
    func notRegular() throws {
        let dir = try ScratchDirectory()
        defer { dir.remove() }
        let device = try #require(fileError { () throws(FileError) in _ = try FileBytes.readIdentified("/dev/null", limit: 10) })
        #expect(device.path == "/dev/null" && device.reason == "it is not a regular file")
        let directory = try #require(fileError { () throws(FileError) in _ = try FileBytes.readIdentified(dir.path, limit: 10) })
        #expect(directory.code == EISDIR)
        let missing = try #require(fileError { () throws(FileError) in
            _ = try FileBytes.readIdentified(dir.file("gone"), limit: 10)
        })
        #expect(missing.code == ENOENT)
    }
}

@Suite("Directories")
struct DirectoriesTests {
    @Test("create makes missing parents, accepts existing directories, and names a file in the way")
    func create() throws {
        let dir = try ScratchDirectory()
        defer { dir.remove() }
        let nested = dir.file("a/b/c")
        try Directories.create(nested)
        try Directories.create(nested)
        var isDirectory: ObjCBool = false
        #expect(FileManager.default.fileExists(atPath: nested, isDirectory: &isDirectory) && isDirectory.boolValue)
        try Directories.checkWritable(nested)

        try AtomicFile.write([1], to: dir.file("file"))
        let below = dir.file("file/sub")
        let error = try #require(fileError { () throws(FileError) in try Directories.create(below) })
        #expect(error.path == below && error.code == ENOTDIR)
        #expect(error.reason == "\(dir.file("file")) exists and is not a directory")
    }

    @Test("checkWritable names a directory that is not there")
    func checkWritable() throws {
        let dir = try ScratchDirectory()
        defer { dir.remove() }
        let error = try #require(fileError { () throws(FileError) in try Directories.checkWritable(dir.file("none")) })
        #expect(error.code == ENOENT && error.reason.hasPrefix("not writable: "))
    }
}
