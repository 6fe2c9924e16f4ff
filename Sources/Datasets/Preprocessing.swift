/// What every node does to a sample's stored values before any model — teacher or student —
/// sees them, the same on every node: `x ↦ (x · scale − mean[c]) / std[c]`, with `c` the
/// value's channel (or feature), or one mean and std for all values.
///
/// The scale is a `Double` and values become `Float(Double(x) · scale)`: with `scale` = 1/255
/// that is exactly `Float(x) / 255` for every byte, as PyTorch's `ToTensor()` computes (a test
/// checks all 256), which a `Float` product would miss by an ulp for some bytes.
///
/// A run spec's `dataset.scale`, `dataset.mean` and `dataset.std` (docs/ARCHITECTURE.md "Data
/// sets"). The IDX format's default is today's Fashion-MNIST normalisation: bytes scaled to
/// [0, 1], then one mean and std fitted on the training images (``Statistics/fit``); an npz file
/// gets nothing (scale 1, mean 0, std 1) unless the spec asks. ONNX teachers expect whatever
/// their training used: `transforms.Normalize((0.2860,), (0.3530,))` after `ToTensor()` is
/// `scale: 1/255, mean: 0.2860, std: 0.3530`.
///
/// Shards carry it (``DatasetShard/Header/preprocessing``), so the bytes a worker receives say
/// how they are to be read, and the shard's hash covers it.
public struct Preprocessing: Sendable, Equatable, Hashable {
    /// Where the mean and std come from.
    public enum Statistics: Sendable, Equatable, Hashable {
        /// One mean and one std of every scaled value of the training split (after `train-limit`,
        /// before the validation split), computed by each node from the same shard.
        case fit
        /// Given values: one each, or one per channel of `[C, H, W]` samples or per feature of `[D]` samples.
        case given(Normalization)
    }

    /// The factor every stored value is multiplied by first (e.g. 1/255 for bytes).
    public var scale: Double
    /// The standardisation applied after scaling.
    public var statistics: Statistics

    public init(scale: Double, statistics: Statistics) {
        self.scale = scale
        self.statistics = statistics
    }

    /// The IDX format's default: `scale: 1/255`, mean and std fitted on the training images.
    public static let idxDefault = Preprocessing(scale: 1.0 / 255.0, statistics: .fit)
    /// No pre-processing (an npz file's default).
    public static let none = Preprocessing(scale: 1, statistics: .given(.identity))

    /// The normalisation to apply to every split, given the (scaled) training split.
    public func normalization(fittingOn train: LabeledImages) -> Normalization {
        switch statistics {
        case .fit: return Normalization.fit(train)
        case .given(let normalization): return normalization
        }
    }

    /// What is wrong with this pre-processing for samples of `sampleShape` (nil if nothing):
    /// a scale that is not positive and finite, or statistics of another channel count.
    public func problem(sampleShape: [Int]) -> String? {
        guard scale > 0, scale.isFinite else { return "scale must be a positive, finite number, got \(scale)" }
        if case .given(let n) = statistics, !n.fits(sampleShape: sampleShape) {
            let what = sampleShape.count == 1 ? "features" : "channels"
            let count = sampleShape.first ?? 0
            return "\(n.mean.count) mean/std values do not fit samples of shape \(sampleShape): give one value, "
                + "or one per \(what) (\(count))"
        }
        return nil
    }
}
