import Datasets
import Foundation
import Testing

/// Whether both files of `split` are installed where ``FashionMNIST`` looks by default.
private func installed(_ split: FashionMNIST.Split) -> Bool {
    let files = FashionMNIST.files(split: split)
    return FileManager.default.fileExists(atPath: files.images) && FileManager.default.fileExists(atPath: files.labels)
}

private let notInstalled = "Fashion-MNIST is not installed in \(FashionMNIST.resolvedDirectory()); "
    + "run Scripts/setup or install the Debian package dataset-fashion-mnist"

@Suite("FashionMNIST")
struct FashionMNISTTests {
    @Test("directory precedence: argument, then DISTILLERY_DATA_DIR, then the default")
    func directoryResolution() {
        let env = ["DISTILLERY_DATA_DIR": "/from/env"]
        #expect(FashionMNIST.resolvedDirectory("/explicit", environment: env) == "/explicit")
        #expect(FashionMNIST.resolvedDirectory(nil, environment: env) == "/from/env")
        #expect(FashionMNIST.resolvedDirectory(nil, environment: [:]) == "/usr/share/datasets/fashion-mnist")
        #expect(FashionMNIST.resolvedDirectory(nil, environment: ["DISTILLERY_DATA_DIR": ""])
            == "/usr/share/datasets/fashion-mnist")
    }

    @Test("class names in label order")
    func classNames() {
        #expect(FashionMNIST.classNames.count == FashionMNIST.classCount)
        #expect(FashionMNIST.classNames.first == "T-shirt/top")
        #expect(FashionMNIST.classNames[5] == "Sandal")
        #expect(FashionMNIST.classNames.last == "Ankle boot")
    }

    @Test("loads raw files from a directory and prefers .gz when both exist")
    func rawAndGzipFiles() throws {
        let dir = try TemporaryDirectory()
        let (pixels, labels) = syntheticImages(count: 6, height: 28, width: 28)
        try writeRaw(idxBytes(dims: [6, 28, 28], data: pixels), to: dir.path("t10k-images-idx3-ubyte"))
        try writeRaw(idxBytes(dims: [6], data: labels), to: dir.path("t10k-labels-idx1-ubyte"))
        let raw = try FashionMNIST.load(split: .test, directory: dir.url.path)
        #expect(raw.count == 6)
        #expect(raw.sampleShape == [1, 28, 28])
        #expect(FashionMNIST.files(split: .test, directory: dir.url.path).images.hasSuffix("t10k-images-idx3-ubyte"))

        try writeGzip(idxBytes(dims: [2, 28, 28], data: Array(pixels.prefix(2 * 784))), to: dir.path("t10k-images-idx3-ubyte.gz"))
        try writeGzip(idxBytes(dims: [2], data: Array(labels.prefix(2))), to: dir.path("t10k-labels-idx1-ubyte.gz"))
        let gz = try FashionMNIST.load(split: .test, directory: dir.url.path)
        #expect(gz.count == 2)
        #expect(gz == raw.prefix(2))
    }

    @Test("a missing split names the .gz path and how to install the data")
    func missingSplit() throws {
        let dir = try TemporaryDirectory()
        let error = try #require(expectDatasetError { try FashionMNIST.load(split: .train, directory: dir.url.path) })
        let expected = dir.path("train-images-idx3-ubyte.gz")
        #expect(error == .missingFile(path: expected))
        #expect(error.description.contains(expected))
        #expect(error.description.contains("Scripts/setup"))
    }

    @Test("the real test split: 10000 images of [1, 28, 28], 1000 per class",
          .enabled(if: installed(.test), Comment(rawValue: notInstalled)))
    func realTestSplit() throws {
        let test = try FashionMNIST.load(split: .test)
        #expect(test.count == 10_000)
        #expect(test.sampleShape == [1, 28, 28])
        #expect(test.features == 784)
        #expect(test.pixels.count == 10_000 * 784)
        #expect(test.labels.allSatisfy { (0..<10).contains($0) })
        #expect(test.classCounts() == Array(repeating: 1000, count: 10))
        #expect(test.pixels.min() == 0 && test.pixels.max() == 1)
    }

    @Test("fit on the real train split gives the well-known mean 0.2860 and std 0.3530",
          .enabled(if: installed(.train), Comment(rawValue: notInstalled)))
    func realTrainNormalization() throws {
        let train = try FashionMNIST.load(split: .train)
        #expect(train.count == 60_000)
        let norm = Normalization.fit(train)
        #expect(abs(norm.mean[0] - 0.2860) < 5e-4)
        #expect(abs(norm.std[0] - 0.3530) < 5e-4)
    }
}
