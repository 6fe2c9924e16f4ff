import Datasets
import Foundation
import Tensor
import Testing

// MARK: - Fixtures

/// Whether both splits of Fashion-MNIST are installed in the default directory.
private let fashionInstalled: Bool = FashionMNIST.Split.allCases.allSatisfy { split in
    let files = FashionMNIST.files(split: split, directory: FashionMNIST.defaultDirectory)
    return FileManager.default.fileExists(atPath: files.images) && FileManager.default.fileExists(atPath: files.labels)
}

/// Little-endian UInt32 bytes, written independently of the encoder under test.
private func le32(_ value: Int) -> [UInt8] {
    let v = UInt32(truncatingIfNeeded: value)
    return [UInt8(v & 0xFF), UInt8((v >> 8) & 0xFF), UInt8((v >> 16) & 0xFF), UInt8(v >> 24)]
}

/// A synthetic data set in Fashion-MNIST file layout: `trainCount` and `testCount` images of
/// `height × width`. Test pixels are the complement of the synthetic pattern, so that a
/// swapped split would be noticed.
private struct SyntheticSet {
    let dir: TemporaryDirectory
    let trainPixels: [UInt8], trainLabels: [UInt8]
    let testPixels: [UInt8], testLabels: [UInt8]
    let height: Int, width: Int

    init(trainCount: Int = 7, testCount: Int = 5, height: Int = 4, width: Int = 3, gzip: Bool,
         testHeight: Int? = nil, trainLabelCount: Int? = nil, labelOverride: UInt8? = nil) throws {
        dir = try TemporaryDirectory()
        self.height = height
        self.width = width
        let train = syntheticImages(count: trainCount, height: height, width: width)
        let test = syntheticImages(count: testCount, height: testHeight ?? height, width: width)
        trainPixels = train.images
        trainLabels = train.labels.enumerated().map { $0.offset == trainCount - 1 ? labelOverride ?? $0.element : $0.element }
        testPixels = test.images.map { 255 - $0 }
        testLabels = test.labels.map { 9 - $0 }
        let suffix = gzip ? ".gz" : ""
        func write(_ bytes: [UInt8], _ path: String) throws {
            if gzip { try writeGzip(bytes, to: path) } else { try writeRaw(bytes, to: path) }
        }
        let labelCount = trainLabelCount ?? trainCount
        try write(idxBytes(dims: [trainCount, height, width], data: trainPixels), dir.path("train-images-idx3-ubyte" + suffix))
        try write(idxBytes(dims: [labelCount], data: Array(trainLabels.prefix(labelCount))),
                  dir.path("train-labels-idx1-ubyte" + suffix))
        try write(idxBytes(dims: [testCount, testHeight ?? height, width], data: testPixels), dir.path("t10k-images-idx3-ubyte" + suffix))
        try write(idxBytes(dims: [testCount], data: testLabels), dir.path("t10k-labels-idx1-ubyte" + suffix))
    }

    var directory: String { dir.url.path }
}

/// Exact equality, down to the bit patterns of the pixels.
private func expectBitIdentical(_ a: LabeledImages, _ b: LabeledImages, _ what: String,
                                sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(a.sampleShape == b.sampleShape, "\(what): sample shape", sourceLocation: sourceLocation)
    #expect(a.classCount == b.classCount, "\(what): class count", sourceLocation: sourceLocation)
    #expect(a.count == b.count, "\(what): count", sourceLocation: sourceLocation)
    #expect(a.labels == b.labels, "\(what): labels", sourceLocation: sourceLocation)
    #expect(a.pixels.count == b.pixels.count, "\(what): pixel count", sourceLocation: sourceLocation)
    #expect(a.pixels.elementsEqual(b.pixels) { $0.bitPattern == $1.bitPattern }, "\(what): pixel bits",
            sourceLocation: sourceLocation)
}

