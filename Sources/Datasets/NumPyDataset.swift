/// A labelled data set read from an `.npz` archive written by
/// `numpy.savez(path, x_train=..., y_train=..., x_test=..., y_test=...)` (or `savez_compressed`).
///
/// The samples keep their raw values and dtype (uint8 or float32): no scaling and no
/// normalisation happen here. Samples are `[N, D]` (feature rows) or `[N, C, H, W]` (images);
/// labels are `[N]` integer class ids. Everything is checked before anything is returned: the
/// dtypes, ranks and counts, that both splits agree on sample shape and dtype, that no split
/// is empty, that float samples are finite and every label is a class id; each refusal is a
/// ``DatasetError/numpy(path:array:problem:)`` naming the file and the array.
public struct NumPyDataset: Sendable, Equatable {
    /// The most classes a data set may have.
    public static let maxClasses = 65_536

    /// The names of the four arrays in the archive.
    public struct ArrayNames: Sendable, Equatable, Hashable {
        public var xTrain: String
        public var yTrain: String
        public var xTest: String
        public var yTest: String

        public init(xTrain: String = "x_train", yTrain: String = "y_train", xTest: String = "x_test", yTest: String = "y_test") {
            self.xTrain = xTrain
            self.yTrain = yTrain
            self.xTest = xTest
            self.yTest = yTest
        }

        /// `x_train`, `y_train`, `x_test`, `y_test`.
        public static let standard = ArrayNames()
    }

    /// The samples of one split, row-major, in their stored dtype.
    public enum Samples: Sendable, Equatable {
        case uint8([UInt8])
        case float32([Float])
    }

    /// One split: `count` samples and their class ids.
    public struct Split: Sendable, Equatable {
        public let samples: Samples
        public let labels: [Int32]
        /// The number of samples.
        public var count: Int { labels.count }
    }

    /// The archive the data set was read from.
    public let path: String
    /// The shape of one sample: `[D]` or `[C, H, W]` (x's shape after the first axis).
    public let sampleShape: [Int]
    /// The number of classes: the one given, or the largest label of both splits + 1.
    public let classCount: Int
    public let train: Split
    public let test: Split

    /// The number of elements of one sample (the product of ``sampleShape``).
    public var features: Int { sampleShape.reduce(1, *) }

    /// Reads and checks the data set in the `.npz` archive at `path`. `classes`, when given,
    /// is the class count (every label must be below it); otherwise it is the largest label
    /// + 1. `byteLimit` bounds each array.
    public init(
        path: String, names: ArrayNames = .standard, classes: Int? = nil,
        byteLimit: Int = NumPyArray.defaultByteLimit
    ) throws(DatasetError) {
        let archive = try NumPyArchive(path: path, byteLimit: byteLimit)
        let xTrain = try archive.array(named: names.xTrain)
        let yTrain = try archive.array(named: names.yTrain)
        let xTest = try archive.array(named: names.xTest)
        let yTest = try archive.array(named: names.yTest)
        try self.init(path: path, names: names, classes: classes,
                      xTrain: xTrain, yTrain: yTrain, xTest: xTest, yTest: yTest)
    }

    /// Checks and assembles a data set from four arrays already read from the archive at
    /// `path` (which, with `names`, only serves the error messages).
    public init(
        path: String, names: ArrayNames = .standard, classes: Int? = nil,
        xTrain: NumPyArray, yTrain: NumPyArray, xTest: NumPyArray, yTest: NumPyArray
    ) throws(DatasetError) {
        func fail(_ array: String, _ problem: NumPyProblem) -> DatasetError {
            .numpy(path: path, array: array, problem: problem)
        }
        // Each split on its own: dtypes, ranks, counts, not empty.
        for (x, xName, y, yName) in [(xTrain, names.xTrain, yTrain, names.yTrain), (xTest, names.xTest, yTest, names.yTest)] {
            guard x.dtype == .uint8 || x.dtype == .float32 else { throw fail(xName, .samplesDType(descr: x.dtype.descr)) }
            guard x.shape.count == 2 || x.shape.count == 4 else { throw fail(xName, .samplesRank(shape: x.shape)) }
            guard y.dtype.isInteger else { throw fail(yName, .labelsDType(descr: y.dtype.descr)) }
            guard y.shape.count == 1 else { throw fail(yName, .labelsRank(shape: y.shape)) }
            guard x.shape[0] == y.shape[0] else {
                throw fail(yName, .countMismatch(count: y.shape[0], otherArray: xName, otherCount: x.shape[0]))
            }
            guard x.shape[0] > 0 else { throw fail(xName, .emptySplit) }
        }
        // The splits agree.
        let sampleShape = Array(xTrain.shape.dropFirst())
        guard Array(xTest.shape.dropFirst()) == sampleShape else {
            throw fail(names.xTest, .sampleShapeMismatch(
                sampleShape: Array(xTest.shape.dropFirst()), otherArray: names.xTrain, otherSampleShape: sampleShape))
        }
        guard xTest.dtype == xTrain.dtype else {
            throw fail(names.xTest, .dtypeMismatch(descr: xTest.dtype.descr, otherArray: names.xTrain, otherDescr: xTrain.dtype.descr))
        }
        // Labels: class ids, then the class count, then every label below it.
        let trainLabels = try Self.classIds(yTrain, path: path, array: names.yTrain, classes: classes)
        let testLabels = try Self.classIds(yTest, path: path, array: names.yTest, classes: classes)
        let classCount = classes ?? Int(max(trainLabels.max() ?? 0, testLabels.max() ?? 0)) + 1
        guard (2...Self.maxClasses).contains(classCount) else {
            throw fail(classes == nil ? names.yTrain : "", .classCount(count: classCount, fromLabels: classes == nil))
        }
        for (labels, name) in [(trainLabels, names.yTrain), (testLabels, names.yTest)] {
            if let index = labels.firstIndex(where: { Int($0) >= classCount }) {
                throw fail(name, .labelOutOfRange(index: index, label: String(labels[index]), classCount: classCount))
            }
        }
        self.path = path
        self.sampleShape = sampleShape
        self.classCount = classCount
        train = Split(samples: try Self.samples(xTrain, path: path, array: names.xTrain), labels: trainLabels)
        test = Split(samples: try Self.samples(xTest, path: path, array: names.xTest), labels: testLabels)
    }

    /// The labels as class ids; a negative one is reported against `classes` when it is given.
    private static func classIds(_ y: NumPyArray, path: String, array: String, classes: Int?) throws(DatasetError) -> [Int32] {
        do {
            return try y.classIds(path: path, array: array)
        } catch {
            if let classes, case .numpy(_, _, .labelOutOfRange(let index, let label, nil)) = error {
                throw .numpy(path: path, array: array, problem: .labelOutOfRange(index: index, label: label, classCount: classes))
            }
            throw error
        }
    }

    /// The samples in their dtype; float samples must be finite.
    private static func samples(_ x: NumPyArray, path: String, array: String) throws(DatasetError) -> Samples {
        if let bytes = x.uint8s() { return .uint8(bytes) }
        guard let floats = x.floats() else {
            throw .numpy(path: path, array: array, problem: .samplesDType(descr: x.dtype.descr))
        }
        if let index = floats.firstIndex(where: { !$0.isFinite }) {
            let value = floats[index].isNaN ? "nan" : floats[index] > 0 ? "inf" : "-inf"
            let perSample = max(1, x.count / max(1, x.shape[0]))
            throw .numpy(path: path, array: array, problem: .nonFinite(sampleIndex: index / perSample, value: value))
        }
        return .float32(floats)
    }
}
