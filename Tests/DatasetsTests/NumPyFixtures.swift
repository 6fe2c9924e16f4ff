import Datasets
import Foundation
import Testing

/// The directory of the files `Scripts/fixtures-numpy` writes with NumPy.
let numpyFixtures = Bundle.module.resourceURL!.appendingPathComponent("Fixtures")

/// The path of the NumPy fixture `name`.
func numpyFixture(_ name: String) -> String {
    numpyFixtures.appendingPathComponent(name).path
}

// The formulas of Scripts/fixtures-numpy, recomputed here.

/// `images(count, offset)`: uint8 [count, 1, 4, 4], image i pixel k = (i*37 + k*11 + offset) % 256.
func fixtureImages(count: Int, offset: Int) -> [UInt8] {
    (0..<count).flatMap { i in (0..<16).map { k in UInt8((i * 37 + k * 11 + offset) % 256) } }
}

/// `rows(count, scale, sign)`: float32 [count, 5], row i column j = sign * (i*5 + j) / scale.
func fixtureRows(count: Int, scale: Float, sign: Float) -> [Float] {
    (0..<count * 5).map { sign * Float($0) / scale }
}

/// A `.npy` file made by hand (independently of the reader under test): magic, version,
/// little-endian header length (2 bytes for version 1, else 4), the header padded with spaces
/// to a multiple of 64 and ended with a newline, then `data`.
func npyBytes(header: String, data: [UInt8], version: UInt8 = 1, pad: Bool = true) -> [UInt8] {
    var text = Array(header.utf8)
    let preamble = version == 1 ? 10 : 12
    if pad {
        while (preamble + text.count + 1) % 64 != 0 { text.append(0x20) }
        text.append(0x0A)
    }
    var bytes: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, version, 0]
    let length = text.count
    bytes += version == 1 ? [UInt8(length & 0xFF), UInt8(length >> 8)]
        : [UInt8(length & 0xFF), UInt8((length >> 8) & 0xFF), UInt8((length >> 16) & 0xFF), UInt8(length >> 24)]
    return bytes + text + data
}

/// The header dict NumPy writes for `descr` and `shape`.
func npyHeader(_ descr: String, _ shape: String, fortran: Bool = false) -> String {
    "{'descr': '\(descr)', 'fortran_order': \(fortran ? "True" : "False"), 'shape': \(shape), }"
}

/// Little-endian bytes of float32 values.
func float32Bytes(_ values: [Float]) -> [UInt8] {
    values.flatMap { value in withUnsafeBytes(of: value.bitPattern.littleEndian) { Array($0) } }
}

/// Asserts that `body` throws `.numpy` with `problem` for `array` of `path`, and that the
/// message names the file, the array (when there is one) and contains every `mentions`.
func expectNumPyError<T>(
    path: String, array: String, _ problem: NumPyProblem, mentions: [String] = [],
    sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> T
) {
    guard let error = expectDatasetError(sourceLocation: sourceLocation, body) else { return }
    #expect(error == .numpy(path: path, array: array, problem: problem), sourceLocation: sourceLocation)
    let message = error.description
    #expect(message.contains(path), "message does not name the file: \(message)", sourceLocation: sourceLocation)
    if !array.isEmpty {
        #expect(message.contains("'\(array)'"), "message does not name the array: \(message)", sourceLocation: sourceLocation)
    }
    for text in mentions {
        #expect(message.contains(text), "message lacks \"\(text)\": \(message)", sourceLocation: sourceLocation)
    }
}
