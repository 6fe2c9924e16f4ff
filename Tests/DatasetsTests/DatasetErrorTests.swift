import Tensor
import Datasets
import Foundation
import Testing

@Suite("DatasetError: every bad input gives the right error, naming the file")
struct DatasetErrorTests {
    @Test("missing file suggests Scripts/setup and the Debian package")
    func missingFile() throws {
        let dir = try TemporaryDirectory()
        let path = dir.path("nope-idx3-ubyte.gz")
        let error = try #require(expectDatasetError { try IDXReader.read(path: path) })
        #expect(error == .missingFile(path: path))
        #expect(error.description.contains(path))
        #expect(error.description.contains("Scripts/setup"))
        #expect(error.description.contains("dataset-fashion-mnist"))
        #expect(error.description.contains("DISTILLERY_DATA_DIR"))
    }

    @Test("a directory is unreadable, not missing")
    func directory() throws {
        let dir = try TemporaryDirectory()
        let error = try #require(expectDatasetError { try IDXReader.read(path: dir.url.path) })
        guard case .unreadable(let path, _) = error else {
            Issue.record("expected .unreadable, got \(error)")
            return
        }
        #expect(path == dir.url.path)
        #expect(error.description.contains(dir.url.path))
    }

    @Test("file ending inside the magic number", arguments: [false, true])
    func truncatedMagic(gzip: Bool) throws {
        let dir = try TemporaryDirectory()
        let path = dir.path("short")
        if gzip { try writeGzip([0, 0], to: path) } else { try writeRaw([0, 0], to: path) }
        let error = try #require(expectDatasetError { try IDXReader.read(path: path) })
        #expect(error == .truncatedHeader(path: path, expectedBytes: 4, foundBytes: 2))
        #expect(error.description.contains(path))
    }

    @Test("file ending inside the dimension sizes")
    func truncatedDimensions() throws {
        let dir = try TemporaryDirectory()
        let path = dir.path("short-dims")
        try writeRaw([0, 0, 8, 3, 0, 0, 0, 5, 0, 0], to: path)  // 3 dims promised, 1.5 given
        let error = try #require(expectDatasetError { try IDXReader.read(path: path) })
        #expect(error == .truncatedHeader(path: path, expectedBytes: 16, foundBytes: 10))
        #expect(error.description.contains("expected 16 header bytes, found 10"))
    }

