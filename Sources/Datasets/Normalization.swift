/// Standardisation of sample values, `x ↦ (x − mean[c]) / std[c]`: one mean and one standard
/// deviation for every value (one entry each), or one per channel of `[C, H, W]` samples, or
/// one per feature of `[D]` samples (a run spec's `dataset.mean`/`dataset.std`).
///
/// Fit it on the training split only and apply the same values to every split:
///
/// ```swift
/// let train = try FashionMNIST.load(split: .train)
/// let norm = Normalization.fit(train)   // mean ≈ 0.2860, std ≈ 0.3530 for Fashion-MNIST
/// let test = norm.apply(to: try FashionMNIST.load(split: .test))
/// ```
public struct Normalization: Sendable, Equatable, Hashable, Codable {
    /// The values subtracted: one for all values, or one per channel (or feature).
    public let mean: [Float]
    /// The values the centred values are divided by, each positive and finite; as many as ``mean``.
    public let std: [Float]

    /// Leaves values unchanged (mean 0, std 1).
    public static let identity = Normalization(mean: 0, std: 1)

    /// One mean and one standard deviation for every value. `std` must be positive and finite.
    public init(mean: Float, std: Float) {
        self.init(mean: [mean], std: [std])
    }

    /// Per-channel (or per-feature) statistics: as many means as standard deviations, at least
    /// one, each std positive and finite (checked with preconditions: values from files go
    /// through ``validated(mean:std:)``).
    public init(mean: [Float], std: [Float]) {
        precondition(Normalization.problem(mean: mean, std: std) == nil,
                     "Normalization: \(Normalization.problem(mean: mean, std: std) ?? "")")
        self.mean = mean
        self.std = std
    }

    /// The normalisation of `mean` and `std`, or what is wrong with them.
    public static func validated(mean: [Float], std: [Float]) -> Result<Normalization, NormalizationProblem> {
        if let problem = problem(mean: mean, std: std) { return .failure(NormalizationProblem(message: problem)) }
        return .success(Normalization(mean: mean, std: std))
    }

    /// Why `mean`/`std` cannot form a normalisation (nil if they can).
    static func problem(mean: [Float], std: [Float]) -> String? {
        guard !mean.isEmpty, mean.count == std.count else {
            return "mean and std need the same number of values (one, or one per channel), got \(mean.count) and \(std.count)"
        }
        if let bad = std.first(where: { !($0 > 0 && $0.isFinite) }) { return "every std must be positive and finite, got \(bad)" }
        if let bad = mean.first(where: { !$0.isFinite }) { return "every mean must be finite, got \(bad)" }
        return nil
    }

    /// Whether this normalisation fits samples of `shape`: one statistic, or one per channel
    /// (`shape[0]` of a `[C, H, W]` sample), or one per feature of a `[D]` sample.
    public func fits(sampleShape shape: [Int]) -> Bool {
        mean.count == 1 || (!shape.isEmpty && mean.count == shape[0])
    }

    /// The mean and the population standard deviation of all values of `data`
    /// (every sample, every feature), accumulated in `Double`.
    ///
    /// If the values are constant (or there are none) the standard deviation is
    /// replaced by 1, so that ``apply(to:)`` stays finite.
    public static func fit(_ data: LabeledImages) -> Normalization {
        let n = data.pixels.count
        guard n > 0 else { return .identity }
        // Two passes (mean, then squared deviations) for accuracy.
        var sum = 0.0
        data.pixels.withUnsafeBufferPointer { values in
            for v in values { sum += Double(v) }
        }
        let mean = sum / Double(n)
        var squares = 0.0
        data.pixels.withUnsafeBufferPointer { values in
            for v in values {
                let d = Double(v) - mean
                squares += d * d
            }
        }
        let std = (squares / Double(n)).squareRoot()
        let floatStd = Float(std)
        return Normalization(mean: Float(mean), std: floatStd > 0 && floatStd.isFinite ? floatStd : 1)
    }

    /// A copy of `data` whose values are `(x − mean[c]) / std[c]`, `c` the value's channel
    /// (or feature); labels and shape unchanged. The normalisation must fit the sample shape.
    public func apply(to data: LabeledImages) -> LabeledImages {
        precondition(fits(sampleShape: data.sampleShape),
                     "Normalization: \(mean.count) statistics do not fit samples of shape \(data.sampleShape)")
        // Values of one channel are contiguous runs of `run` values: the plane of a [C, H, W]
        // sample, one value of a [D] sample, every value when there is one statistic.
        let channels = mean.count
        let run = channels == 1 ? max(1, data.features) : data.features / channels
        let means = mean, stds = std
        let pixels = [Float](unsafeUninitializedCapacity: data.pixels.count) { out, initialized in
            data.pixels.withUnsafeBufferPointer { source in
                var i = 0
                while i < source.count {
                    for c in 0..<channels {
                        let m = means[c], s = stds[c]
                        for j in i ..< min(i + run, source.count) { out.initializeElement(at: j, to: (source[j] - m) / s) }
                        i += run
                    }
                }
            }
            initialized = data.pixels.count
        }
        return LabeledImages(pixels: pixels, labels: data.labels, sampleShape: data.sampleShape,
                             classCount: data.classCount)
    }

    /// Decodes and validates: statistics that cannot form a normalisation are a decoding error.
    public init(from decoder: any Decoder) throws {
        enum Keys: String, CodingKey { case mean, std }
        let container = try decoder.container(keyedBy: Keys.self)
        let mean = try container.decode([Float].self, forKey: .mean)
        let std = try container.decode([Float].self, forKey: .std)
        if let problem = Normalization.problem(mean: mean, std: std) {
            throw DecodingError.dataCorruptedError(forKey: .std, in: container, debugDescription: "Normalization: \(problem)")
        }
        self.init(mean: mean, std: std)
    }

    // MARK: - As checkpoint metadata

    /// The statistics as metadata text: `(mean, std)`, each value as Swift prints it (the
    /// shortest text that reads back to the same `Float`), comma-separated.
    public var metadataText: (mean: String, std: String) {
        (mean.map { "\($0)" }.joined(separator: ","), std.map { "\($0)" }.joined(separator: ","))
    }

    /// Reads ``metadataText`` back (nil if it is not a valid normalisation).
    public init?(metadataMean: String, std: String) {
        let m = metadataMean.split(separator: ",").map { Float(String($0)) }
        let s = std.split(separator: ",").map { Float(String($0)) }
        guard m.allSatisfy({ $0 != nil }), s.allSatisfy({ $0 != nil }),
              case .success(let value) = Normalization.validated(mean: m.map { $0! }, std: s.map { $0! }) else { return nil }
        self = value
    }
}

/// Why statistics cannot form a ``Normalization``.
public struct NormalizationProblem: Error, Sendable, Equatable {
    public var message: String
}

extension LabeledImages {
    /// This data set with `normalization` applied to its values.
    public func normalized(by normalization: Normalization) -> LabeledImages {
        normalization.apply(to: self)
    }
}
