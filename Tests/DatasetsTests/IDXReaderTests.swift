import Datasets
import Foundation
import Testing

@Suite("IDXReader")
struct IDXReaderTests {
    @Test("raw and gzip files round-trip to the same dims and bytes", arguments: [false, true])
    func roundTrip(gzip: Bool) throws {
        let dir = try TemporaryDirectory()
        let (images, _) = syntheticImages(count: 5, height: 3, width: 4)
        let path = dir.path(gzip ? "images.gz" : "images")
        let bytes = idxBytes(dims: [5, 3, 4], data: images)
        if gzip { try writeGzip(bytes, to: path) } else { try writeRaw(bytes, to: path) }
        if gzip { #expect(try readFile(path).prefix(2) == [0x1F, 0x8B]) }

        let array = try IDXReader.read(path: path, expectedDimensions: 3)
        #expect(array.dims == [5, 3, 4])
        #expect(array.data == images)
        #expect(array.magic == 0x0000_0803)
        #expect(array.count == 5)
        #expect(try IDXReader.readDimensions(path: path) == [5, 3, 4])
    }

    @Test("data larger than one read chunk is read completely")
    func largeFile() throws {
        let dir = try TemporaryDirectory()
        let count = (3 << 20) + 17  // several 1 MiB chunks plus a remainder
        let data = (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 11) }
        let path = dir.path("big.gz")
        try writeGzip(idxBytes(dims: [count], data: data), to: path)
        let array = try IDXReader.read(path: path, expectedDimensions: 1)
        #expect(array.dims == [count])
        #expect(array.data == data)
    }

    @Test("any number of dimensions; bytes after the declared data are ignored")
    func generalShapes() throws {
        let dir = try TemporaryDirectory()
        let path = dir.path("four-d")
        let data = (0..<24).map { UInt8($0) }
        try writeRaw(idxBytes(dims: [2, 3, 2, 2], data: data) + [99, 98], to: path)
        let array = try IDXReader.read(path: path)
        #expect(array.dims == [2, 3, 2, 2])
        #expect(array.data == data)
        #expect(array.magic == 0x0000_0804)
    }

    @Test("an empty data set (count 0) is valid")
    func emptyDataSet() throws {
        let dir = try TemporaryDirectory()
        let path = dir.path("empty.gz")
        try writeGzip(idxBytes(dims: [0, 28, 28], data: []), to: path)
        let array = try IDXReader.read(path: path, expectedDimensions: 3)
        #expect(array.dims == [0, 28, 28])
        #expect(array.data.isEmpty)
    }
}
