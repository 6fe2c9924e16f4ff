import Datasets

/// The three splits a run uses, normalised with statistics of the training images.
///
/// The official train split is divided into train and validation by a seeded permutation;
/// the official test split is only used for final figures.
public struct DataBundle: Sendable {
    public var train: LabeledImages
    public var validation: LabeledImages?
    public var test: LabeledImages
    public var normalization: Normalization
    /// The factor the stored values were multiplied by before the normalisation (1/255 for
    /// IDX bytes): with ``normalization`` what a model trained on this data expects.
    public var scale: Double = 1.0 / 255.0

    /// Loads Fashion-MNIST-format IDX files from `directory` (default: the Debian package's).
    /// `trainLimit`/`testLimit` keep only the first N samples (small runs and tests).
    public static func load(directory: String? = nil, validationCount: Int = 5000, seed: UInt64 = 1,
                            trainLimit: Int? = nil, testLimit: Int? = nil,
                            normalization: Normalization? = nil) throws(DatasetError) -> DataBundle {
        var train = try FashionMNIST.load(split: .train, directory: directory)
        var test = try FashionMNIST.load(split: .test, directory: directory)
        if let trainLimit, trainLimit < train.count { train = train.prefix(trainLimit) }
        if let testLimit, testLimit < test.count { test = test.prefix(testLimit) }
        return split(train: train, test: test, validationCount: validationCount, seed: seed, normalization: normalization)
    }

    /// The bundle of already loaded splits (e.g. a dataset shard a worker received): the
    /// same normalisation and seeded validation split as `load`, so a run on a shard is
    /// bit-identical to a run on the files.
    public static func split(train: LabeledImages, test: LabeledImages, validationCount: Int = 5000, seed: UInt64 = 1,
                             normalization: Normalization? = nil, scale: Double = 1.0 / 255.0) -> DataBundle {
        var train = train, test = test
        let norm = normalization ?? Normalization.fit(train)
        train = norm.apply(to: train)
        test = norm.apply(to: test)
        var validation: LabeledImages?
        if validationCount > 0 && validationCount < train.count {
            let parts = train.split(validationCount: validationCount, seed: seed)
            train = parts.train
            validation = parts.validation
        }
        return DataBundle(train: train, validation: validation, test: test, normalization: norm, scale: scale)
    }
}
