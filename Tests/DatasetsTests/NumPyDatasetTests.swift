import Datasets
import Foundation
import Testing

@Suite("NumPyDataset: labelled data sets from .npz archives, checked")
struct NumPyDatasetTests {
    @Test("uint8 images [N, 1, 4, 4] keep their raw values; classes from the labels")
    func images() throws {
        let path = numpyFixture("images-u1.npz")
        let data = try NumPyDataset(path: path)
        #expect(data.path == path)
        #expect(data.sampleShape == [1, 4, 4])
        #expect(data.features == 16)
        #expect(data.classCount == 3)
        #expect(data.train.samples == .uint8(fixtureImages(count: 6, offset: 0)))
        #expect(data.train.labels == [0, 1, 2, 0, 1, 2])
        #expect(data.test.samples == .uint8(fixtureImages(count: 3, offset: 5)))
        #expect(data.test.labels == [1, 2, 0])
        #expect(data.test.count == 3)
    }

    @Test("float32 rows [N, 5] from savez_compressed, int64 labels, a given class count")
    func rows() throws {
        let path = numpyFixture("rows-f4.npz")
        let data = try NumPyDataset(path: path, classes: 10)
        #expect(data.sampleShape == [5])
        #expect(data.classCount == 10)
        #expect(data.train.samples == .float32(fixtureRows(count: 8, scale: 4, sign: 1)))
        #expect(data.test.samples == .float32(fixtureRows(count: 4, scale: 8, sign: -1)))
        #expect(data.test.labels == [0, 3, 2, 1])
        #expect(try NumPyDataset(path: path).classCount == 4)
    }

    @Test("other array names")
    func names() throws {
        let path = numpyFixture("label-dtypes.npz")
        let names = NumPyDataset.ArrayNames(xTrain: "u1", yTrain: "i8", xTest: "u1", yTest: "u8")
        expectNumPyError(path: path, array: "u1", .samplesRank(shape: [5]), mentions: ["[N, D]", "[N, C, H, W]"]) {
            try NumPyDataset(path: path, names: names)
        }
        let missing = NumPyDataset.ArrayNames(xTrain: "images")
        expectNumPyError(path: path, array: "images", .missingArray(available: ["u1", "i1", "i2", "u2", "i4", "u4", "i8", "u8"])) {
            try NumPyDataset(path: path, names: missing)
        }
    }

    @Test("float64 samples: convert with astype(numpy.float32)")
    func float64() {
        let path = numpyFixture("x-f8.npz")
        expectNumPyError(path: path, array: "x_train", .unsupportedDType(descr: "<f8"), mentions: ["x.astype(numpy.float32)"]) {
            try NumPyDataset(path: path)
        }
    }

    @Test("[N, 1] labels: reshape with y.reshape(-1)")
    func columnLabels() {
        let path = numpyFixture("y-column.npz")
        expectNumPyError(path: path, array: "y_train", .labelsRank(shape: [4, 1]), mentions: ["y.reshape(-1)", "(4, 1)"]) {
            try NumPyDataset(path: path)
        }
    }

    // Refusals on arrays built here (the archive path only names the file in the messages).

    private let path = "/data/set.npz"

    private func rows(_ count: Int, _ width: Int = 3, _ value: (Int) -> Float = { Float($0) }) -> NumPyArray {
        NumPyArray(shape: [count, width], dtype: .float32, bytes: float32Bytes((0..<count * width).map(value)))
    }

    private func labels(_ values: [UInt8]) -> NumPyArray {
        NumPyArray(shape: [values.count], dtype: .uint8, bytes: values)
    }

    private func assemble(classes: Int? = nil, xTrain: NumPyArray? = nil, yTrain: NumPyArray? = nil,
                          xTest: NumPyArray? = nil, yTest: NumPyArray? = nil) throws -> NumPyDataset {
        try NumPyDataset(path: path, classes: classes, xTrain: xTrain ?? rows(4), yTrain: yTrain ?? labels([0, 1, 2, 1]),
                         xTest: xTest ?? rows(2), yTest: yTest ?? labels([1, 0]))
    }

    @Test("the defaults assemble")
    func assembles() throws {
        let data = try assemble()
        #expect(data.classCount == 3)
        #expect(data.sampleShape == [3])
        #expect(data.train.samples == .float32((0..<12).map(Float.init)))
    }

