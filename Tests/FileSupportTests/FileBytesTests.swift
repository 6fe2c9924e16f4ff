import FileSupport
import Foundation
import Testing

@Suite("FileBytes")
struct FileBytesTests {
    @Test("read returns the whole file within the limit and refuses one byte over it")
    func readWithLimit() throws {
        let dir = try ScratchDirectory()
        defer { dir.remove() }
        let path = dir.file("f")
        let bytes = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        try AtomicFile.write(bytes, to: path)
        #expect(try FileBytes.read(path, limit: bytes.count) == bytes)
        let error = try #require(fileError { () throws(FileError) in _ = try FileBytes.read(path, limit: bytes.count - 1) })
        #expect(error.path == path)
        #expect(error.reason.contains("100000 bytes") && error.reason.contains("limit of 99999 bytes"))
        try AtomicFile.write([], to: path)
        #expect(try FileBytes.read(path, limit: 0) == [])
    }

    @Test("prefix returns at most count bytes and the file's size")
    func prefix() throws {
        let dir = try ScratchDirectory()
        defer { dir.remove() }
        let path = dir.file("f")
        let bytes = (0..<1000).map { UInt8(truncatingIfNeeded: $0) }
        try AtomicFile.write(bytes, to: path)
        let head = try FileBytes.prefix(path, count: 8)
        #expect(head.bytes == Array(bytes[..<8]))
        #expect(head.fileSize == 1000)
        let all = try FileBytes.prefix(path, count: 5000)
        #expect(all.bytes == bytes && all.fileSize == 1000)
        #expect(try FileBytes.prefix(path, count: 0).bytes.isEmpty)
    }

    @Test("a missing file and a directory are errors naming the path")
    func errors() throws {
        let dir = try ScratchDirectory()
        defer { dir.remove() }
        let missing = dir.file("missing")
        let error = try #require(fileError { () throws(FileError) in _ = try FileBytes.read(missing, limit: 10) })
        #expect(error.path == missing && error.code == ENOENT)
        #expect(error.description.hasPrefix(missing + ": cannot open for reading"))
        let directory = try #require(fileError { () throws(FileError) in _ = try FileBytes.prefix(dir.path, count: 8) })
        #expect(directory.path == dir.path && directory.code == EISDIR)
        #expect(directory.reason.contains("is a directory"))
    }
}
