/// Per-data-set standardisation of pixel values: `x ↦ (x − mean) / std`.
///
/// Fit it on the training split only and apply the same values to every split:
///
/// ```swift
/// let train = try FashionMNIST.load(split: .train)
/// let norm = Normalization.fit(train)   // mean ≈ 0.2860, std ≈ 0.3530 for Fashion-MNIST
/// let test = norm.apply(to: try FashionMNIST.load(split: .test))
/// ```
public struct Normalization: Sendable, Equatable, Hashable, Codable {
    /// The value subtracted from every pixel.
    public let mean: Float
    /// The value every centred pixel is divided by; positive and finite.
    public let std: Float

    /// Leaves values unchanged (mean 0, std 1).
    public static let identity = Normalization(mean: 0, std: 1)

    /// Creates a normalisation with explicit statistics. `std` must be positive.
    public init(mean: Float, std: Float) {
        precondition(std > 0 && std.isFinite, "Normalization: std must be positive and finite, got \(std)")
        self.mean = mean
        self.std = std
    }

    /// The mean and the population standard deviation of all pixels of `data`
    /// (every sample, every feature), accumulated in `Double`.
    ///
    /// If the pixels are constant (or there are none) the standard deviation is
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

    /// A copy of `data` whose pixels are `(x − mean) / std`; labels and shape unchanged.
    public func apply(to data: LabeledImages) -> LabeledImages {
        let mean = self.mean, std = self.std
        let pixels = [Float](unsafeUninitializedCapacity: data.pixels.count) { out, initialized in
            data.pixels.withUnsafeBufferPointer { source in
                for i in 0..<source.count {
                    out.initializeElement(at: i, to: (source[i] - mean) / std)
                }
            }
            initialized = data.pixels.count
        }
        return LabeledImages(pixels: pixels, labels: data.labels, sampleShape: data.sampleShape,
                             classCount: data.classCount)
    }

    /// Decodes and validates: a `std` that is not positive and finite is a decoding error.
    public init(from decoder: any Decoder) throws {
        enum Keys: String, CodingKey { case mean, std }
        let container = try decoder.container(keyedBy: Keys.self)
        let mean = try container.decode(Float.self, forKey: .mean)
        let std = try container.decode(Float.self, forKey: .std)
        guard std > 0, std.isFinite, mean.isFinite else {
            throw DecodingError.dataCorruptedError(
                forKey: .std, in: container,
                debugDescription: "Normalization needs a finite mean and a positive, finite std; got mean \(mean), std \(std)")
        }
        self.init(mean: mean, std: std)
    }

    /// `(x − mean) / std` for one value.
    public func callAsFunction(_ x: Float) -> Float { (x - mean) / std }
}

extension LabeledImages {
    /// This data set with `normalization` applied to its pixels.
    public func normalized(by normalization: Normalization) -> LabeledImages {
        normalization.apply(to: self)
    }
}
