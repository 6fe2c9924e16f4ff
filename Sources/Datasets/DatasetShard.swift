/// What the coordinator ships to a worker: the first `trainLimit` training samples (0 = all)
/// and all test samples of a data set — IDX files such as Fashion-MNIST, or a NumPy `.npz` —
/// as their stored values (bytes or float32, not yet scaled or normalised: a byte data set
/// ships 4× smaller than floats), their labels and the pre-processing every node applies, in
/// one self-describing byte blob. Every node derives the validation split itself from the
/// run's seed.
///
/// ```swift
/// // coordinator
/// let shard = try DatasetShard.pack(directory: FashionMNIST.resolvedDirectory(), trainLimit: 0)
/// send(shard.bytes, hash: shard.sha256)
/// // worker
/// let data = try DatasetShard.unpack(receivedBytes)   // scaled values, labels, pre-processing
/// ```
///
/// The blob (format version 2; all integers are little-endian `UInt32`, floats IEEE 754
/// little-endian `Float32`):
///
/// | offset          | size | field                                                   |
/// |-----------------|------|---------------------------------------------------------|
/// | 0               | 8    | magic `"DSHARD1\0"`                                     |
/// | 8               | 4    | format version (2)                                      |
/// | 12              | 4    | header length `H` = offset of the first value byte      |
/// | 16              | 4    | train count `T`                                         |
/// | 20              | 4    | test count `V`                                          |
/// | 24              | 4    | value type: 0 = uint8 (`s` = 1 byte), 1 = float32 (`s` = 4) |
/// | 28              | 4    | rank `R` of the sample shape (1…8)                      |
/// | 32              | 4·R  | sample shape, e.g. `[1, 28, 28]`; `F` = its product     |
/// | 32 + 4R         | 4    | class count `C` (1…65536); a label is `l` = 1 byte if `C` ≤ 256, else 2 |
/// | 36 + 4R         | 8    | scale (float64)                                         |
/// | 44 + 4R         | 4    | statistics count `K`: 0 = mean/std fitted on the train split, else 1…65536 |
/// | 48 + 4R         | 8·K  | `K` means, then `K` stds (float32)                      |
/// | 48 + 4R + 8K    | 4    | name length `N` (0…255)                                 |
/// | 52 + 4R + 8K    | N    | data set name, UTF-8, e.g. `fashion-mnist`              |
/// | H               | T·F·s | train values, sample after sample, row-major            |
/// | H + T·F·s       | T·l  | train labels, each `< C`                                |
/// | …               | V·F·s | test values                                            |
/// | …               | V·l  | test labels                                             |
///
/// with `H = 52 + 4R + 8K + N` and the blob ending exactly after the test labels. Float
/// values must be finite.
public struct DatasetShard: Sendable {
    /// The encoded blob.
    public let bytes: [UInt8]
    /// SHA-256 hex of `bytes`: the shard's identity everywhere (cache key, wire `shard_hash`).
    public let sha256: String

    /// The name ``pack(directory:trainLimit:)`` writes into the header. It is part of the
    /// bytes, hence of the hash; it does not depend on where the files are installed, so the
    /// same data packs to the same hash on every machine.
    public static let defaultName = "fashion-mnist"

    /// One split's stored values and labels.
    public struct Split: Sendable, Equatable {
        /// `count × F` values, sample after sample.
        public var values: Values
        /// One label per sample.
        public var labels: [Int32]

        public enum Values: Sendable, Equatable {
            case uint8([UInt8])
            case float32([Float])

            public var count: Int {
                switch self {
                case .uint8(let v): return v.count
                case .float32(let v): return v.count
                }
            }
            var type: ValueType {
                if case .uint8 = self { return .uint8 }
                return .float32
            }
        }

        public init(values: Values, labels: [Int32]) {
            self.values = values
            self.labels = labels
        }
    }

    /// A shard's contents as a node uses them: both splits with the values multiplied by the
    /// pre-processing's scale (not yet normalised: the statistics may be fitted on `train`).
    public struct Contents: Sendable {
        public var header: Header
        public var train: LabeledImages
        public var test: LabeledImages
        /// The normalisation every split gets: the given statistics, or those fitted on `train`.
        public var normalization: Normalization { header.preprocessing.normalization(fittingOn: train) }
    }

