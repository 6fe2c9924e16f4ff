import Foundation

/// Fashion-MNIST (Xiao, Rasul & Vollgraf, 2017): 28×28 grey-scale images of clothing in
/// 10 classes, 60 000 for training and 10 000 for testing, in IDX format.
///
/// The files are looked up in, by precedence: the `directory:` argument, the environment
/// variable `DISTILLERY_DATA_DIR`, and ``defaultDirectory`` (where the Debian package
/// `dataset-fashion-mnist` and `Scripts/setup` put them). Each file may be gzip-compressed
/// (`train-images-idx3-ubyte.gz`) or raw (`train-images-idx3-ubyte`); `.gz` wins if both exist.
///
/// ```swift
/// let train = try FashionMNIST.load(split: .train)   // 60000 × [1, 28, 28], pixels in [0, 1]
/// FashionMNIST.classNames[Int(train.labels[0])]      // "Ankle boot"
/// ```
public enum FashionMNIST {
    /// The two published splits.
    public enum Split: String, Sendable, CaseIterable, Codable {
        /// 60 000 training images.
        case train
        /// 10 000 test images.
        case test

        /// The file-name prefix of the split: `train` or `t10k`.
        public var filePrefix: String {
            switch self {
            case .train: return "train"
            case .test: return "t10k"
            }
        }

        /// The number of samples in the published split.
        public var expectedCount: Int {
            switch self {
            case .train: return 60_000
            case .test: return 10_000
            }
        }
    }

    /// Where the data set is installed by default.
    public static let defaultDirectory = "/usr/share/datasets/fashion-mnist"
    /// The environment variable that overrides ``defaultDirectory``.
    public static let environmentVariable = "DISTILLERY_DATA_DIR"
    /// The number of classes.
    public static let classCount = 10
    /// The shape of one sample: `[channels, height, width]`.
    public static let sampleShape = [1, 28, 28]
    /// The class names, indexed by label.
    public static let classNames = [
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
        "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    ]

    /// The directory to read from: `directory` if given, else `$DISTILLERY_DATA_DIR` if set
    /// and non-empty, else ``defaultDirectory``.
    public static func resolvedDirectory(
        _ directory: String? = nil,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> String {
        if let directory, !directory.isEmpty { return directory }
        if let fromEnvironment = environment[environmentVariable], !fromEnvironment.isEmpty { return fromEnvironment }
        return defaultDirectory
    }

    /// The image and label file paths of `split` in `directory` (resolved as in
    /// ``resolvedDirectory(_:environment:)``): the `.gz` file if it exists, else the raw
    /// file if that exists, else the `.gz` path (so a missing-file error names it).
    public static func files(split: Split, directory: String? = nil) -> (images: String, labels: String) {
        let base = URL(fileURLWithPath: resolvedDirectory(directory), isDirectory: true)
        func pick(_ stem: String) -> String {
            let gz = base.appendingPathComponent(stem + ".gz").path
            let raw = base.appendingPathComponent(stem).path
            if FileManager.default.fileExists(atPath: gz) { return gz }
            if FileManager.default.fileExists(atPath: raw) { return raw }
            return gz
        }
        return (pick("\(split.filePrefix)-images-idx3-ubyte"), pick("\(split.filePrefix)-labels-idx1-ubyte"))
    }

    /// Loads `split` with pixels scaled to `[0, 1]` (see ``LabeledImages/loadIDX(images:labels:classCount:)``).
    /// - Throws: ``DatasetError``; a missing file says how to install the data.
    public static func load(split: Split, directory: String? = nil) throws(DatasetError) -> LabeledImages {
        let paths = files(split: split, directory: directory)
        return try LabeledImages.loadIDX(images: paths.images, labels: paths.labels, classCount: classCount)
    }
}
