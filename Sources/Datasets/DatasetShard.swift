/// What the coordinator ships to a worker: the first `trainLimit` training images (0 = all)
/// and all test images of an IDX data set such as Fashion-MNIST, as raw `UInt8` pixels and
/// labels (not normalised floats: 4× smaller), in one self-describing byte blob. Every node
/// derives the validation split itself from the run's seed.
///
/// ```swift
/// // coordinator
/// let shard = try DatasetShard.pack(directory: FashionMNIST.resolvedDirectory(), trainLimit: 0)
/// send(shard.bytes, hash: shard.sha256)
/// // worker
/// let (train, test) = try DatasetShard.unpack(receivedBytes)   // == FashionMNIST.load(…)
/// ```
///
/// The blob (format version 1; all integers are little-endian `UInt32`):
///
/// | offset      | size | field                                                      |
/// |-------------|------|------------------------------------------------------------|
/// | 0           | 8    | magic `"DSHARD1\0"`                                        |
/// | 8           | 4    | format version (1)                                         |
/// | 12          | 4    | header length `H` = offset of the first pixel byte         |
/// | 16          | 4    | train count `T`                                            |
/// | 20          | 4    | test count `V`                                             |
/// | 24          | 4    | rank `R` of the sample shape (1…8)                         |
/// | 28          | 4·R  | sample shape, e.g. `[1, 28, 28]`; `F` = its product        |
/// | 28 + 4R     | 4    | class count `C` (1…256)                                    |
/// | 32 + 4R     | 4    | name length `N` (0…255)                                    |
/// | 36 + 4R     | N    | data set name, UTF-8, e.g. `fashion-mnist`                 |
/// | H           | T·F  | train pixels, sample after sample, row-major               |
/// | H + T·F     | T    | train labels, each `< C`                                   |
/// | …           | V·F  | test pixels                                                |
/// | …           | V    | test labels                                                |
///
/// with `H = 36 + 4R + N` and the blob ending exactly after the test labels.
public struct DatasetShard: Sendable {
    /// The encoded blob.
    public let bytes: [UInt8]
    /// SHA-256 hex of `bytes`: the shard's identity everywhere (cache key, wire `shard_hash`).
    public let sha256: String

    /// The name ``pack(directory:trainLimit:)`` writes into the header. It is part of the
    /// bytes, hence of the hash; it does not depend on where the files are installed, so the
    /// same data packs to the same hash on every machine.
    public static let defaultName = "fashion-mnist"

    /// Wraps bytes received or loaded from a cache and computes their hash. The bytes are
    /// not validated here; ``unpack(_:)`` does that.
    public init(bytes: [UInt8]) {
        self.bytes = bytes
        self.sha256 = SHA256.hex(bytes)
    }

    /// Encodes a shard from raw pixels and labels (`trainPixels.count` must be
    /// `trainLabels.count × product(sampleShape)`, likewise for the test split).
    ///
    /// - Throws: ``DatasetError/invalidShard(reason:)`` if the arguments cannot form a
    ///   valid shard (sizes that do not match, a label `≥ classCount`, a shape, class count,
    ///   name or count beyond the format's limits). Whatever this accepts, ``unpack(_:)`` accepts.
    public init(
        name: String, sampleShape: [Int], classCount: Int,
        trainPixels: [UInt8], trainLabels: [UInt8], testPixels: [UInt8], testLabels: [UInt8]
    ) throws(DatasetError) {
        let header = Header(name: name, sampleShape: sampleShape, classCount: classCount,
                            trainCount: trainLabels.count, testCount: testLabels.count)
        try header.checkEncodable()
        for (what, pixels, count) in [("train", trainPixels, trainLabels.count), ("test", testPixels, testLabels.count)]
            where pixels.count != count * header.features {
            throw .invalidShard(reason: "\(pixels.count) \(what) pixel bytes for \(count) samples of "
                + "\(header.features) pixels (shape \(sampleShape)); expected \(count * header.features)")
        }
        try DatasetShard.checkLabels(trainLabels[...], split: "train", classCount: classCount)
        try DatasetShard.checkLabels(testLabels[...], split: "test", classCount: classCount)

        var blob = header.encoded()
        blob.reserveCapacity(header.headerLength + header.dataByteCount)
        blob += trainPixels
        blob += trainLabels
        blob += testPixels
        blob += testLabels
        self.init(bytes: blob)
    }

