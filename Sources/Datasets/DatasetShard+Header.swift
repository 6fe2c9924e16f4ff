extension DatasetShard {
    /// How a shard stores each sample value.
    public enum ValueType: Int, Sendable, Equatable, Hashable, CustomStringConvertible {
        /// One byte per value (IDX images, `uint8` NumPy arrays).
        case uint8 = 0
        /// Four bytes per value, IEEE 754 little-endian (`float32` NumPy arrays): 4× the size.
        case float32 = 1

        /// Bytes per value.
        public var size: Int { self == .uint8 ? 1 : 4 }
        public var description: String { self == .uint8 ? "uint8" : "float32" }
    }

    /// The self-describing header of a shard blob (layout in ``DatasetShard``).
    ///
    /// The limits below bound what a header may claim, so a corrupt or hostile header is
    /// rejected before any arithmetic can overflow or any memory is reserved for it.
    public struct Header: Sendable, Equatable {
        /// The first 8 bytes of every shard: `"DSHARD1\0"`.
        public static let magic: [UInt8] = Array("DSHARD1".utf8) + [0]
        /// The format version written by this build (and the only one it reads).
        public static let formatVersion = 2
        /// The largest rank of the sample shape.
        public static let maxRank = 8
        /// The largest number of values per sample (product of the sample shape).
        public static let maxFeatures = 1 << 24
        /// The largest class count (labels are one byte up to 256 classes, two bytes beyond).
        public static let maxClassCount = 65_536
        /// The largest number of samples per split.
        public static let maxSampleCount = 1 << 28
        /// The longest data set name, in UTF-8 bytes.
        public static let maxNameBytes = 255
        /// The most mean/std values (one per channel or feature).
        public static let maxStatistics = 1 << 16

        /// The data set name, e.g. `fashion-mnist`.
        public let name: String
        /// Per-sample shape, e.g. `[1, 28, 28]`.
        public let sampleShape: [Int]
        /// How each value is stored.
        public let valueType: ValueType
        /// Number of classes; every label is below it.
        public let classCount: Int
        /// What every node does to the values before a model sees them.
        public let preprocessing: Preprocessing
        /// Number of training samples.
        public let trainCount: Int
        /// Number of test samples.
        public let testCount: Int

        /// Values per sample: the product of ``sampleShape``.
        public var features: Int { sampleShape.reduce(1, *) }
        /// Bytes per label: 1 up to 256 classes, else 2.
        public var labelBytes: Int { classCount <= 256 ? 1 : 2 }
        /// Bytes per sample: its values and its label.
        public var sampleBytes: Int { features * valueType.size + labelBytes }
        /// The number of mean/std values written (0 for fitted statistics).
        var statisticsCount: Int {
            if case .given(let n) = preprocessing.statistics { return n.mean.count }
            return 0
        }
        /// Bytes from the start of the blob to the first value.
        public var headerLength: Int { Header.fixedBytes + 4 * sampleShape.count + 8 * statisticsCount + name.utf8.count }
        /// Bytes after the header: values and labels of both splits.
        public var dataByteCount: Int { (trainCount + testCount) * sampleBytes }

        /// Magic, then version, header length, train count, test count, value type, rank,
        /// class count, scale (8 bytes), statistics count, name length.
        static let fixedBytes = 8 + 11 * 4

        init(name: String, sampleShape: [Int], valueType: ValueType, classCount: Int, preprocessing: Preprocessing,
             trainCount: Int, testCount: Int) {
            self.name = name
            self.sampleShape = sampleShape
            self.valueType = valueType
            self.classCount = classCount
            self.preprocessing = preprocessing
            self.trainCount = trainCount
            self.testCount = testCount
        }
    }
}

// MARK: - Encoding

extension DatasetShard.Header {
    /// Throws ``DatasetError/invalidShard(reason:)`` if a field is beyond the format's limits.
    /// Afterwards ``features``, ``headerLength`` and ``dataByteCount`` cannot overflow.
    func checkEncodable() throws(DatasetError) {
        guard name.utf8.count <= Self.maxNameBytes else {
            throw .invalidShard(reason: "the data set name is \(name.utf8.count) bytes long, at most \(Self.maxNameBytes) are allowed")
        }
        try Self.checkShape(sampleShape)
        try Self.checkClassCount(classCount)
        try Self.checkCount(trainCount, split: "train")
        try Self.checkCount(testCount, split: "test")
        guard statisticsCount <= Self.maxStatistics else {
            throw .invalidShard(reason: "\(statisticsCount) mean/std values, at most \(Self.maxStatistics) are allowed")
        }
        if let problem = preprocessing.problem(sampleShape: sampleShape) { throw .invalidShard(reason: "pre-processing: \(problem)") }
    }

