import ClusterRuntime
import Foundation
import Testing

/// The confusion matrix student rank 0 reports: counts, per-class accuracy, and its figures
/// read back to the same matrix.
@Suite struct ConfusionMatrixTests {
    static let labels: [Int32] = [0, 0, 0, 1, 1, 2, 2, 2, 2, 3]
    static let predicted = [0, 0, 2, 1, 0, 2, 2, 2, 1, 3]

    @Test func countsRowsAreTrueClassesAndTheDiagonalIsAccuracy() {
        let m = ConfusionMatrix(predicted: Self.predicted, labels: Self.labels, classes: 5)
        #expect(m.counts == [[2, 0, 1, 0, 0], [1, 1, 0, 0, 0], [0, 1, 3, 0, 0], [0, 0, 0, 1, 0], [0, 0, 0, 0, 0]])
        #expect(m.total == 10 && m.samplesPerClass == [3, 2, 4, 1, 0])
        #expect(m.accuracy == 0.7)
        #expect(m.perClassAccuracy == [2.0 / 3, 0.5, 0.75, 1, nil])
    }

    @Test func outOfRangeLabelsAndPredictionsAreNotCounted() {
        let m = ConfusionMatrix(predicted: [0, 7, 1, -1], labels: [0, 1, 9, 1], classes: 2)
        #expect(m.counts == [[1, 0], [0, 0]] && m.total == 1)
    }

    @Test func figuresAreTheNonZeroCellsAndReadBackToTheSameMatrix() throws {
        let m = ConfusionMatrix(predicted: Self.predicted, labels: Self.labels, classes: 5)
        let figures = m.figures(prefix: "student.confusion")
        #expect(figures.count == 7)
        #expect(figures.contains { $0.0 == "student.confusion.0.2" && $0.1 == 1 })
        #expect(!figures.contains { $0.0 == "student.confusion.4.4" })
        var all = Dictionary(uniqueKeysWithValues: figures)
        all["student.classes"] = 5
        all["ensemble.confusion.0.0"] = 9          // another model's cells are not mixed in
        all["student.confusion.1.x"] = 3           // nor a malformed name
        all["student.confusion.1.1.1"] = 3
        #expect(ConfusionMatrix(figures: all, prefix: "student.confusion", classes: 5) == m)
        #expect(ConfusionMatrix(figures: all, prefix: "teacher0.confusion", classes: 5) == nil)
        #expect(ConfusionMatrix(figures: all, prefix: "student.confusion", classes: ConfusionMatrix.maxClasses + 1) == nil)
        #expect(ConfusionMatrix.isCell("student.confusion.0.2") && !ConfusionMatrix.isCell("student.test_accuracy"))
    }

    @Test func jsonHasTheCountsAndPerClassAccuracyAndRefusesARaggedMatrix() throws {
        let m = ConfusionMatrix(predicted: [0, 1, 1], labels: [0, 1, 0], classes: 3)
        let json = String(decoding: try JSONEncoder().encode(m), as: UTF8.self)
        #expect(json.contains("\"per_class_accuracy\":[0.5,1,null]"))
        #expect(try JSONDecoder().decode(ConfusionMatrix.self, from: Data(json.utf8)) == m)
        let ragged = Data(#"{"classes": 2, "counts": [[1, 0], [1]]}"#.utf8)
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(ConfusionMatrix.self, from: ragged) }
    }
}