    @Test("empty file is a truncated header")
    func emptyFile() throws {
        let dir = try TemporaryDirectory()
        let path = dir.path("empty")
        try writeRaw([], to: path)
        #expect(expectDatasetError { try IDXReader.read(path: path) }
            == .truncatedHeader(path: path, expectedBytes: 4, foundBytes: 0))
    }

    @Test("fewer data bytes than the header promises", arguments: [false, true])
    func truncatedData(gzip: Bool) throws {
        let dir = try TemporaryDirectory()
        let path = dir.path(gzip ? "cut.gz" : "cut")
        let bytes = idxBytes(dims: [3, 2, 2], data: [1, 2, 3, 4, 5])
        if gzip { try writeGzip(bytes, to: path) } else { try writeRaw(bytes, to: path) }
        let error = try #require(expectDatasetError { try IDXReader.read(path: path) })
        #expect(error == .truncatedData(path: path, expectedBytes: 12, foundBytes: 5))
        #expect(error.description.contains(path))
        #expect(error.description.contains("expected 12 bytes of data, found 5"))
    }

    @Test("labels file where images are expected: wrong magic with both values")
    func swappedFiles() throws {
        let dir = try TemporaryDirectory()
        let path = dir.path("labels")
        try writeRaw(idxBytes(dims: [3], data: [1, 2, 3]), to: path)
        let error = try #require(expectDatasetError { try IDXReader.read(path: path, expectedDimensions: 3) })
        #expect(error == .wrongMagic(path: path, found: 0x0000_0801, expected: 0x0000_0803))
        #expect(error.description.contains(path))
        #expect(error.description.contains("got 0x00000801"))
        #expect(error.description.contains("expected 0x00000803"))
    }

    @Test("a file that is not IDX at all")
    func notIDX() throws {
        let dir = try TemporaryDirectory()
        let path = dir.path("readme.txt")
        try writeRaw(Array("hello, world".utf8), to: path)
        let error = try #require(expectDatasetError { try IDXReader.read(path: path) })
        #expect(error == .wrongMagic(path: path, found: 0x6865_6C6C, expected: nil))
        #expect(error.description.contains("got 0x68656C6C"))
        #expect(error.description.contains("images 0x00000803 / labels 0x00000801"))
    }

    @Test("element types other than unsigned byte are rejected", arguments: [UInt8(0x09), 0x0B, 0x0D, 0x42])
    func unsupportedType(typeByte: UInt8) throws {
        let dir = try TemporaryDirectory()
        let path = dir.path("floats")
        try writeRaw(idxBytes(dims: [2], data: [0, 0, 0, 0, 0, 0, 0, 0], typeByte: typeByte), to: path)
        let error = try #require(expectDatasetError { try IDXReader.read(path: path) })
        #expect(error == .unsupportedType(path: path, typeByte: typeByte))
        #expect(error.description.contains(path))
        #expect(error.description.contains("0x08"))
    }

    @Test("a header claiming too much data is rejected before reading it")
    func tooLarge() throws {
        let dir = try TemporaryDirectory()
        let path = dir.path("huge")
        try writeRaw(idxBytes(dims: [70_000, 1000, 1000], data: [1, 2, 3]), to: path)
        let error = try #require(expectDatasetError { try IDXReader.read(path: path) })
        #expect(error == .tooLarge(path: path, claimedBytes: 70_000_000_000, limitBytes: 1 << 31))
        #expect(error.description.contains(path))

        let overflowing = dir.path("overflow")
        try writeRaw(idxBytes(dims: [0xFFFF_FFFF, 0xFFFF_FFFF, 0xFFFF_FFFF], data: []), to: overflowing)
        guard case .tooLarge = try #require(expectDatasetError { try IDXReader.read(path: overflowing) }) else {
            Issue.record("expected .tooLarge for a product that overflows Int")
            return
        }

        let small = dir.path("small-limit")
        try writeRaw(idxBytes(dims: [10], data: Array(repeating: 0, count: 10)), to: small)
        #expect(expectDatasetError { try IDXReader.read(path: small, byteLimit: 9) }
            == .tooLarge(path: small, claimedBytes: 10, limitBytes: 9))
    }

    @Test("image and label counts disagree: both files and both counts are named")
    func countMismatch() throws {
        let dir = try TemporaryDirectory()
        let images = dir.path("images.gz"), labels = dir.path("labels.gz")
        let (pixels, _) = syntheticImages(count: 3, height: 2, width: 2)
        try writeGzip(idxBytes(dims: [3, 2, 2], data: pixels), to: images)
        try writeGzip(idxBytes(dims: [2], data: [0, 1]), to: labels)
        let error = try #require(expectDatasetError { try LabeledImages.loadIDX(images: images, labels: labels) })
        #expect(error == .countMismatch(imagesPath: images, imageCount: 3, labelsPath: labels, labelCount: 2))
        for part in [images, labels, "3 images", "2 labels"] {
            #expect(error.description.contains(part))
        }
    }

    @Test("a label beyond the class count is rejected")
    func labelOutOfRange() throws {
        let dir = try TemporaryDirectory()
        let images = dir.path("images"), labels = dir.path("labels")
        try writeRaw(idxBytes(dims: [3, 1, 1], data: [0, 0, 0]), to: images)
        try writeRaw(idxBytes(dims: [3], data: [9, 10, 0]), to: labels)
        let error = try #require(expectDatasetError { try LabeledImages.loadIDX(images: images, labels: labels) })
        #expect(error == .labelOutOfRange(path: labels, index: 1, label: 10, classCount: 10))
        #expect(error.description.contains(labels))
    }

    @Test("gzip magic followed by garbage is corrupt gzip")
    func garbageGzip() throws {
        let dir = try TemporaryDirectory()
        let path = dir.path("garbage.gz")
        try writeRaw([0x1F, 0x8B, 0x08, 0x00, 0, 0, 0, 0, 0, 0x03] + Array(repeating: 0xFF, count: 64), to: path)
        let error = try #require(expectDatasetError { try IDXReader.read(path: path) })
        guard case .corruptGzip(let errorPath, _) = error else {
            Issue.record("expected .corruptGzip, got \(error)")
            return
        }
        #expect(errorPath == path)
        #expect(error.description.contains(path))
    }

    @Test("a gzip file cut short is corrupt gzip")
    func cutGzip() throws {
        let dir = try TemporaryDirectory()
        let whole = dir.path("whole.gz"), cut = dir.path("cut.gz")
        // Incompressible-ish data so that the compressed stream is long enough to cut.
        var rng = SplitMix64(seed: 9)
        let data = (0..<4000).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        try writeGzip(idxBytes(dims: [4000], data: data), to: whole)
        let bytes = try readFile(whole)
        try writeRaw(Array(bytes.prefix(bytes.count / 2)), to: cut)
        let error = try #require(expectDatasetError { try IDXReader.read(path: cut) })
        guard case .corruptGzip(let errorPath, _) = error else {
            Issue.record("expected .corruptGzip, got \(error)")
            return
        }
        #expect(errorPath == cut)
    }

    @Test("a gzip file with a wrong CRC is corrupt gzip, even though all data bytes arrive")
    func badChecksum() throws {
        let dir = try TemporaryDirectory()
        let path = dir.path("crc.gz")
        try writeGzip(idxBytes(dims: [4], data: [1, 2, 3, 4]), to: path)
        var bytes = try readFile(path)
        bytes[bytes.count - 8] ^= 0xFF  // first byte of the CRC-32 trailer
        try writeRaw(bytes, to: path)
        let error = try #require(expectDatasetError { try IDXReader.read(path: path) })
        guard case .corruptGzip = error else {
            Issue.record("expected .corruptGzip, got \(error)")
            return
        }
        #expect(error.description.contains(path))
    }
}
