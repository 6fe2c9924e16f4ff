import Tensor
extension LabeledImages {
    /// The samples at `indices`, in that order (repetitions allowed).
    /// Every index must be in `0..<count`.
    public func subset(_ indices: [Int]) -> LabeledImages {
        let rows = gather(indices: indices[...])
        return LabeledImages(pixels: rows.pixels, labels: rows.labels, sampleShape: sampleShape, classCount: classCount)
    }

    /// The first `min(n, count)` samples (`n` must not be negative).
    public func prefix(_ n: Int) -> LabeledImages {
        precondition(n >= 0, "LabeledImages.prefix: n must not be negative, got \(n)")
        let rows = min(n, count)
        return LabeledImages(pixels: Array(pixels[0 ..< rows * features]), labels: Array(labels[0 ..< rows]),
                             sampleShape: sampleShape, classCount: classCount)
    }

    /// Splits off a validation set, deterministically.
    ///
    /// The rule: `perm = Permutation.of(count: count, seed: seed, epoch: Permutation.validationSplitEpoch)`;
    /// the samples `perm[0 ..< v]` (with `v = min(max(validationCount, 0), count)`) form the
    /// validation set and all others the training set; both keep the original sample
    /// order. The same `seed` gives the same split on every node.
    public func split(validationCount: Int, seed: UInt64) -> (train: LabeledImages, validation: LabeledImages) {
        let v = min(max(validationCount, 0), count)
        let perm = Permutation.of(count: count, seed: seed, epoch: Permutation.validationSplitEpoch)
        var isValidation = [Bool](repeating: false, count: count)
        for index in perm[0 ..< v] { isValidation[index] = true }
        var trainIndices: [Int] = [], validationIndices: [Int] = []
        trainIndices.reserveCapacity(count - v)
        validationIndices.reserveCapacity(v)
        for index in 0 ..< count {
            if isValidation[index] { validationIndices.append(index) } else { trainIndices.append(index) }
        }
        return (subset(trainIndices), subset(validationIndices))
    }

    /// Indices of a class-stratified random sample holding about `fraction` of each class
    /// (for example the labelled 5 % of a semi-supervised recipe), in ascending order.
    ///
    /// The rule, per class `c` in `0..<classCount`: let `members` be the indices labelled `c`
    /// in ascending order and `n = members.count`; take `k = round(fraction × n)` (rounding
    /// halves away from zero; `fraction` clamped to `[0, 1]`) samples
    /// `members[p[0]], …, members[p[k − 1]]` where `p = Permutation.of(count: n, seed: seed, epoch: c)`.
    /// Deterministic in `(labels, fraction, seed)`.
    public func stratifiedSample(fraction: Double, seed: UInt64) -> [Int] {
        let f = fraction.isNaN ? 0 : min(max(fraction, 0), 1)
        var members = [[Int]](repeating: [], count: classCount)
        for (index, label) in labels.enumerated() { members[Int(label)].append(index) }
        var chosen: [Int] = []
        for (c, indices) in members.enumerated() {
            let k = min(indices.count, Int((f * Double(indices.count)).rounded()))
            let order = Permutation.of(count: indices.count, seed: seed, epoch: c)
            for position in order[0 ..< k] { chosen.append(indices[position]) }
        }
        chosen.sort()
        return chosen
    }
}

extension LabeledImages {
    /// A bootstrap resample (Efron 1979): `count` indices drawn uniformly **with replacement**
    /// from a `SplitMix64(seed, "bootstrap")` stream. Teachers trained on different bootstrap
    /// samples disagree more, which makes their ensemble (bagging) stronger.
    public func bootstrapIndices(seed: UInt64) -> [Int] {
        var rng = SplitMix64(seed: seed, stream: 0xB007_5742)
        return (0..<count).map { _ in rng.nextInt(below: count) }
    }
}

extension LabeledImages {
    /// The label mask of a semi-supervised run: 1 for the samples of
    /// ``stratifiedSample(fraction:seed:)``, 0 for the others; nil when `fraction` ≥ 1 (every
    /// label seen). `distillery distill --label-fraction` and the cluster's
    /// `training.label-fraction` both use it, so the two pick the same labels.
    public func labelMask(fraction: Double, seed: UInt64) -> [Float]? {
        guard fraction < 1 else { return nil }
        var mask = [Float](repeating: 0, count: count)
        for i in stratifiedSample(fraction: fraction, seed: seed) { mask[i] = 1 }
        return mask
    }
}
