import CZlib
import Datasets
import Foundation
import Testing

/// A fresh directory under the system temporary directory, removed when released.
final class TemporaryDirectory: Sendable {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory
            .appendingPathComponent("DatasetsTests-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(at: url)
    }

    /// The path of `name` inside the directory.
    func path(_ name: String) -> String {
        url.appendingPathComponent(name).path
    }
}

/// Encodes an unsigned-byte IDX file by hand (independently of the reader under test).
func idxBytes(dims: [Int], data: [UInt8], typeByte: UInt8 = 0x08) -> [UInt8] {
    var bytes: [UInt8] = [0, 0, typeByte, UInt8(dims.count)]
    for d in dims {
        let v = UInt32(d)
        bytes += [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)]
    }
    return bytes + data
}

/// Writes `bytes` to `path` uncompressed.
func writeRaw(_ bytes: [UInt8], to path: String) throws {
    try Data(bytes).write(to: URL(fileURLWithPath: path))
}

/// Writes `bytes` to `path` gzip-compressed with zlib's `gzopen`/`gzwrite`.
func writeGzip(_ bytes: [UInt8], to path: String) throws {
    struct GzipWriteFailed: Error {}
    guard let file = gzopen(path, "wb") else { throw GzipWriteFailed() }
    var written: Int32 = 0
    if !bytes.isEmpty {
        written = bytes.withUnsafeBytes { gzwrite(file, $0.baseAddress, UInt32($0.count)) }
    }
    guard gzclose(file) == Z_OK, Int(written) == bytes.count else { throw GzipWriteFailed() }
}

/// The bytes of the file at `path`.
func readFile(_ path: String) throws -> [UInt8] {
    [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
}

/// Runs `body`, which should throw; records an issue and returns `nil` if it does not.
func expectDatasetError<T>(
    sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () throws -> T
) -> DatasetError? {
    do {
        _ = try body()
        Issue.record("expected a DatasetError, but the call succeeded", sourceLocation: sourceLocation)
        return nil
    } catch let error as DatasetError {
        return error
    } catch {
        Issue.record("expected a DatasetError, got \(type(of: error)): \(error)", sourceLocation: sourceLocation)
        return nil
    }
}

/// A small synthetic image set: `count` images of `height × width` whose pixel bytes are
/// `(i * 7 + k) % 256` for image `i`, pixel `k`, with labels `i % classes`.
func syntheticImages(count: Int, height: Int, width: Int, classes: Int = 10) -> (images: [UInt8], labels: [UInt8]) {
    let features = height * width
    var images = [UInt8](repeating: 0, count: count * features)
    for i in 0..<count {
        for k in 0..<features { images[i * features + k] = UInt8((i * 7 + k) % 256) }
    }
    let labels = (0..<count).map { UInt8($0 % classes) }
    return (images, labels)
}

/// An in-memory data set whose pixel `k` of sample `i` is `Float(i * 1000 + k)`.
func indexedImages(count: Int, features: Int = 6, labels: [Int32]? = nil, classCount: Int = 10) -> LabeledImages {
    var pixels = [Float](repeating: 0, count: count * features)
    for i in 0..<count {
        for k in 0..<features { pixels[i * features + k] = Float(i * 1000 + k) }
    }
    return LabeledImages(
        pixels: pixels,
        labels: labels ?? (0..<count).map { Int32($0 % classCount) },
        sampleShape: [1, 1, features],
        classCount: classCount
    )
}