    /// Reads the IDX(.gz) files in `directory` (FashionMNIST file names), keeps the first
    /// `trainLimit` training samples (0 = all; so does a negative value) and every test
    /// sample, and packs them with the name ``defaultName`` and 10 classes.
    ///
    /// Errors are the existing `DatasetError`s (missing file, bad IDX, …) naming the file.
    public static func pack(directory: String, trainLimit: Int) throws(DatasetError) -> DatasetShard {
        try pack(directory: directory, trainLimit: trainLimit, name: defaultName, classCount: FashionMNIST.classCount)
    }

    /// ``pack(directory:trainLimit:)`` for another data set in the same file layout (MNIST,
    /// say): `name` goes into the header and every label must be below `classCount`.
    ///
    /// The files are read with the checks of ``LabeledImages/loadIDX(images:labels:classCount:)``
    /// (every label of a file is checked, also of training samples beyond `trainLimit`), and
    /// train and test images must have the same size
    /// (``DatasetError/sampleShapeMismatch(path:shape:otherPath:otherShape:)`` otherwise).
    public static func pack(directory: String, trainLimit: Int, name: String, classCount: Int) throws(DatasetError) -> DatasetShard {
        let train = try RawSplit.read(.train, directory: directory, classCount: classCount)
        let test = try RawSplit.read(.test, directory: directory, classCount: classCount)
        guard train.sampleShape == test.sampleShape else {
            throw .sampleShapeMismatch(path: train.imagesPath, shape: train.sampleShape,
                                       otherPath: test.imagesPath, otherShape: test.sampleShape)
        }
        let keep = trainLimit > 0 ? min(trainLimit, train.count) : train.count
        let features = train.sampleShape.reduce(1, *)
        return try DatasetShard(
            name: name, sampleShape: train.sampleShape, classCount: classCount,
            trainPixels: Array(train.pixels[0 ..< keep * features]), trainLabels: Array(train.labels[0 ..< keep]),
            testPixels: test.pixels, testLabels: test.labels)
    }

    /// Validates the blob (magic, header, sizes, label range) and returns the two splits as
    /// `LabeledImages` normalised exactly as `FashionMNIST.load` does (pixels `Float(byte) / 255`
    /// in [0, 1], labels as `Int32`), so training on a shard is bit-identical to training on
    /// the files.
    ///
    /// - Throws: ``DatasetError/invalidShard(reason:)`` saying what is wrong, or
    ///   ``DatasetError/unsupportedShardVersion(found:supported:)``. Never crashes on bad input.
    public static func unpack(_ bytes: [UInt8]) throws(DatasetError) -> (train: LabeledImages, test: LabeledImages) {
        let header = try Header.decode(bytes)
        let features = header.features
        var offset = header.headerLength
        func split(count: Int, name: String) throws(DatasetError) -> LabeledImages {
            let pixels = bytes[offset ..< offset + count * features]
            let labels = bytes[offset + count * features ..< offset + count * (features + 1)]
            offset += count * (features + 1)
            try checkLabels(labels, split: name, classCount: header.classCount)
            return LabeledImages(pixels: LabeledImages.unitScaled(Array(pixels)), labels: labels.map { Int32($0) },
                                 sampleShape: header.sampleShape, classCount: header.classCount)
        }
        let train = try split(count: header.trainCount, name: "train")
        let test = try split(count: header.testCount, name: "test")
        return (train, test)
    }

    /// The header of the blob (name, shape, counts), validated as by ``unpack(_:)`` except
    /// for the label values, without decoding any pixels.
    public static func header(of bytes: [UInt8]) throws(DatasetError) -> Header {
        try Header.decode(bytes)
    }

    /// Throws if a label is not below `classCount`.
    private static func checkLabels(_ labels: ArraySlice<UInt8>, split: String, classCount: Int) throws(DatasetError) {
        guard classCount <= 255 else { return }  // a byte is always below 256
        let limit = UInt8(classCount)
        guard let bad = labels.firstIndex(where: { $0 >= limit }) else { return }
        let sample = bad - labels.startIndex
        throw .invalidShard(reason: "\(split) sample \(sample) has label \(labels[bad]), expected 0..<\(classCount)")
    }
}