    /// Wraps bytes received or loaded from a cache and computes their hash. The bytes are
    /// not validated here; ``unpack(_:)`` does that.
    public init(bytes: [UInt8]) {
        self.bytes = bytes
        self.sha256 = SHA256.hex(bytes)
    }

    /// Encodes a shard (`train.values.count` must be `train.labels.count × product(sampleShape)`,
    /// likewise for the test split, both splits of one value type).
    ///
    /// - Throws: ``DatasetError/invalidShard(reason:)`` if the arguments cannot form a
    ///   valid shard (sizes that do not match, a label outside `0..<classCount`, a float that
    ///   is not finite, a shape, class count, pre-processing, name or count beyond the format's
    ///   limits). Whatever this accepts, ``unpack(_:)`` accepts.
    public init(name: String, sampleShape: [Int], classCount: Int, preprocessing: Preprocessing,
                train: Split, test: Split) throws(DatasetError) {
        guard train.values.type == test.values.type else {
            throw .invalidShard(reason: "train values are \(train.values.type) but test values \(test.values.type); both splits need one type")
        }
        let header = Header(name: name, sampleShape: sampleShape, valueType: train.values.type, classCount: classCount,
                            preprocessing: preprocessing, trainCount: train.labels.count, testCount: test.labels.count)
        try header.checkEncodable()
        for (what, split) in [("train", train), ("test", test)] {
            let count = split.labels.count
            guard split.values.count == count * header.features else {
                throw .invalidShard(reason: "\(split.values.count) \(what) values for \(count) samples of "
                    + "\(header.features) values (shape \(sampleShape)); expected \(count * header.features)")
            }
            if let bad = split.labels.firstIndex(where: { $0 < 0 || Int($0) >= classCount }) {
                throw .invalidShard(reason: "\(what) sample \(bad) has label \(split.labels[bad]), expected 0..<\(classCount)")
            }
            if case .float32(let v) = split.values, let bad = v.firstIndex(where: { !$0.isFinite }) {
                throw .invalidShard(reason: "\(what) sample \(bad / max(1, header.features)) has the value \(v[bad]); values must be finite")
            }
        }
        var blob = header.encoded()
        blob.reserveCapacity(header.headerLength + header.dataByteCount)
        for split in [train, test] {
            switch split.values {
            case .uint8(let v): blob += v
            case .float32(let v):
                v.withUnsafeBufferPointer { floats in
                    for f in floats {
                        let w = f.bitPattern.littleEndian
                        withUnsafeBytes(of: w) { blob += $0 }
                    }
                }
            }
            if header.labelBytes == 1 {
                blob += split.labels.map { UInt8(truncatingIfNeeded: $0) }
            } else {
                for label in split.labels { blob += [UInt8(label & 0xFF), UInt8((label >> 8) & 0xFF)] }
            }
        }
        self.init(bytes: blob)
    }

    /// Reads the IDX(.gz) files in `directory` (FashionMNIST file names), keeps the first
    /// `trainLimit` training samples (0 = all; so does a negative value) and every test
    /// sample, and packs them with the name ``defaultName``, 10 classes and the IDX format's
    /// default pre-processing (``Preprocessing/idxDefault``).
    ///
    /// Errors are the existing `DatasetError`s (missing file, bad IDX, …) naming the file.
    public static func pack(directory: String, trainLimit: Int) throws(DatasetError) -> DatasetShard {
        try pack(directory: directory, trainLimit: trainLimit, name: defaultName, classCount: FashionMNIST.classCount,
                 preprocessing: .idxDefault)
    }

