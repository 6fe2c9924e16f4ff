import Tensor
import Datasets
import Foundation
import Testing

@Suite("LabeledImages")
struct LabeledImagesTests {
    @Test("loadIDX scales bytes by 1/255, keeps row-major order and [1, H, W] shape", arguments: [false, true])
    func loadIDX(gzip: Bool) throws {
        let dir = try TemporaryDirectory()
        let images = dir.path(gzip ? "i.gz" : "i"), labels = dir.path(gzip ? "l.gz" : "l")
        let (pixels, labelBytes) = syntheticImages(count: 4, height: 2, width: 3)
        let write = gzip ? writeGzip : writeRaw
        try write(idxBytes(dims: [4, 2, 3], data: pixels), images)
        try write(idxBytes(dims: [4], data: labelBytes), labels)

        let data = try LabeledImages.loadIDX(images: images, labels: labels)
        #expect(data.count == 4)
        #expect(data.sampleShape == [1, 2, 3])
        #expect(data.features == 6)
        #expect(data.classCount == 10)
        #expect(data.labels == [0, 1, 2, 3])
        #expect(data.pixels.count == 24)
        for (k, byte) in pixels.enumerated() {
            #expect(data.pixels[k] == Float(byte) / 255)
        }
        #expect(Array(data.sample(2)) == pixels[12..<18].map { Float($0) / 255 })
    }

    @Test("a scale of 1/255 (a Double) gives exactly Float(byte) / 255 for all 256 bytes, as PyTorch's ToTensor")
    func byteScaleIsExactDivision() {
        let scaled = LabeledImages.byteTable(scale: Preprocessing.idxDefault.scale)
        for b in 0..<256 { #expect(scaled[b].bitPattern == (Float(b) / 255).bitPattern, "byte \(b)") }
    }

    @Test("0 maps to 0, 255 to exactly 1, 51 to 0.2")
    func scalingEndpoints() throws {
        let dir = try TemporaryDirectory()
        let images = dir.path("i"), labels = dir.path("l")
        try writeRaw(idxBytes(dims: [1, 1, 3], data: [0, 255, 51]), to: images)
        try writeRaw(idxBytes(dims: [1], data: [7]), to: labels)
        let data = try LabeledImages.loadIDX(images: images, labels: labels)
        #expect(data.pixels == [0, 1, Float(0.2)])
        #expect(data.labels == [7])
    }

    @Test("subset picks rows in the given order; prefix clamps")
    func subsetAndPrefix() {
        let data = indexedImages(count: 10, features: 4)
        let picked = data.subset([7, 2, 2, 9])
        #expect(picked.count == 4)
        #expect(picked.labels == [7, 2, 2, 9])
        #expect(Array(picked.sample(0)) == [7000, 7001, 7002, 7003])
        #expect(Array(picked.sample(3)) == [9000, 9001, 9002, 9003])
        #expect(picked.sampleShape == data.sampleShape)

        let first = data.prefix(3)
        #expect(first.count == 3)
        #expect(first.pixels == Array(data.pixels[0..<12]))
        #expect(data.prefix(100) == data)
        #expect(data.prefix(0).count == 0)
        #expect(data.subset([]).count == 0)
    }

    @Test("split: sizes, disjoint, covering, original order, deterministic in the seed")
    func split() {
        let data = indexedImages(count: 100)
        let (train, validation) = data.split(validationCount: 30, seed: 5)
        #expect(train.count == 70)
        #expect(validation.count == 30)

        // Recover sample ids from the pixel encoding (pixel 0 of sample i is i·1000).
        let trainIDs = (0..<train.count).map { Int(train.sample($0).first! / 1000) }
        let validationIDs = (0..<validation.count).map { Int(validation.sample($0).first! / 1000) }
        #expect(Set(trainIDs).isDisjoint(with: validationIDs))
        #expect(Set(trainIDs).union(validationIDs) == Set(0..<100))
        #expect(trainIDs == trainIDs.sorted())
        #expect(validationIDs == validationIDs.sorted())
        #expect(validationIDs != Array(0..<30))  // actually shuffled, not a prefix
        #expect(train.labels == trainIDs.map { Int32($0 % 10) })

        // The rule as documented.
        let perm = Permutation.of(count: 100, seed: 5, epoch: Permutation.validationSplitEpoch)
        #expect(validationIDs == perm[0..<30].sorted())

        let again = data.split(validationCount: 30, seed: 5)
        #expect(again.train == train && again.validation == validation)
        #expect(data.split(validationCount: 30, seed: 6).validation != validation)

        #expect(data.split(validationCount: 0, seed: 1).train == data)
        #expect(data.split(validationCount: 500, seed: 1).validation.count == 100)
    }

    @Test("stratifiedSample keeps each class's share and is reproducible")
    func stratifiedSample() {
        // Class c has 40·(c + 1) samples, interleaved.
        var labels: [Int32] = []
        for c in 0..<10 { labels += Array(repeating: Int32(c), count: 40 * (c + 1)) }
        var order = SplitMix64(seed: 3)
        labels.shuffle(using: &order)
        let data = indexedImages(count: labels.count, features: 1, labels: labels)

        let sample = data.stratifiedSample(fraction: 0.05, seed: 11)
        #expect(sample == sample.sorted())
        #expect(Set(sample).count == sample.count)
        var perClass = [Int](repeating: 0, count: 10)
        for index in sample { perClass[Int(labels[index])] += 1 }
        // round(0.05 · 40(c+1)) = 2(c+1)
        #expect(perClass == (0..<10).map { 2 * ($0 + 1) })

        #expect(data.stratifiedSample(fraction: 0.05, seed: 11) == sample)
        #expect(data.stratifiedSample(fraction: 0.05, seed: 12) != sample)
        #expect(data.stratifiedSample(fraction: 0, seed: 1).isEmpty)
        #expect(data.stratifiedSample(fraction: 1, seed: 1) == Array(0..<data.count))
        #expect(data.stratifiedSample(fraction: 0.5, seed: 1).count == data.count / 2)
    }

    @Test("classCounts counts each label")
    func classCounts() {
        let data = indexedImages(count: 25)
        #expect(data.classCounts() == [3, 3, 3, 3, 3, 2, 2, 2, 2, 2])
    }
}

@Suite("Normalization")
struct NormalizationTests {
    @Test("fit computes mean and population std over all pixels")
    func fit() {
        let data = LabeledImages(pixels: [0, 1, 2, 3, 4, 5], labels: [0, 1, 0], sampleShape: [1, 1, 2], classCount: 2)
        let norm = Normalization.fit(data)
        #expect(norm.mean.count == 1 && norm.std.count == 1)
        #expect(abs(norm.mean[0] - 2.5) < 1e-6)
        #expect(abs(norm.std[0] - Float((35.0 / 12.0).squareRoot())) < 1e-6)
    }