    @Test("counts of x and y differ")
    func countMismatch() {
        expectNumPyError(path: path, array: "y_test", .countMismatch(count: 3, otherArray: "x_test", otherCount: 2)) {
            try assemble(yTest: labels([0, 1, 1]))
        }
    }

    @Test("a label out of range: index and value of the first bad one")
    func labelOutOfRange() {
        expectNumPyError(path: path, array: "y_test", .labelOutOfRange(index: 1, label: "3", classCount: 3),
                         mentions: ["sample 1 has label 3", "0..<3"]) {
            try assemble(classes: 3, yTest: labels([0, 3]))
        }
        let negative = NumPyArray(shape: [4], dtype: .int8, bytes: [0, 1, 0xFF, 1])
        expectNumPyError(path: path, array: "y_train", .labelOutOfRange(index: 2, label: "-1", classCount: 5)) {
            try assemble(classes: 5, yTrain: negative)
        }
    }

    @Test("NaN and infinity name the sample", arguments: [(Float.nan, "nan"), (Float.infinity, "inf"), (-Float.infinity, "-inf")])
    func nonFinite(value: Float, text: String) {
        let x = rows(4) { $0 == 7 ? value : Float($0) }  // element 7 = sample 2 of width 3
        expectNumPyError(path: path, array: "x_train", .nonFinite(sampleIndex: 2, value: text), mentions: ["sample 2 holds \(text)"]) {
            try assemble(xTrain: x)
        }
    }

    @Test("an empty split")
    func emptySplit() {
        expectNumPyError(path: path, array: "x_test", .emptySplit) {
            try assemble(xTest: rows(0), yTest: labels([]))
        }
    }

    @Test("sample shapes and dtypes must agree between the splits")
    func splitsDisagree() {
        expectNumPyError(path: path, array: "x_test", .sampleShapeMismatch(sampleShape: [4], otherArray: "x_train", otherSampleShape: [3])) {
            try assemble(xTest: rows(2, 4))
        }
        let bytes = NumPyArray(shape: [2, 3], dtype: .uint8, bytes: [UInt8](repeating: 1, count: 6))
        expectNumPyError(path: path, array: "x_test", .dtypeMismatch(descr: "|u1", otherArray: "x_train", otherDescr: "<f4")) {
            try assemble(xTest: bytes)
        }
    }

    @Test("ranks and dtypes of x and y")
    func ranksAndDTypes() {
        let cube = NumPyArray(shape: [4, 1, 3], dtype: .float32, bytes: float32Bytes([Float](repeating: 0, count: 12)))
        expectNumPyError(path: path, array: "x_train", .samplesRank(shape: [4, 1, 3]), mentions: ["(4, 1, 3)"]) {
            try assemble(xTrain: cube)
        }
        let ints = NumPyArray(shape: [4, 1], dtype: .int32, bytes: [UInt8](repeating: 0, count: 16))
        expectNumPyError(path: path, array: "x_train", .samplesDType(descr: "<i4"), mentions: ["astype(numpy.float32)"]) {
            try assemble(xTrain: ints)
        }
        expectNumPyError(path: path, array: "y_train", .labelsDType(descr: "<f4"), mentions: ["y.astype(numpy.int64)"]) {
            try assemble(yTrain: NumPyArray(shape: [4], dtype: .float32, bytes: float32Bytes([0, 1, 0, 1])))
        }
    }

    @Test("class counts outside 2…65536")
    func classCounts() {
        expectNumPyError(path: path, array: "y_train", .classCount(count: 1, fromLabels: true), mentions: ["largest label + 1 is 1"]) {
            try assemble(yTrain: labels([0, 0, 0, 0]), yTest: labels([0, 0]))
        }
        expectNumPyError(path: path, array: "", .classCount(count: 65_537, fromLabels: false), mentions: ["2…65536"]) {
            try assemble(classes: 65_537)
        }
        let wide = NumPyArray(shape: [4], dtype: .int32, bytes: [0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0])
        expectNumPyError(path: path, array: "y_train", .classCount(count: 65_537, fromLabels: true)) {
            try assemble(yTrain: wide)
        }
    }
}