/// A small shard for error and fuzz tests: 4 train and 3 test samples of [1, 2, 3], 5 classes.
private func smallShard() throws -> DatasetShard {
    try DatasetShard(
        name: "fuzz", sampleShape: [1, 2, 3], classCount: 5, preprocessing: .idxDefault,
        train: .init(values: .uint8((0..<24).map { UInt8($0 * 10) }), labels: [0, 1, 2, 4]),
        test: .init(values: .uint8((0..<18).map { UInt8(255 - $0) }), labels: [4, 3, 0]))
}

/// A shard of byte values from raw arrays (labels as bytes), for the error tests.
private func byteShard(name: String = "x", sampleShape: [Int], classCount: Int, trainPixels: [UInt8], trainLabels: [Int32],
                       testPixels: [UInt8], testLabels: [Int32]) throws -> DatasetShard {
    try DatasetShard(name: name, sampleShape: sampleShape, classCount: classCount, preprocessing: .idxDefault,
                     train: .init(values: .uint8(trainPixels), labels: trainLabels),
                     test: .init(values: .uint8(testPixels), labels: testLabels))
}

/// Both splits of a shard (scaled values, not normalised).
private func unpackSplits(_ bytes: [UInt8]) throws -> (LabeledImages, LabeledImages) {
    let contents = try DatasetShard.unpack(bytes)
    return (contents.train, contents.test)
}

/// The `invalidShard` reason of `body`'s error, or an issue if it is another error or none.
private func invalidShardReason(sourceLocation: SourceLocation = #_sourceLocation,
                                _ body: () throws -> Void) -> String {
    do {
        try body()
        Issue.record("expected DatasetError.invalidShard, but the call succeeded", sourceLocation: sourceLocation)
    } catch DatasetError.invalidShard(let reason) {
        return reason
    } catch {
        Issue.record("expected DatasetError.invalidShard, got \(error)", sourceLocation: sourceLocation)
    }
    return ""
}

/// `bytes` with the little-endian UInt32 at `offset` replaced by `value`.
private func patched(_ bytes: [UInt8], at offset: Int, _ value: Int) -> [UInt8] {
    var copy = bytes
    copy.replaceSubrange(offset ..< offset + 4, with: le32(value))
    return copy
}

// MARK: - Tests

@Suite("DatasetShard")
struct DatasetShardTests {
    @Test("the blob is exactly the documented format (built here by hand)")
    func exactFormat() throws {
        let set = try SyntheticSet(gzip: false)
        let shard = try DatasetShard.pack(directory: set.directory, trainLimit: 0)
        let name = Array("fashion-mnist".utf8)
        let scale = (1.0 / 255.0).bitPattern
        let header = Array("DSHARD1".utf8) + [0] + le32(2) + le32(52 + 4 * 3 + name.count)
            + le32(7) + le32(5) + le32(0) + le32(3) + le32(1) + le32(4) + le32(3) + le32(10)
            + le32(Int(scale & 0xFFFF_FFFF)) + le32(Int(scale >> 32)) + le32(0)
            + le32(name.count) + name
        let expected = header + set.trainPixels + set.trainLabels + set.testPixels + set.testLabels
        #expect(try DatasetShard.header(of: shard.bytes).preprocessing == .idxDefault)
        #expect(try DatasetShard.header(of: shard.bytes).valueType == .uint8)
        #expect(shard.bytes == expected)
        #expect(shard.sha256 == SHA256.hex(expected))
        #expect(SHA256.isHexDigest(shard.sha256))

        let parsed = try DatasetShard.header(of: shard.bytes)
        #expect(parsed.name == "fashion-mnist")
        #expect(parsed.sampleShape == [1, 4, 3])
        #expect(parsed.classCount == 10)
        #expect(parsed.trainCount == 7 && parsed.testCount == 5)
        #expect(parsed.features == 12)
        #expect(parsed.headerLength == header.count)
        #expect(parsed.dataByteCount == 12 * 13)
    }

