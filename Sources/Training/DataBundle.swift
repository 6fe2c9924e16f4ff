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

    /// Loads Fashion-MNIST-format IDX files from `directory` (default: the Debian package's).
    /// `trainLimit`/`testLimit` keep only the first N samples (small runs and tests).
    public static func load(directory: String? = nil, validationCount: Int = 5000, seed: UInt64 = 1,
                            trainLimit: Int? = nil, testLimit: Int? = nil,
                            normalization: Normalization? = nil) throws(DatasetError) -> DataBundle {
        var train = try FashionMNIST.load(split: .train, directory: directory)
        var test = try FashionMNIST.load(split: .test, directory: directory)
        if let trainLimit, trainLimit < train.count { train = train.prefix(trainLimit) }
        if let testLimit, testLimit < test.count { test = test.prefix(testLimit) }
        let norm = normalization ?? Normalization.fit(train)
        train = norm.apply(to: train)
        test = norm.apply(to: test)
        var validation: LabeledImages?
        if validationCount > 0 && validationCount < train.count {
            let parts = train.split(validationCount: validationCount, seed: seed)
            train = parts.train
            validation = parts.validation
        }
        return DataBundle(train: train, validation: validation, test: test, normalization: norm)
    }
}
