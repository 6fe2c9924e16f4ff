import FileSupport
import Foundation
import NN
import Testing

// The header-only reader (SafeTensors+Header.swift) and the native Float16 decoding.

private func scratchDirectory() throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("safetensors-header-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

private func checkpoint() -> SafeTensors {
    SafeTensors(tensors: [
        .init(name: "0.weight", shape: [3, 2], floats: [1, -2, 3.5, 0, 7, -0.25]),
        .init(name: "0.bias", shape: [3], floats: [0.1, 0.2, 0.3]),
        .init(name: "empty", shape: [0, 4], floats: []),
        .init(name: "half", shape: [2], dtype: .f16, bytes: [0x00, 0x3C, 0x00, 0xC0]),
        .init(name: "mask", shape: [5], dtype: .u8, bytes: [0, 1, 2, 254, 255]),
    ], metadata: ["key": "abc123", "complete": "true", "spec": "mlp:4-3-2"])
}

/// The error of `body`, or nil when it succeeded.
private func failure<T>(_ body: () throws(CheckpointError) -> T) -> CheckpointError? {
    do throws(CheckpointError) {
        _ = try body()
        return nil
    } catch {
        return error
    }
}

@Suite("SafeTensors header reader")
struct SafeTensorsHeaderTests {
    @Test("readHeader gives the metadata and the layout decode finds, from the header alone")
    func headerOfAFile() throws {
        let directory = try scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/t.safetensors"
        let file = checkpoint()
        try file.write(to: path)
        let bytes = file.encoded()

        let header = try SafeTensors.readHeader(from: path)
        #expect(header.metadata == file.metadata)
        #expect(header == (try SafeTensors.decodeHeader(bytes, fileSize: bytes.count, source: path)))
        let decoded = try SafeTensors.read(from: path)
        #expect(header.entries.map(\.name) == decoded.tensors.map(\.name))
        #expect(header.entries.map(\.shape) == decoded.tensors.map(\.shape))
        #expect(header.entries.map(\.dtype) == decoded.tensors.map(\.dtype))
        for (entry, tensor) in zip(header.entries, decoded.tensors) {
            let range = (header.dataStart + entry.dataOffsets.lowerBound)..<(header.dataStart + entry.dataOffsets.upperBound)
            #expect(Array(bytes[range]) == tensor.bytes, "\(entry.name)")
        }
        #expect(header.dataStart + (header.entries.last?.dataOffsets.upperBound ?? 0) == bytes.count)

        // Only the first bytes are needed when the file's size is known.
        let prefix = Array(bytes[..<header.dataStart])
        #expect(try SafeTensors.decodeHeader(prefix, fileSize: bytes.count, source: path) == header)
    }

    @Test("readHeader refuses what read(from:) refuses, with the same error")
    func sameVerdictAsTheFullReader() throws {
        let directory = try scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let valid = checkpoint().encoded()
        let dataStart = try SafeTensors.decodeHeader(valid, fileSize: valid.count, source: "x").dataStart
        var cases: [(String, [UInt8])] = [
            ("truncated data", Array(valid.dropLast(3))),
            ("extra data", valid + [1]),
            ("header only", Array(valid[..<dataStart])),
            ("too short", [1, 2, 3]),
            ("header longer than the file", [0xFF, 0xFF, 0, 0, 0, 0, 0, 0] + Array(valid[8...])),
            ("header over the limit", [0, 0, 0, 0x10, 0, 0, 0, 0] + Array(valid[8...])),
            ("not JSON", Array(valid[..<8]) + Array(repeating: UInt8(ascii: "x"), count: valid.count - 8)),
        ]
        var random = SplitMix(state: 99)
        for i in 0..<40 {  // single bytes flipped inside the header
            var bytes = valid
            bytes[8 + Int(random.next() % UInt64(dataStart - 8))] ^= UInt8(truncatingIfNeeded: random.next() | 1)
            cases.append(("mutation \(i)", bytes))
        }
        var refused = 0
        for (name, bytes) in cases {
            let path = directory + "/c.safetensors"
            try AtomicFile.write(bytes, to: path)
            let full = failure { () throws(CheckpointError) in try SafeTensors.read(from: path) }
            let header = failure { () throws(CheckpointError) in try SafeTensors.readHeader(from: path) }
            #expect(full == header, "\(name): read(from:) says \(String(describing: full)), readHeader \(String(describing: header))")
            if full != nil { refused += 1 }
        }
        #expect(refused >= 7)
    }

    @Test("a missing file or a directory is an .io error naming the path")
    func ioErrors() throws {
        let directory = try scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let missing = directory + "/missing.safetensors"
        let error = try #require(failure { () throws(CheckpointError) in try SafeTensors.readHeader(from: missing) })
        guard case .io(let source, let reason) = error else {
            Issue.record("expected .io, got \(error)")
            return
        }
        #expect(source == missing && reason.contains("cannot open"))
        #expect(error.description.hasPrefix(missing + ": "))
        let onDirectory = try #require(failure { () throws(CheckpointError) in try SafeTensors.readHeader(from: directory) })
        #expect(onDirectory.description.contains("is a directory"))
    }
}

@Suite("Float16 decoding")
struct Float16DecodingTests {
    /// IEEE 754 binary16 by its definition: (−1)^s · 2^(e−15) · (1 + m/1024), subnormals
    /// 2^−14 · m/1024, e = 31 infinities and NaN.
    static func reference(_ bits: UInt16) -> Float {
        let sign: Float = bits & 0x8000 == 0 ? 1 : -1
        let exponent = Int(bits >> 10) & 0x1F, mantissa = Float(bits & 0x3FF)
        switch exponent {
        case 0: return sign * (mantissa / 1024) * 0x1p-14
        case 31: return mantissa == 0 ? sign * .infinity : .nan
        default: return sign * (1 + mantissa / 1024) * Float(sign: .plus, exponent: exponent - 15, significand: 1)
        }
    }

    @Test("all 65,536 half-precision bit patterns decode to their exact value")
    func everyBitPattern() throws {
        let patterns = (0...UInt16.max).map { $0 }
        let bytes = patterns.flatMap { [UInt8(truncatingIfNeeded: $0), UInt8(truncatingIfNeeded: $0 >> 8)] }
        let values = try SafeTensors.Tensor(name: "h", shape: [patterns.count], dtype: .f16, bytes: bytes).floats()
        var wrong = 0
        for (bits, value) in zip(patterns, values) {
            let expected = Self.reference(bits)
            let same = expected.isNaN ? value.isNaN : (value == expected && value.sign == expected.sign)
            if !same {
                if wrong == 0 { Issue.record("0x\(String(bits, radix: 16)) decoded to \(value), expected \(expected)") }
                wrong += 1
            }
        }
        #expect(wrong == 0)
        #expect(values.count == 65_536)
    }
}

/// SplitMix64 for the mutations (NN tests do not import Tensor's).
private struct SplitMix {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