    @Test("unpack is bit-identical to FashionMNIST.load (synthetic files, raw and gzip, several limits)",
          arguments: [false, true], [0, 1, 3, 7, 100, -2])
    func roundTripSynthetic(gzip: Bool, trainLimit: Int) throws {
        let set = try SyntheticSet(gzip: gzip)
        let shard = try DatasetShard.pack(directory: set.directory, trainLimit: trainLimit)
        let (train, test) = try unpackSplits(shard.bytes)
        let kept = trainLimit > 0 ? min(trainLimit, 7) : 7
        let loadedTrain = try FashionMNIST.load(split: .train, directory: set.directory)
        let loadedTest = try FashionMNIST.load(split: .test, directory: set.directory)
        expectBitIdentical(train, loadedTrain.prefix(kept), "train")
        expectBitIdentical(test, loadedTest, "test")
        #expect(train.count == kept)
        #expect(test.count == 5)
        #expect(train == loadedTrain.prefix(kept))
        #expect(test == loadedTest)
        // The test split really is the test files (complemented pixels, labels 9 − i % 10).
        #expect(test.labels == set.testLabels.map { Int32($0) })
        #expect(test.pixels[0] == Float(255) / 255)
    }

    @Test("packing is deterministic and independent of raw vs gzip files and the directory's name")
    func deterministicHash() throws {
        let raw = try SyntheticSet(gzip: false)
        let gz = try SyntheticSet(gzip: true)
        let a = try DatasetShard.pack(directory: raw.directory, trainLimit: 3)
        let b = try DatasetShard.pack(directory: raw.directory, trainLimit: 3)
        let c = try DatasetShard.pack(directory: gz.directory, trainLimit: 3)
        #expect(a.sha256 == b.sha256)
        #expect(a.sha256 == c.sha256)
        #expect(a.bytes == c.bytes)
        let d = try DatasetShard.pack(directory: raw.directory, trainLimit: 4)
        #expect(d.sha256 != a.sha256)
        let named = try DatasetShard.pack(directory: raw.directory, trainLimit: 3, name: "mnist", classCount: 10,
                                           preprocessing: .idxDefault)
        #expect(named.sha256 != a.sha256)
        #expect(try DatasetShard.header(of: named.bytes).name == "mnist")
        #expect(DatasetShard(bytes: a.bytes).sha256 == a.sha256)
    }

    @Test("real Fashion-MNIST: a train limit and the whole test split are bit-identical to FashionMNIST.load",
          .enabled(if: fashionInstalled, Comment(rawValue: "Fashion-MNIST is not installed in \(FashionMNIST.defaultDirectory)")))
    func realFashionMNIST() throws {
        let directory = FashionMNIST.defaultDirectory
        let shard = try DatasetShard.pack(directory: directory, trainLimit: 2500)
        let header = try DatasetShard.header(of: shard.bytes)
        #expect(header.trainCount == 2500 && header.testCount == 10_000)
        #expect(header.sampleShape == FashionMNIST.sampleShape)
        #expect(shard.bytes.count == header.headerLength + 12_500 * 785)
        #expect(shard.sha256 == SHA256.hex(shard.bytes))

        let (train, test) = try unpackSplits(shard.bytes)
        expectBitIdentical(train, try FashionMNIST.load(split: .train, directory: directory).prefix(2500), "train")
        expectBitIdentical(test, try FashionMNIST.load(split: .test, directory: directory), "test")
        #expect(test.classCounts() == Array(repeating: 1000, count: 10))
    }

    @Test("pack errors are the existing DatasetErrors naming the file")
    func packErrors() throws {
        let empty = try TemporaryDirectory()
        #expect(expectDatasetError { try DatasetShard.pack(directory: empty.url.path, trainLimit: 0) }
            == .missingFile(path: empty.path("train-images-idx3-ubyte.gz")))