    /// The header bytes (``headerLength`` of them). Call ``checkEncodable()`` first.
    func encoded() -> [UInt8] {
        var out = Self.magic
        out.reserveCapacity(headerLength)
        func put(_ value: Int) {
            let word = UInt32(value)
            for shift in stride(from: 0, to: 32, by: 8) { out.append(UInt8(truncatingIfNeeded: word >> UInt32(shift))) }
        }
        func put(_ value: Float) { put(Int(value.bitPattern)) }
        put(Self.formatVersion)
        put(headerLength)
        put(trainCount)
        put(testCount)
        put(valueType.rawValue)
        put(sampleShape.count)
        for dimension in sampleShape { put(dimension) }
        put(classCount)
        let scaleBits = preprocessing.scale.bitPattern
        put(Int(scaleBits & 0xFFFF_FFFF))
        put(Int(scaleBits >> 32))
        put(statisticsCount)
        if case .given(let n) = preprocessing.statistics {
            for v in n.mean { put(v) }
            for v in n.std { put(v) }
        }
        put(name.utf8.count)
        out += Array(name.utf8)
        return out
    }
}

// MARK: - Decoding and validation

extension DatasetShard.Header {
    /// Parses and validates the header of `bytes` and checks that the data that follows has
    /// exactly the size it describes. Labels are not looked at.
    static func decode(_ bytes: [UInt8]) throws(DatasetError) -> DatasetShard.Header {
        guard bytes.count >= magic.count else {
            throw .invalidShard(reason: "only \(bytes.count) bytes, too short for the \(magic.count)-byte magic \"DSHARD1\\0\"")
        }
        guard bytes[0 ..< magic.count].elementsEqual(magic) else {
            throw .invalidShard(reason: "the blob does not start with the magic \"DSHARD1\\0\" "
                + "(found \(describe(bytes[0 ..< magic.count]))); it is not a dataset shard")
        }
        var reader = Reader(bytes: bytes, end: min(bytes.count, fixedBytes))
        let version = try reader.next("format version")
        guard version == formatVersion else {
            throw .unsupportedShardVersion(found: version, supported: formatVersion)
        }
        let headerLength = try reader.next("header length")
        let minimum = fixedBytes + 4
        let maximum = fixedBytes + 4 * maxRank + 8 * maxStatistics + maxNameBytes
        guard headerLength >= minimum, headerLength <= maximum else {
            throw .invalidShard(reason: "header length \(headerLength) is impossible (a version-\(formatVersion) header has "
                + "\(minimum)…\(maximum) bytes)")
        }
        guard headerLength <= bytes.count else {
            throw .invalidShard(reason: "the header is cut short: it has \(headerLength) bytes but the blob only \(bytes.count)")
        }
        reader.end = headerLength

        let trainCount = try reader.next("train count")
        let testCount = try reader.next("test count")
        try checkCount(trainCount, split: "train")
        try checkCount(testCount, split: "test")
        let typeCode = try reader.next("value type")
        guard let valueType = DatasetShard.ValueType(rawValue: typeCode) else {
            throw .invalidShard(reason: "value type \(typeCode) is unknown (0 = uint8, 1 = float32)")
        }
        let rank = try reader.next("sample shape rank")
        guard rank >= 1, rank <= maxRank else {
            throw .invalidShard(reason: "the sample shape has rank \(rank), expected 1…\(maxRank)")
        }
        var sampleShape: [Int] = []
        sampleShape.reserveCapacity(rank)
        for axis in 0..<rank { sampleShape.append(try reader.next("sample shape dimension \(axis)")) }
        try checkShape(sampleShape)
        let classCount = try reader.next("class count")
        try checkClassCount(classCount)
        let scaleLow = UInt64(try reader.next("scale"))
        let scale = Double(bitPattern: scaleLow | UInt64(try reader.next("scale")) << 32)
        let statisticsCount = try reader.next("statistics count")
        guard statisticsCount <= maxStatistics else {
            throw .invalidShard(reason: "\(statisticsCount) mean/std values, at most \(maxStatistics) are allowed")
        }
        var mean: [Float] = [], std: [Float] = []
        for i in 0..<statisticsCount { mean.append(Float(bitPattern: UInt32(try reader.next("mean \(i)")))) }
        for i in 0..<statisticsCount { std.append(Float(bitPattern: UInt32(try reader.next("std \(i)")))) }
        let statistics: Preprocessing.Statistics
        if statisticsCount == 0 {
            statistics = .fit
        } else {
            switch Normalization.validated(mean: mean, std: std) {
            case .success(let n): statistics = .given(n)
            case .failure(let problem): throw .invalidShard(reason: "pre-processing: \(problem.message)")
            }
        }
        let preprocessing = Preprocessing(scale: scale, statistics: statistics)
        if let problem = preprocessing.problem(sampleShape: sampleShape) { throw .invalidShard(reason: "pre-processing: \(problem)") }
        let nameLength = try reader.next("name length")
        let expectedLength = fixedBytes + 4 * rank + 8 * statisticsCount + nameLength
        guard nameLength <= maxNameBytes, expectedLength == headerLength else {
            throw .invalidShard(reason: "header length \(headerLength) does not match its fields "
                + "(\(fixedBytes) + 4 × rank \(rank) + 8 × statistics \(statisticsCount) + name length \(nameLength) = \(expectedLength))")
        }
        let nameBytes = try reader.take(nameLength, "name")
        guard let name = String(validating: nameBytes, as: UTF8.self) else {
            throw .invalidShard(reason: "the data set name is not valid UTF-8")
        }

        let header = DatasetShard.Header(name: name, sampleShape: sampleShape, valueType: valueType, classCount: classCount,
                                         preprocessing: preprocessing, trainCount: trainCount, testCount: testCount)
        let found = bytes.count - headerLength
        let expected = header.dataByteCount
        guard found == expected else {
            let sample = "(\(header.features) \(valueType) values + \(header.labelBytes)-byte label)"
            let layout = "\(trainCount) train × \(sample) + \(testCount) test × \(sample)"
            if found < expected {
                throw .invalidShard(reason: "the data is cut short: \(found) bytes after the header, the header "
                    + "describes \(expected) (\(layout))")
            }
            throw .invalidShard(reason: "\(found - expected) unexpected bytes after the data: \(found) bytes after the "
                + "header, the header describes \(expected) (\(layout))")
        }
        return header
    }