    /// ``pack(directory:trainLimit:)`` for another data set in the same file layout (MNIST,
    /// say): `name` goes into the header and every label must be below `classCount`.
    ///
    /// The files are read with the checks of ``LabeledImages/loadIDX(images:labels:classCount:)``
    /// (every label of a file is checked, also of training samples beyond `trainLimit`), and
    /// train and test images must have the same size
    /// (``DatasetError/sampleShapeMismatch(path:shape:otherPath:otherShape:)`` otherwise).
    public static func pack(directory: String, trainLimit: Int, name: String, classCount: Int,
                            preprocessing: Preprocessing) throws(DatasetError) -> DatasetShard {
        let train = try RawSplit.read(.train, directory: directory, classCount: classCount)
        let test = try RawSplit.read(.test, directory: directory, classCount: classCount)
        guard train.sampleShape == test.sampleShape else {
            throw .sampleShapeMismatch(path: train.imagesPath, shape: train.sampleShape,
                                       otherPath: test.imagesPath, otherShape: test.sampleShape)
        }
        let keep = trainLimit > 0 ? min(trainLimit, train.count) : train.count
        let features = train.sampleShape.reduce(1, *)
        return try DatasetShard(
            name: name, sampleShape: train.sampleShape, classCount: classCount, preprocessing: preprocessing,
            train: Split(values: .uint8(Array(train.pixels[0 ..< keep * features])), labels: train.labels[0 ..< keep].map { Int32($0) }),
            test: Split(values: .uint8(test.pixels), labels: test.labels.map { Int32($0) }))
    }

    /// Validates the blob (magic, header, sizes, label range, finite floats) and returns both
    /// splits with their values multiplied by the pre-processing's scale (bytes of an IDX shard
    /// become `Float(byte) · (1/255)` in [0, 1]) and labels as `Int32`; the normalisation is
    /// ``Contents/normalization``, applied by `DataBundle`.
    ///
    /// - Throws: ``DatasetError/invalidShard(reason:)`` saying what is wrong, or
    ///   ``DatasetError/unsupportedShardVersion(found:supported:)``. Never crashes on bad input.
    public static func unpack(_ bytes: [UInt8]) throws(DatasetError) -> Contents {
        let header = try Header.decode(bytes)
        let features = header.features, scale = header.preprocessing.scale
        var offset = header.headerLength
        func split(count: Int, name: String) throws(DatasetError) -> LabeledImages {
            let valueBytes = count * features * header.valueType.size
            var values = [Float](repeating: 0, count: count * features)
            bytes.withUnsafeBufferPointer { raw in
                values.withUnsafeMutableBufferPointer { out in
                    switch header.valueType {
                    case .uint8:
                        let table = LabeledImages.byteTable(scale: scale)
                        for i in 0 ..< out.count { out[i] = table[Int(raw[offset + i])] }
                    case .float32:
                        for i in 0 ..< out.count {
                            let o = offset + 4 * i
                            let w = UInt32(raw[o]) | UInt32(raw[o + 1]) << 8 | UInt32(raw[o + 2]) << 16 | UInt32(raw[o + 3]) << 24
                            out[i] = Float(bitPattern: w)
                        }
                    }
                }
            }
            if header.valueType == .float32, scale != 1 {
                for i in values.indices { values[i] = Float(Double(values[i]) * scale) }
            }
            // Not finite: a float value, or any value once scaled (a scale of 1e300, say).
            if let bad = values.firstIndex(where: { !$0.isFinite }) {
                let scaled = scale != 1 ? " once scaled by \(scale)" : ""
                throw .invalidShard(reason: "\(name) sample \(bad / max(1, features)) has the value \(values[bad])\(scaled); values must be finite")
            }
            offset += valueBytes
            var labels = [Int32](repeating: 0, count: count)
            for i in 0..<count {
                let label = header.labelBytes == 1 ? Int32(bytes[offset + i])
                    : Int32(bytes[offset + 2 * i]) | Int32(bytes[offset + 2 * i + 1]) << 8
                guard Int(label) < header.classCount else {
                    throw .invalidShard(reason: "\(name) sample \(i) has label \(label), expected 0..<\(header.classCount)")
                }
                labels[i] = label
            }
            offset += count * header.labelBytes
            return LabeledImages(pixels: values, labels: labels, sampleShape: header.sampleShape, classCount: header.classCount)
        }
        let train = try split(count: header.trainCount, name: "train")
        let test = try split(count: header.testCount, name: "test")
        return Contents(header: header, train: train, test: test)
    }

    /// The header of the blob (name, shape, counts), validated as by ``unpack(_:)`` except
    /// for the label values, without decoding any pixels.
    public static func header(of bytes: [UInt8]) throws(DatasetError) -> Header {
        try Header.decode(bytes)
    }
}