        let badLabel = try SyntheticSet(gzip: false, labelOverride: 10)
        #expect(expectDatasetError { try DatasetShard.pack(directory: badLabel.directory, trainLimit: 2) }
            == .labelOutOfRange(path: badLabel.dir.path("train-labels-idx1-ubyte"), index: 6, label: 10, classCount: 10))

        let mismatch = try SyntheticSet(gzip: true, trainLabelCount: 6)
        #expect(expectDatasetError { try DatasetShard.pack(directory: mismatch.directory, trainLimit: 0) }
            == .countMismatch(imagesPath: mismatch.dir.path("train-images-idx3-ubyte.gz"), imageCount: 7,
                              labelsPath: mismatch.dir.path("train-labels-idx1-ubyte.gz"), labelCount: 6))

        let shapes = try SyntheticSet(gzip: false, testHeight: 5)
        let error = try #require(expectDatasetError { try DatasetShard.pack(directory: shapes.directory, trainLimit: 0) })
        #expect(error == .sampleShapeMismatch(path: shapes.dir.path("train-images-idx3-ubyte"), shape: [1, 4, 3],
                                              otherPath: shapes.dir.path("t10k-images-idx3-ubyte"), otherShape: [1, 5, 3]))
        #expect(error.description.contains("[1, 5, 3]"))
        #expect(error.path == shapes.dir.path("train-images-idx3-ubyte"))
    }

    @Test("init from raw bytes rejects what unpack would reject")
    func rawInitErrors() throws {
        let shard = try smallShard()
        let (train, test) = try unpackSplits(shard.bytes)
        #expect(train.labels == [0, 1, 2, 4] && test.labels == [4, 3, 0])
        #expect(train.sampleShape == [1, 2, 3] && train.classCount == 5)
        #expect(train.pixels[1] == Float(10) / 255)

        #expect(invalidShardReason {
            _ = try byteShard(sampleShape: [2], classCount: 3, trainPixels: [1, 2, 3], trainLabels: [0, 1],
                              testPixels: [], testLabels: [])
        }.contains("3 train values for 2 samples"))
        #expect(invalidShardReason {
            _ = try byteShard(sampleShape: [1], classCount: 3, trainPixels: [1], trainLabels: [0],
                              testPixels: [7, 8], testLabels: [2, 3])
        } == "test sample 1 has label 3, expected 0..<3")
        #expect(invalidShardReason {
            _ = try byteShard(name: String(repeating: "n", count: 256), sampleShape: [1], classCount: 3,
                              trainPixels: [], trainLabels: [], testPixels: [], testLabels: [])
        }.contains("256 bytes long"))
        #expect(invalidShardReason {
            _ = try byteShard(sampleShape: [], classCount: 3, trainPixels: [], trainLabels: [], testPixels: [], testLabels: [])
        }.contains("rank 0"))
        #expect(invalidShardReason {
            _ = try byteShard(sampleShape: [1], classCount: 0, trainPixels: [], trainLabels: [], testPixels: [], testLabels: [])
        }.contains("class count 0"))
        #expect(invalidShardReason {
            _ = try byteShard(sampleShape: [1 << 13, 1 << 13], classCount: 2, trainPixels: [], trainLabels: [],
                              testPixels: [], testLabels: [])
        }.contains("more than 16777216 values"))
        // 256 classes: every byte is a valid label; an empty split and zero-size samples are fine.
        let wide = try byteShard(name: "", sampleShape: [1, 0], classCount: 256, trainPixels: [],
                                 trainLabels: [255, 0], testPixels: [], testLabels: [])
        let unpacked = try DatasetShard.unpack(wide.bytes)
        #expect(unpacked.train.labels == [255, 0])
        #expect(unpacked.train.features == 0)
        #expect(unpacked.test.count == 0)
    }

    @Test("float32 values, per-channel statistics and two-byte labels round-trip; the pre-processing is part of the hash")
    func floatShard() throws {
        // 3 train and 2 test samples of [2, 1, 2] float32 values, 300 classes (two-byte labels).
        let train = DatasetShard.Split(values: .float32((0..<12).map { Float($0) * 0.5 - 2 }), labels: [0, 299, 256])
        let test = DatasetShard.Split(values: .float32([1e-30, -3, 7, 2.5, 0, 0, 1, 1]), labels: [1, 255])
        let given = Preprocessing(scale: 2, statistics: .given(Normalization(mean: [0.5, -1], std: [2, 4])))
        let shard = try DatasetShard(name: "rows", sampleShape: [2, 1, 2], classCount: 300, preprocessing: given, train: train, test: test)
        let header = try DatasetShard.header(of: shard.bytes)
        #expect(header.valueType == .float32 && header.labelBytes == 2 && header.preprocessing == given)
        #expect(header.headerLength == 52 + 12 + 16 + 4)
        #expect(shard.bytes.count == header.headerLength + 5 * (4 * 4 + 2))
        let contents = try DatasetShard.unpack(shard.bytes)
        #expect(contents.train.labels == [0, 299, 256] && contents.test.labels == [1, 255])
        let expectedTrain: [Float] = (0..<12).map { (i: Int) -> Float in (Float(i) * 0.5 - 2) * 2 }
        #expect(contents.train.pixels == expectedTrain)
        #expect(contents.test.pixels == [2e-30, -6, 14, 5, 0, 0, 2, 2])
        #expect(contents.normalization == Normalization(mean: [0.5, -1], std: [2, 4]))
        // The same data with fitted statistics is another shard.
        let fitted = try DatasetShard(name: "rows", sampleShape: [2, 1, 2], classCount: 300,
                                      preprocessing: Preprocessing(scale: 2, statistics: .fit), train: train, test: test)
        #expect(fitted.sha256 != shard.sha256)
        #expect(try DatasetShard.unpack(fitted.bytes).normalization == Normalization.fit(contents.train))

        // Refusals: a value that is not finite, splits of two value types, statistics of another channel count.
        #expect(invalidShardReason {
            _ = try DatasetShard(name: "x", sampleShape: [2], classCount: 2, preprocessing: .none,
                                 train: .init(values: .float32([1, .nan]), labels: [0]), test: .init(values: .float32([]), labels: []))
        }.contains("train sample 0 has the value nan"))
        #expect(invalidShardReason {
            _ = try DatasetShard(name: "x", sampleShape: [1], classCount: 2, preprocessing: .none,
                                 train: .init(values: .float32([1]), labels: [0]), test: .init(values: .uint8([1]), labels: [0]))
        }.contains("both splits need one type"))
        #expect(invalidShardReason {
            _ = try DatasetShard(name: "x", sampleShape: [3, 1, 1], classCount: 2,
                                 preprocessing: Preprocessing(scale: 1, statistics: .given(Normalization(mean: [0, 0], std: [1, 1]))),
                                 train: .init(values: .float32([1, 2, 3]), labels: [0]), test: .init(values: .float32([]), labels: []))
        }.contains("do not fit samples of shape [3, 1, 1]"))
        // An infinity written into the bytes is refused on unpack.
        var bad = shard.bytes
        bad.replaceSubrange(header.headerLength + 4 ..< header.headerLength + 8, with: le32(Int(Float.infinity.bitPattern)))
        #expect(invalidShardReason { _ = try DatasetShard.unpack(bad) }.contains("train sample 0 has the value inf"))
    }

    @Test("unpack names what is wrong")
    func unpackErrors() throws {
        let bytes = try smallShard().bytes
        let headerLength = try DatasetShard.header(of: bytes).headerLength
        #expect(headerLength == 52 + 12 + 4)

        #expect(invalidShardReason { _ = try DatasetShard.unpack([]) }.contains("only 0 bytes"))
        #expect(invalidShardReason { _ = try DatasetShard.unpack(Array("DSHARD2\0xxxxxxxx".utf8)) }
            .contains("does not start with the magic"))
        #expect(invalidShardReason { _ = try DatasetShard.unpack([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0]) }
            .contains("0x1f8b080000000000"))
        #expect(invalidShardReason { _ = try DatasetShard.unpack(Array(bytes[..<12])) }
            .contains("header ends before its header length field"))
        #expect(expectDatasetError { try DatasetShard.unpack(patched(bytes, at: 8, 1)) }
            == .unsupportedShardVersion(found: 1, supported: 2))
        #expect(invalidShardReason { _ = try DatasetShard.unpack(patched(bytes, at: 12, 7)) }.contains("header length 7 is impossible"))
        #expect(invalidShardReason { _ = try DatasetShard.unpack(Array(bytes[..<(headerLength - 1)])) }
            .contains("header is cut short"))
        #expect(invalidShardReason { _ = try DatasetShard.unpack(patched(bytes, at: 16, 5)) }.contains("data is cut short"))
        #expect(invalidShardReason { _ = try DatasetShard.unpack(patched(bytes, at: 20, 2)) }.contains("7 unexpected bytes after the data"))
        #expect(invalidShardReason { _ = try DatasetShard.unpack(bytes + [0]) }.contains("1 unexpected bytes"))
        #expect(invalidShardReason { _ = try DatasetShard.unpack(patched(bytes, at: 16, 0xFFFF_FFFF)) }
            .contains("4294967295 train samples, at most"))
        #expect(invalidShardReason { _ = try DatasetShard.unpack(patched(bytes, at: 24, 2)) }.contains("value type 2 is unknown"))
        #expect(invalidShardReason { _ = try DatasetShard.unpack(patched(bytes, at: 28, 0)) }.contains("rank 0"))
        #expect(invalidShardReason { _ = try DatasetShard.unpack(patched(bytes, at: 28, 9)) }.contains("rank 9"))
        #expect(invalidShardReason { _ = try DatasetShard.unpack(patched(bytes, at: 32, 0xFFFF_FFFF)) }
            .contains("dimension outside"))
        #expect(invalidShardReason { _ = try DatasetShard.unpack(patched(bytes, at: 44, 0)) }.contains("class count 0"))
        #expect(invalidShardReason { _ = try DatasetShard.unpack(patched(bytes, at: 44, 65_537)) }.contains("class count 65537"))
        #expect(invalidShardReason { _ = try DatasetShard.unpack(patched(bytes, at: 52, Int((-1.0).bitPattern >> 32))) }
            .contains("scale must be a positive"))
        #expect(invalidShardReason { _ = try DatasetShard.unpack(patched(bytes, at: 60, 5)) }.contains("does not match its fields"))
        var badName = bytes
        badName[64] = 0xFF
        #expect(invalidShardReason { _ = try DatasetShard.unpack(badName) } == "the data set name is not valid UTF-8")

        // Labels: the first train label is at headerLength + 4·6, the first test label after the test pixels.
        var badTrain = bytes
        badTrain[headerLength + 24 + 2] = 5
        #expect(invalidShardReason { _ = try DatasetShard.unpack(badTrain) } == "train sample 2 has label 5, expected 0..<5")
        var badTest = bytes
        badTest[bytes.count - 1] = 200
        #expect(invalidShardReason { _ = try DatasetShard.unpack(badTest) } == "test sample 2 has label 200, expected 0..<5")

        // A shape with the same product unpacks (the header is self-describing).
        let reshaped = try DatasetShard.unpack(patched(patched(bytes, at: 36, 3), at: 40, 2))
        #expect(reshaped.train.sampleShape == [1, 3, 2])

        let error = DatasetError.invalidShard(reason: "the data is cut short")
        #expect(error.description.contains("Invalid dataset shard: the data is cut short"))
        #expect(error.path.isEmpty)
        #expect(DatasetError.unsupportedShardVersion(found: 1, supported: 2).description.contains("version 1"))
    }

    @Test("fuzz: every truncation fails, mutations and random headers never crash")
    func fuzz() throws {
        let bytes = try smallShard().bytes
        let header = try DatasetShard.header(of: bytes)
        let labelOffsets = Set((0..<4).map { header.headerLength + 24 + $0 }
            + (0..<3).map { bytes.count - 3 + $0 })
        var rng = SplitMix64(seed: 0x5EED)
        var accepted = 0, rejected = 0

        func attempt(_ blob: [UInt8]) -> Bool {
            do {
                let (train, test) = try unpackSplits(blob)
                for split in [train, test] {
                    #expect(split.pixels.count == split.count * split.features)
                    #expect(split.labels.allSatisfy { $0 >= 0 && Int($0) < split.classCount })
                    #expect(split.pixels.allSatisfy { $0.isFinite })
                }
                accepted += 1
                return true
            } catch {
                rejected += 1
                return false
            }
        }

        // Every strict prefix and every extension is rejected.
        for length in 0 ..< bytes.count {
            #expect(!attempt(Array(bytes[..<length])), "prefix of \(length) bytes")
        }
        for extra in 1...16 {
            #expect(!attempt(bytes + randomBytes(extra, seed: UInt64(extra))), "\(extra) extra bytes")
        }

        // 5000 random mutations of 1…4 bytes (some also truncated).
        for round in 0..<5000 {
            var blob = bytes
            for _ in 0 ..< 1 + rng.nextInt(below: 4) {
                blob[rng.nextInt(below: blob.count)] ^= UInt8(1 + rng.nextInt(below: 255))
            }
            let changed = (0 ..< blob.count).filter { blob[$0] != bytes[$0] }
            if round % 3 == 0 { blob.removeLast(1 + rng.nextInt(below: blob.count)) }
            let ok = attempt(blob)
            if round % 3 == 0 {
                #expect(!ok, "truncated blob accepted")
                continue
            }
            // Magic, version and header length are always checked; so is a count, unless both
            // counts changed (which could keep the total size).
            let countFields = Set(changed.filter { $0 >= 16 }.map { $0 / 4 })
            if !changed.isEmpty, changed.allSatisfy({ $0 < 24 }), changed.contains(where: { $0 < 16 }) || countFields.count == 1 {
                #expect(!ok, "mutation at \(changed) accepted")
            }
            // With the header intact, a label ≥ 5 is always caught.
            if changed.allSatisfy({ $0 >= header.headerLength }) {
                for position in changed where labelOffsets.contains(position) && blob[position] >= 5 {
                    #expect(!ok, "label \(blob[position]) at \(position) accepted")
                }
            }
        }

        // Header fields set to extreme values, one or two at a time.
        let extremes = [0, 1, 2, 3, 5, 9, 255, 256, 257, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF, 1 << 24, (1 << 24) + 1,
                        1 << 28, (1 << 28) + 1, bytes.count, header.headerLength]
        let fields = Array(stride(from: 8, to: header.headerLength - 4, by: 4))
        for field in fields {
            for value in extremes {
                _ = attempt(patched(bytes, at: field, value))
                let other = fields[rng.nextInt(below: fields.count)]
                _ = attempt(patched(patched(bytes, at: field, value), at: other, extremes[rng.nextInt(below: extremes.count)]))
            }
        }

        // Random garbage behind a valid magic.
        for round in 0..<1000 {
            _ = attempt(Array("DSHARD1".utf8) + [0] + randomBytes(rng.nextInt(below: 200), seed: UInt64(round)))
        }

        #expect(accepted > 100, "the fuzzer should also produce acceptable blobs (pixel mutations)")
        #expect(rejected > 5000)
    }
}