    static func checkCount(_ count: Int, split: String) throws(DatasetError) {
        guard count >= 0, count <= maxSampleCount else {
            throw .invalidShard(reason: "\(count) \(split) samples, at most \(maxSampleCount) are allowed")
        }
    }

    static func checkClassCount(_ classCount: Int) throws(DatasetError) {
        guard classCount >= 1, classCount <= maxClassCount else {
            throw .invalidShard(reason: "class count \(classCount), expected 1…\(maxClassCount)")
        }
    }

    /// Rank 1…``maxRank``, every dimension ≥ 0, product ≤ ``maxFeatures`` (checked without overflow).
    static func checkShape(_ shape: [Int]) throws(DatasetError) {
        guard shape.count >= 1, shape.count <= maxRank else {
            throw .invalidShard(reason: "the sample shape \(shape) has rank \(shape.count), expected 1…\(maxRank)")
        }
        var product = 1
        for dimension in shape {
            guard dimension >= 0, dimension <= maxFeatures else {
                throw .invalidShard(reason: "sample shape \(shape) has a dimension outside 0…\(maxFeatures)")
            }
            product = min(product * dimension, maxFeatures + 1)  // both factors ≤ 2^24 + 1: no overflow
        }
        guard product <= maxFeatures else {
            throw .invalidShard(reason: "sample shape \(shape) has more than \(maxFeatures) values per sample")
        }
    }

    /// Up to 8 bytes as text if printable, else as hex.
    private static func describe(_ bytes: ArraySlice<UInt8>) -> String {
        if bytes.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) { return "\"" + String(decoding: bytes, as: UTF8.self) + "\"" }
        return "0x" + SHA256.hexString(Array(bytes))
    }

    /// Little-endian `UInt32` fields, bounds-checked against `end`.
    private struct Reader {
        let bytes: [UInt8]
        var end: Int
        var offset = 8

        init(bytes: [UInt8], end: Int) {
            self.bytes = bytes
            self.end = end
        }

        mutating func next(_ field: String) throws(DatasetError) -> Int {
            guard offset + 4 <= end else {
                throw .invalidShard(reason: "the header ends before its \(field) field (offset \(offset), "
                    + "\(end < bytes.count ? "header length \(end)" : "blob length \(bytes.count)"))")
            }
            let value = UInt32(bytes[offset]) | UInt32(bytes[offset + 1]) << 8
                | UInt32(bytes[offset + 2]) << 16 | UInt32(bytes[offset + 3]) << 24
            offset += 4
            return Int(value)
        }

        mutating func take(_ count: Int, _ field: String) throws(DatasetError) -> ArraySlice<UInt8> {
            guard count >= 0, offset + count <= end else {
                throw .invalidShard(reason: "the header ends inside its \(field) field")
            }
            defer { offset += count }
            return bytes[offset ..< offset + count]
        }
    }
}
