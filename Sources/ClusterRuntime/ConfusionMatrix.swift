/// How a classifier's predictions on a labelled set fall, class by class: `counts[t][p]` is the
/// number of samples of true class t predicted as class p (rows true, columns predicted). The
/// diagonal is what it got right; row t's diagonal over the row's sum is class t's accuracy
/// (its recall). Student rank 0 builds one for the student and one for the ensemble (mean of
/// probabilities at T = 1) on the test split, and reports them as figures
/// `student.confusion.<t>.<p>` and `ensemble.confusion.<t>.<p>` (non-zero cells only) with
/// `student.classes`; ``RunReport`` reads them back into `report.json` and `report.html`.
public struct ConfusionMatrix: Codable, Sendable, Equatable {
    /// Data sets with more classes are not reported class by class (10 000 cells and more).
    public static let maxClasses = 100

    public let classes: Int
    /// `classes` rows of `classes` counts: row = true class, column = predicted class.
    public private(set) var counts: [[Int]]

    public init(classes: Int) {
        self.classes = classes
        counts = Array(repeating: Array(repeating: 0, count: classes), count: classes)
    }

    /// From each sample's predicted class and its label. Labels or predictions outside
    /// `0..<classes` are not counted.
    public init(predicted: [Int], labels: [Int32], classes: Int) {
        self.init(classes: classes)
        for (p, y) in zip(predicted, labels) { add(label: Int(y), predicted: p) }
    }

    public mutating func add(label: Int, predicted: Int, count: Int = 1) {
        guard (0..<classes).contains(label), (0..<classes).contains(predicted) else { return }
        counts[label][predicted] += count
    }

    /// Samples counted.
    public var total: Int { counts.reduce(0) { $0 + $1.reduce(0, +) } }
    /// Samples of each true class (the row sums).
    public var samplesPerClass: [Int] { counts.map { $0.reduce(0, +) } }
    /// Right predictions / samples; 0 for an empty matrix.
    public var accuracy: Double {
        let right = (0..<classes).reduce(0) { $0 + counts[$1][$1] }
        return Double(right) / Double(max(1, total))
    }
    /// Each class's accuracy, counts[c][c] / Σ_p counts[c][p]; nil for a class with no sample.
    public var perClassAccuracy: [Double?] {
        (0..<classes).map { c in
            let n = counts[c].reduce(0, +)
            return n == 0 ? nil : Double(counts[c][c]) / Double(n)
        }
    }

    /// The non-zero cells as figures `<prefix>.<t>.<p>` (counts).
    public func figures(prefix: String) -> [(String, Double)] {
        var out: [(String, Double)] = []
        for t in 0..<classes { for p in 0..<classes where counts[t][p] != 0 { out.append(("\(prefix).\(t).\(p)", Double(counts[t][p]))) } }
        return out
    }

    /// The matrix of figures `<prefix>.<t>.<p>`; nil when there is none of them, or `classes`
    /// is not in 1…``maxClasses``. Cells out of range or not whole non-negative counts are
    /// left out.
    public init?(figures: [String: Double], prefix: String, classes: Int) {
        guard (1...Self.maxClasses).contains(classes) else { return nil }
        self.init(classes: classes)
        let start = prefix + "."
        var any = false
        for (name, value) in figures where name.hasPrefix(start) {
            let cell = name.dropFirst(start.count).split(separator: ".", omittingEmptySubsequences: false)
            guard cell.count == 2, let t = Int(cell[0]), let p = Int(cell[1]), value >= 0, value == value.rounded(),
                  let count = Int(exactly: value) else { continue }
            add(label: t, predicted: p, count: count)
            any = true
        }
        if !any { return nil }
    }

    /// Whether figure `name` is a cell `<model>.confusion.<t>.<p>` (not a curve: ``RunHistory``
    /// leaves cells out).
    public static func isCell(_ name: String) -> Bool { name.contains(".confusion.") }

    enum CodingKeys: String, CodingKey {
        case classes, counts
        case perClassAccuracy = "per_class_accuracy"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        classes = try c.decode(Int.self, forKey: .classes)
        counts = try c.decode([[Int]].self, forKey: .counts)
        guard counts.count == classes, counts.allSatisfy({ $0.count == classes }) else {
            throw DecodingError.dataCorruptedError(forKey: .counts, in: c,
                                                   debugDescription: "a confusion matrix of \(classes) classes needs \(classes) rows of \(classes) counts")
        }
    }

    /// `classes`, `counts` and, for a reader's convenience, `per_class_accuracy` (null for a
    /// class with no sample).
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(classes, forKey: .classes)
        try c.encode(counts, forKey: .counts)
        try c.encode(perClassAccuracy, forKey: .perClassAccuracy)
    }
}
