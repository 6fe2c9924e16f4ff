/// A labelled image data set held in memory as `Float` pixels and `Int32` labels.
///
/// Sample `i` occupies `pixels[i * features ..< (i + 1) * features]` (row-major,
/// channels × height × width) and has label `labels[i]` in `0..<classCount`.
/// Values are immutable; transformations (normalisation, subsets) return new values.
///
/// ```swift
/// let test = try FashionMNIST.load(split: .test)
/// test.count         // 10000
/// test.sampleShape   // [1, 28, 28]
/// test.features      // 784
/// ```
public struct LabeledImages: Sendable, Equatable {
    /// Per-sample shape: `[channels, height, width]`, e.g. `[1, 28, 28]`.
    public let sampleShape: [Int]
    /// Number of values per sample: the product of ``sampleShape``.
    public let features: Int
    /// Number of classes; every label is in `0..<classCount`.
    public let classCount: Int
    /// `count × features` values, row-major, one row per sample.
    public let pixels: [Float]
    /// One label per sample.
    public let labels: [Int32]

    /// Number of samples.
    public var count: Int { labels.count }

    /// Creates a data set.
    ///
    /// The arguments must be consistent — `pixels.count == labels.count × product(sampleShape)`,
    /// non-negative shape, every label in `0..<classCount` — which is checked with
    /// preconditions: this initialiser is for values computed by code. Data from files
    /// goes through ``loadIDX(images:labels:classCount:)``, which validates and throws.
    public init(pixels: [Float], labels: [Int32], sampleShape: [Int], classCount: Int) {
        let features = sampleShape.reduce(1, *)
        precondition(sampleShape.allSatisfy { $0 >= 0 }, "LabeledImages: negative sample shape \(sampleShape)")
        precondition(classCount > 0, "LabeledImages: classCount must be positive, got \(classCount)")
        precondition(pixels.count == labels.count * features,
                     "LabeledImages: \(pixels.count) pixels for \(labels.count) samples of \(features) features")
        precondition(labels.allSatisfy { $0 >= 0 && Int($0) < classCount },
                     "LabeledImages: label outside 0..<\(classCount)")
        self.sampleShape = sampleShape
        self.features = features
        self.classCount = classCount
        self.pixels = pixels
        self.labels = labels
    }

    /// The pixels of sample `index` (a view into ``pixels``).
    public func sample(_ index: Int) -> ArraySlice<Float> {
        pixels[index * features ..< (index + 1) * features]
    }

    /// Number of samples of each class: element `c` counts the samples labelled `c`.
    public func classCounts() -> [Int] {
        var counts = [Int](repeating: 0, count: classCount)
        for label in labels { counts[Int(label)] += 1 }
        return counts
    }
}