    @Test("applying the fitted normalisation gives mean 0, std 1, same labels and shape")
    func apply() {
        var rng = SplitMix64(seed: 1)
        let pixels = (0..<3000).map { _ in rng.nextFloat() * 0.5 + 0.1 }
        let data = LabeledImages(pixels: pixels, labels: Array(repeating: 3, count: 1000), sampleShape: [3, 1, 1], classCount: 10)
        let norm = Normalization.fit(data)
        let normalized = norm.apply(to: data)
        #expect(normalized.labels == data.labels)
        #expect(normalized.sampleShape == data.sampleShape)
        #expect(normalized.pixels[17] == (data.pixels[17] - norm.mean[0]) / norm.std[0])
        let refit = Normalization.fit(normalized)
        #expect(abs(refit.mean[0]) < 1e-5)
        #expect(abs(refit.std[0] - 1) < 1e-5)
        #expect(data.normalized(by: norm) == normalized)
    }

    @Test("Codable round-trips and rejects a non-positive std")
    func codable() throws {
        let norm = Normalization(mean: 0.25, std: 0.5)
        let data = try JSONEncoder().encode(norm)
        #expect(try JSONDecoder().decode(Normalization.self, from: data) == norm)
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(Normalization.self, from: Data(#"{"mean": [0.1], "std": [0]}"#.utf8))
        }
        #expect(throws: DecodingError.self) {  // two means, one std
            try JSONDecoder().decode(Normalization.self, from: Data(#"{"mean": [0.1, 0.2], "std": [1]}"#.utf8))
        }
    }

    @Test("per-channel statistics apply to each channel's plane; per-feature ones to each feature")
    func perChannel() {
        // Two samples of [2 channels, 1, 2]: channel 0 is values 0–1 of a sample, channel 1 values 2–3.
        let data = LabeledImages(pixels: [1, 2, 3, 4, 5, 6, 7, 8], labels: [0, 1], sampleShape: [2, 1, 2], classCount: 2)
        let norm = Normalization(mean: [1, 3], std: [2, 4])
        #expect(norm.fits(sampleShape: [2, 1, 2]) && !norm.fits(sampleShape: [3, 1, 2]))
        #expect(norm.apply(to: data).pixels == [0, 0.5, 0, 0.25, 2, 2.5, 1, 1.25])
        // Rows of 2 features: one statistic per feature.
        let rows = LabeledImages(pixels: [1, 10, 3, 30], labels: [0, 1], sampleShape: [2], classCount: 2)
        #expect(Normalization(mean: [1, 10], std: [1, 10]).apply(to: rows).pixels == [0, 0, 2, 2])
        #expect(Normalization.validated(mean: [0, 1], std: [1]).isFailure)
        #expect(Normalization.validated(mean: [0], std: [-1]).isFailure)
    }

    @Test("checkpoint metadata text reads back to the same statistics")
    func metadataText() {
        let norm = Normalization(mean: [0.2860, 0.1], std: [0.3530, 2])
        let text = norm.metadataText
        #expect(text.mean == "0.286,0.1")
        #expect(Normalization(metadataMean: text.mean, std: text.std) == norm)
        #expect(Normalization(metadataMean: "0.1", std: "0") == nil)
        #expect(Normalization(metadataMean: "x", std: "1") == nil)
    }

    @Test("constant data keeps a finite std of 1")
    func constant() {
        let data = LabeledImages(pixels: [0.5, 0.5, 0.5], labels: [0, 0, 0], sampleShape: [1], classCount: 1)
        let norm = Normalization.fit(data)
        #expect(norm.mean == [0.5])
        #expect(norm.std == [1])
        #expect(norm.apply(to: data).pixels == [0, 0, 0])
    }
}

@Suite struct BootstrapTests {
    @Test func bootstrapDrawsWithReplacementReproducibly() {
        let data = LabeledImages(pixels: [Float](repeating: 0, count: 1000), labels: [Int32](repeating: 0, count: 1000), sampleShape: [1], classCount: 10)
        let a = data.bootstrapIndices(seed: 4), b = data.bootstrapIndices(seed: 4), c = data.bootstrapIndices(seed: 5)
        #expect(a == b)
        #expect(a != c)
        #expect(a.count == 1000 && a.allSatisfy { (0..<1000).contains($0) })
        // With replacement: about 1 − 1/e ≈ 63% distinct.
        let distinct = Set(a).count
        #expect(distinct > 580 && distinct < 680, "\(distinct) distinct")
    }
}

extension Result {
    var isFailure: Bool { if case .failure = self { return true } else { return false } }
}
