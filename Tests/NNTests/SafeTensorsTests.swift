import FileSupport
import Foundation
import NN
import Testing

// Tests of the safetensors checkpoint codec (Sources/NN/Checkpoint), through the public API.

private let source = "test.safetensors"

/// A file from a header string (not padded) and a data buffer.
private func file(_ header: String, data: [UInt8] = []) -> [UInt8] {
    let headerBytes = Array(header.utf8)
    return littleEndianBytes(UInt64(headerBytes.count)) + headerBytes + data
}

private func littleEndianBytes(_ value: UInt64) -> [UInt8] {
    (0..<8).map { UInt8(truncatingIfNeeded: value >> (8 * UInt64($0))) }
}

private func decodeError(_ bytes: [UInt8]) -> CheckpointError? {
    do throws(CheckpointError) {
        _ = try SafeTensors.decode(bytes, source: source)
        return nil
    } catch {
        return error
    }
}

private func decoded(_ bytes: [UInt8]) throws -> SafeTensors {
    try SafeTensors.decode(bytes, source: source)
}

private func floatBytes(_ values: [Float]) -> [UInt8] {
    values.flatMap { value in (0..<4).map { UInt8(truncatingIfNeeded: value.bitPattern >> (8 * UInt32($0))) } }
}

/// A fresh empty directory, removed by the caller.
private func temporaryDirectory() throws -> String {
    let path = FileManager.default.temporaryDirectory
        .appendingPathComponent("safetensors-tests-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// Deterministic generator for the fuzz test (SplitMix64).
private struct FuzzRandom: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

private func sample() -> SafeTensors {
    var tensors: [SafeTensors.Tensor] = [
        .init(name: "layer0.weight", shape: [3, 2], floats: [1, -2, 3.5, 0, .infinity, -0.25]),
        .init(name: "layer0.bias", shape: [3], floats: [0.1, 0.2, 0.3]),
        .init(name: "scalar", shape: [], floats: [42]),
        .init(name: "empty", shape: [0, 4], floats: []),
        .init(name: "steps", shape: [2], dtype: .i64, bytes: littleEndianBytes(7) + littleEndianBytes(UInt64(bitPattern: -1))),
        .init(name: "mask", shape: [5], dtype: .u8, bytes: [0, 1, 2, 254, 255]),
    ]
    tensors.append(.init(name: "half", shape: [2], dtype: .f16, bytes: [0x00, 0x3C, 0x00, 0xC0]))
    return SafeTensors(tensors: tensors, metadata: [
        "format": "pt",
        "spec": "{\"layers\": [\"linear\"]}\nline two\ttab",
        "unicode é ✓ 🚀": "\u{0001}control",
    ])
}

@Suite("SafeTensors codec")
struct SafeTensorsTests {

    // MARK: Round trips and format

    @Test func roundTripThroughFile() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/model.safetensors"
        let original = sample()
        try original.write(to: path)
        let loaded = try SafeTensors.read(from: path)
        #expect(loaded == original)
        #expect(loaded.tensors.map(\.name) == original.tensors.map(\.name))
        #expect(loaded.metadata == original.metadata)
        #expect(try loaded[name: "layer0.weight"]?.floats() == [1, -2, 3.5, 0, .infinity, -0.25])
        #expect(try loaded[name: "scalar"]?.floats() == [42])
        #expect(try loaded[name: "empty"]?.floats() == [])
        #expect(try loaded[name: "steps"]?.floats() == [7, -1])
        #expect(try loaded[name: "mask"]?.floats() == [0, 1, 2, 254, 255])
        #expect(try loaded[name: "half"]?.floats() == [1, -2])
        #expect(loaded[name: "absent"] == nil)
    }

    @Test func emptyFileRoundTrips() throws {
        let bytes = SafeTensors().encoded()
        #expect(bytes == littleEndianBytes(8) + Array("{}      ".utf8))
        #expect(try decoded(bytes) == SafeTensors())
    }

    @Test func headerIsEightAlignedAndSpacePadded() throws {
        for length in 1...24 {
            let name = String(repeating: "n", count: length)
            let checkpoint = SafeTensors(tensors: [.init(name: name, shape: [1], floats: [1])],
                                         metadata: length.isMultiple(of: 2) ? ["k": name] : [:])
            let bytes = checkpoint.encoded()
            let headerLength = Int(bytes[0..<8].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
            #expect(headerLength % 8 == 0)
            #expect(bytes.count == 8 + headerLength + 4)
            let header = Array(bytes[8..<(8 + headerLength)])
            let end = try #require(header.lastIndex(of: UInt8(ascii: "}")))
            #expect(header[(end + 1)...].allSatisfy { $0 == UInt8(ascii: " ") })
            #expect(header.count - end - 1 < 8)
            #expect(try decoded(bytes) == checkpoint)
        }
    }

    @Test func goldenBytes() throws {
        let header = #"{"__metadata__":{"a":"b"},"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#
        #expect(header.utf8.count == 79)
        let golden: [UInt8] = [0x50, 0, 0, 0, 0, 0, 0, 0]  // N = 80
            + Array(header.utf8) + [0x20]                    // 79 bytes + 1 space of padding
            + [0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x00, 0x40]  // 1.0f, 2.0f little-endian
        let checkpoint = try decoded(golden)
        #expect(checkpoint.metadata == ["a": "b"])
        #expect(checkpoint.tensors.count == 1)
        let tensor = try #require(checkpoint[name: "t"])
        #expect(tensor.dtype == .f32)
        #expect(tensor.shape == [2])
        #expect(tensor.bytes == [0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x00, 0x40])
        #expect(try tensor.floats() == [1, 2])
        // The writer produces exactly these bytes.
        let built = SafeTensors(tensors: [.init(name: "t", shape: [2], floats: [1, 2])], metadata: ["a": "b"])
        #expect(built.encoded() == golden)
    }

    @Test func headerKeyOrderAndWhitespaceAreIrrelevant() throws {
        let header = """
            { "b" : { "data_offsets" : [4, 8], "shape" : [1], "dtype" : "F32" },
              "__metadata__" : { "x" : "y" },
              "a" : { "shape" : [1], "dtype" : "F32", "data_offsets" : [0, 4], "extra": [null, true] } }\t\n
            """
        let checkpoint = try decoded(file(header, data: floatBytes([5, 6])))
        // Tensors come back in data order, whatever the JSON order.
        #expect(checkpoint.tensors.map(\.name) == ["a", "b"])
        #expect(try checkpoint[name: "a"]?.floats() == [5])
        #expect(try checkpoint[name: "b"]?.floats() == [6])
        #expect(checkpoint.metadata == ["x": "y"])
    }

    @Test func jsonEscapesDecode() throws {
        let header = #"{"w\u00e9\ud83d\ude80\n\"\/":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"__metadata__":null}"#
        let checkpoint = try decoded(file(header, data: [9]))
        #expect(checkpoint.tensors.first?.name == "wé🚀\n\"/")
        #expect(checkpoint.metadata.isEmpty)
    }

    // MARK: Dtype conversion

    @Test func f16Decoding() throws {
        let halves: [UInt16] = [0x3C00, 0xC000, 0x3555, 0x7BFF, 0x0001, 0x03FF, 0x7C00, 0xFC00, 0x8000, 0x7E00]
        let bytes = halves.flatMap { [UInt8(truncatingIfNeeded: $0), UInt8(truncatingIfNeeded: $0 >> 8)] }
        let values = try SafeTensors.Tensor(name: "h", shape: [halves.count], dtype: .f16, bytes: bytes).floats()
        #expect(values[0] == 1)
        #expect(values[1] == -2)
        #expect(values[2] == 0.333251953125)
        #expect(values[3] == 65504)
        #expect(values[4] == 0x1p-24)
        #expect(values[5] == Float(0x3FF) * 0x1p-24)
        #expect(values[6] == .infinity)
        #expect(values[7] == -.infinity)
        #expect(values[8] == 0 && values[8].sign == .minus)
        #expect(values[9].isNaN)
    }

    @Test func f64I64I32U8Decoding() throws {
        let doubles: [Double] = [0.5, -3.25, 1e300, 1.0 / 3.0]
        let f64 = doubles.flatMap { littleEndianBytes($0.bitPattern) }
        #expect(try SafeTensors.Tensor(name: "d", shape: [2, 2], dtype: .f64, bytes: f64).floats()
                == [0.5, -3.25, .infinity, Float(1.0 / 3.0)])

        let longs: [Int64] = [-7, 1 << 40, 0, Int64.max]
        let i64 = longs.flatMap { littleEndianBytes(UInt64(bitPattern: $0)) }
        #expect(try SafeTensors.Tensor(name: "l", shape: [4], dtype: .i64, bytes: i64).floats()
                == [-7, 0x1p40, 0, 0x1p63])

        let ints: [Int32] = [-5, 123_456, Int32.min]
        let i32 = ints.flatMap { v in (0..<4).map { UInt8(truncatingIfNeeded: UInt32(bitPattern: v) >> (8 * UInt32($0))) } }
        #expect(try SafeTensors.Tensor(name: "i", shape: [3], dtype: .i32, bytes: i32).floats() == [-5, 123_456, -0x1p31])

        #expect(try SafeTensors.Tensor(name: "u", shape: [1, 3], dtype: .u8, bytes: [0, 128, 255]).floats() == [0, 128, 255])

        // Decoded through a whole file, too.
        let checkpoint = SafeTensors(tensors: [
            .init(name: "d", shape: [4], dtype: .f64, bytes: f64),
            .init(name: "l", shape: [4], dtype: .i64, bytes: i64),
        ])
        let loaded = try decoded(checkpoint.encoded())
        #expect(try loaded[name: "d"]?.floats() == [0.5, -3.25, .infinity, Float(1.0 / 3.0)])
        #expect(try loaded[name: "l"]?.floats() == [-7, 0x1p40, 0, 0x1p63])
        #expect(SafeTensors.DType.allCases.map(\.byteSize) == [4, 2, 8, 8, 4, 1])
    }

    @Test func floatsRejectsInconsistentInMemoryTensor() {
        let tensor = SafeTensors.Tensor(name: "w", shape: [3], floats: [1, 2])
        #expect(tensor.elementCount == 3)
        #expect(throws: CheckpointError.byteLengthMismatch(
            source: SafeTensors.inMemorySource, name: "w", dtype: "F32", shape: [3], expected: 12, found: 8)) {
            try tensor.floats()
        }
        let huge = SafeTensors.Tensor(name: "h", shape: [1 << 40, 1 << 40], dtype: .u8, bytes: [])
        #expect(huge.elementCount == nil)
        #expect(throws: CheckpointError.self) { try huge.floats() }
    }

    // MARK: Container errors

    @Test func truncatedLengthField() {
        #expect(decodeError([]) == .fileTooShort(source: source, size: 0))
        #expect(decodeError([0x50, 0, 0]) == .fileTooShort(source: source, size: 3))
        #expect(decodeError([0x50, 0, 0])?.description.contains("8-byte") == true)
    }

    @Test func hugeHeaderLength() {
        let limit = SafeTensors.maxHeaderLength
        #expect(decodeError(littleEndianBytes(200_000_000) + Array("{}".utf8))
                == .headerTooLarge(source: source, headerLength: 200_000_000, limit: limit))
        #expect(decodeError(littleEndianBytes(UInt64.max))
                == .headerTooLarge(source: source, headerLength: UInt64.max, limit: limit))
        #expect(decodeError(littleEndianBytes(1 << 63))
                == .headerTooLarge(source: source, headerLength: 1 << 63, limit: limit))
        // Within the limit but longer than the file.
        #expect(decodeError(littleEndianBytes(1_000) + Array("{}".utf8))
                == .headerExceedsFile(source: source, headerLength: 1_000, available: 2))
        let golden = SafeTensors(tensors: [.init(name: "t", shape: [2], floats: [1, 2])]).encoded()
        #expect(decodeError(Array(golden.prefix(20))) == .headerExceedsFile(
            source: source, headerLength: UInt64(golden.count - 16), available: 12))
    }

    @Test func headerNotUTF8() {
        #expect(decodeError(file("{\"a\u{00e9}\":1}").map { $0 == 0xC3 ? 0xFF : $0 })
                == .headerNotUTF8(source: source, offset: 3))
        // Overlong encoding and surrogate code points are invalid UTF-8, too.
        #expect(decodeError(littleEndianBytes(4) + [0x7B, 0xC0, 0xAF, 0x7D]) == .headerNotUTF8(source: source, offset: 1))
        #expect(decodeError(littleEndianBytes(5) + [0x7B, 0xED, 0xA0, 0x80, 0x7D]) == .headerNotUTF8(source: source, offset: 1))
        #expect(decodeError(littleEndianBytes(3) + [0x7B, 0xE2, 0x82]) == .headerNotUTF8(source: source, offset: 1))
    }

    @Test func invalidJSON() {
        for header in ["", "   ", "{\"t\":", "{\"t\" 1}", "{t:1}", "{\"a\":1,}", "{\"a\":[1 2]}", "{\"a\":tru}",
                       "{} x", "{}{}", "{\"a\":\"\\x\"}", "{\"a\":\"\u{0001}\"}", "{\"a\":01}", "{\"a\":1.}",
                       "{\"a\":-}", "{\"a\":\"\\ud800\"}", "{\"a\":\"\\udc00\"}", "{\"a\":\"\\u12\"}",
                       "{\"a\":\"unterminated}", "\0{}"] {
            let error = decodeError(file(header))
            guard case .invalidJSON(let s, _, let reason) = error else {
                Issue.record("header \(header.debugDescription) gave \(String(describing: error))")
                continue
            }
            #expect(s == source)
            #expect(!reason.isEmpty)
        }
        // Deep nesting is refused, not a stack overflow.
        let deep = "{\"a\":" + String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000) + "}"
        guard case .invalidJSON(_, _, let reason) = decodeError(file(deep)) else {
            Issue.record("deep nesting was not rejected")
            return
        }
        #expect(reason.contains("nesting"))
    }

    @Test func headerNotObject() {
        #expect(decodeError(file("[1,2]")) == .headerNotObject(source: source, found: "the array [1,2]"))
        #expect(decodeError(file("\"x\"")) == .headerNotObject(source: source, found: "the string \"x\""))
        #expect(decodeError(file("null")) == .headerNotObject(source: source, found: "null"))
    }

    // MARK: Entry errors

    @Test func malformedEntries() {
        let eight = floatBytes([1, 2])
        #expect(decodeError(file(#"{"t":5}"#)) == .tensorEntryNotObject(source: source, name: "t", found: "the integer 5"))
        #expect(decodeError(file(#"{"t":{"dtype":"F32","shape":[2]}}"#, data: eight))
                == .missingField(source: source, name: "t", field: "data_offsets"))
        #expect(decodeError(file(#"{"t":{"shape":[2],"data_offsets":[0,8]}}"#, data: eight))
                == .missingField(source: source, name: "t", field: "dtype"))
        #expect(decodeError(file(#"{"t":{"dtype":"F32","data_offsets":[0,8]}}"#, data: eight))
                == .missingField(source: source, name: "t", field: "shape"))
        #expect(decodeError(file(#"{"t":{"dtype":"F32","dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, data: eight))
                == .duplicateField(source: source, name: "t", field: "dtype"))

        guard case .wrongFieldType(_, "t", "dtype", let expected, "the integer 5")
                = decodeError(file(#"{"t":{"dtype":5,"shape":[2],"data_offsets":[0,8]}}"#, data: eight)) else {
            Issue.record("dtype of wrong type not rejected")
            return
        }
        #expect(expected.contains("F32, F16, F64, I64, I32, U8"))
        #expect(decodeError(file(#"{"t":{"dtype":"F32","shape":"2","data_offsets":[0,8]}}"#, data: eight))
                == .wrongFieldType(source: source, name: "t", field: "shape",
                                   expected: "an array of non-negative integers", found: "the string \"2\""))
        #expect(decodeError(file(#"{"t":{"dtype":"F32","shape":[1.5],"data_offsets":[0,8]}}"#, data: eight))
                == .wrongFieldType(source: source, name: "t", field: "shape",
                                   expected: "an array of non-negative integers", found: "the array [1.5]"))
        // An integer beyond 64 bits is not an acceptable dimension either.
        guard case .wrongFieldType(_, "t", "shape", _, _)
                = decodeError(file(#"{"t":{"dtype":"F32","shape":[99999999999999999999],"data_offsets":[0,8]}}"#, data: eight)) else {
            Issue.record("out-of-range dimension not rejected")
            return
        }
    }

    @Test func unknownDType() throws {
        let error = try #require(decodeError(file(#"{"t":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0])))
        #expect(error == .unknownDType(source: source, name: "t", dtype: "BF16"))
        #expect(error.description.contains("BF16"))
        #expect(error.description.contains("F32, F16, F64, I64, I32, U8"))
    }

    @Test func negativeDimension() {
        #expect(decodeError(file(#"{"t":{"dtype":"F32","shape":[-1,2],"data_offsets":[0,8]}}"#, data: floatBytes([1, 2])))
                == .negativeDimension(source: source, name: "t", shape: [-1, 2]))
    }

    @Test func overflowingShape() {
        let twoTo40 = 1 << 40
        #expect(decodeError(file("{\"t\":{\"dtype\":\"F32\",\"shape\":[\(twoTo40),\(twoTo40)],\"data_offsets\":[0,8]}}",
                                 data: floatBytes([1, 2])))
                == .shapeOverflow(source: source, name: "t", shape: [twoTo40, twoTo40], dtype: "F32"))
        // Element count fits, byte length (× 4) does not.
        let twoTo31 = 1 << 31
        #expect(decodeError(file("{\"t\":{\"dtype\":\"F32\",\"shape\":[\(twoTo31),\(twoTo31)],\"data_offsets\":[0,8]}}",
                                 data: floatBytes([1, 2])))
                == .shapeOverflow(source: source, name: "t", shape: [twoTo31, twoTo31], dtype: "F32"))
        // A zero dimension makes any other dimension harmless.
        #expect(decodeError(file("{\"t\":{\"dtype\":\"F32\",\"shape\":[0,\(Int.max)],\"data_offsets\":[0,0]}}")) == nil)
    }

    @Test func malformedOffsets() {
        let eight = floatBytes([1, 2])
        for (offsets, found) in [("[8,0]", "the array [8,0]"), ("[0]", "the array [0]"), ("[0,8,8]", "the array [0,8,8]"),
                                 ("\"0-8\"", "the string \"0-8\""), ("[-1,7]", "the array [-1,7]"),
                                 ("[0,8.0]", "the array [0,8.0]"), ("{}", "an object")] {
            #expect(decodeError(file("{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":\(offsets)}}", data: eight))
                    == .invalidOffsets(source: source, name: "t", found: found))
        }
    }

    @Test func offsetsOutOfBounds() {
        #expect(decodeError(file(#"{"t":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#, data: floatBytes([1, 2])))
                == .offsetsOutOfBounds(source: source, name: "t", begin: 0, end: 16, bufferLength: 8))
        #expect(decodeError(file("{\"t\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[\(Int.max),\(Int.max)]}}"))
                == .offsetsOutOfBounds(source: source, name: "t", begin: Int.max, end: Int.max, bufferLength: 0))
    }

    @Test func overlappingOffsets() {
        let header = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#
        #expect(decodeError(file(header, data: floatBytes([1, 2, 3])))
                == .overlappingOffsets(source: source, name: "b", begin: 4, end: 12, other: "a", otherBegin: 0, otherEnd: 8))
        // Same range twice.
        let twice = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#
        #expect(decodeError(file(twice, data: floatBytes([1, 2])))
                == .overlappingOffsets(source: source, name: "b", begin: 0, end: 8, other: "a", otherBegin: 0, otherEnd: 8))
    }

    @Test func gapAndUncoveredBuffer() {
        let gap = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[12,20]}}"#
        #expect(decodeError(file(gap, data: floatBytes([1, 2, 0, 3, 4])))
                == .gapInData(source: source, start: 8, end: 12, before: "b"))
        let late = #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#
        #expect(decodeError(file(late, data: floatBytes([0, 1])))
                == .gapInData(source: source, start: 0, end: 4, before: "a"))
        let trailing = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#
        #expect(decodeError(file(trailing, data: floatBytes([1, 2, 3])))
                == .bufferNotCovered(source: source, used: 8, bufferLength: 12))
        #expect(decodeError(file("{}", data: [1])) == .bufferNotCovered(source: source, used: 0, bufferLength: 1))
    }

    @Test func wrongByteLength() {
        #expect(decodeError(file(#"{"t":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, data: floatBytes([1, 2])))
                == .byteLengthMismatch(source: source, name: "t", dtype: "F32", shape: [3], expected: 12, found: 8))
        #expect(decodeError(file(#"{"t":{"dtype":"F16","shape":[2,2],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0]))
                == .byteLengthMismatch(source: source, name: "t", dtype: "F16", shape: [2, 2], expected: 8, found: 4))
    }

    @Test func metadataAndDuplicateErrors() {
        #expect(decodeError(file(#"{"__metadata__":[1]}"#)) == .metadataNotObject(source: source, found: "the array [1]"))
        #expect(decodeError(file(#"{"__metadata__":{"epochs":3}}"#))
                == .metadataValueNotString(source: source, key: "epochs", found: "the integer 3"))
        #expect(decodeError(file(#"{"__metadata__":{"k":"1","k":"2"}}"#)) == .duplicateMetadataKey(source: source, key: "k"))
        #expect(decodeError(file(#"{"__metadata__":{},"__metadata__":{}}"#)) == .duplicateTensor(source: source, name: "__metadata__"))
        let dup = #"{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}"#
        #expect(decodeError(file(dup, data: [1, 2])) == .duplicateTensor(source: source, name: "a"))
    }

    @Test func writerValidation() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/bad.safetensors"
        let duplicate = SafeTensors(tensors: [.init(name: "a", shape: [1], floats: [1]), .init(name: "a", shape: [1], floats: [2])])
        #expect(throws: CheckpointError.duplicateTensor(source: path, name: "a")) { try duplicate.write(to: path) }
        let reserved = SafeTensors(tensors: [.init(name: "__metadata__", shape: [1], floats: [1])])
        #expect(throws: CheckpointError.reservedName(source: path, name: "__metadata__")) { try reserved.write(to: path) }
        let short = SafeTensors(tensors: [.init(name: "w", shape: [2, 2], floats: [1, 2, 3])])
        #expect(throws: CheckpointError.byteLengthMismatch(source: path, name: "w", dtype: "F32", shape: [2, 2], expected: 16, found: 12)) {
            try short.write(to: path)
        }
        #expect(!FileManager.default.fileExists(atPath: path))
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).isEmpty)
    }

    @Test func everyDescriptionNamesTheSource() {
        let errors: [CheckpointError] = [
            .missingTensor(source: "m.st", name: "fc1.weight"),
            .shapeMismatch(source: "m.st", name: "fc1.weight", expected: [10, 784], found: [784, 10]),
            .missingMetadata(source: "m.st", key: "spec"),
            .invalidMetadata(source: "m.st", key: "spec", value: "{", reason: "not valid JSON"),
            .io(source: "m.st", reason: "cannot open for reading"),
            .gapInData(source: "m.st", start: 1, end: 2, before: "b"),
        ]
        for error in errors {
            #expect(error.description.hasPrefix("m.st: "))
            #expect(error.source == "m.st")
        }
        #expect(errors[1].description.contains("[10, 784]") && errors[1].description.contains("[784, 10]"))
    }

    // MARK: Atomic files

    @Test func atomicWriteReplacesAndLeavesNoTemporaryFile() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/model.safetensors"
        #expect(FileManager.default.createFile(atPath: path, contents: Data("old contents".utf8)))
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path)

        let checkpoint = sample()
        try checkpoint.write(to: path)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["model.safetensors"])
        #expect(try FileBytes.read(path, limit: 1 << 20) == checkpoint.encoded())
        let permissions = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber
        #expect(permissions?.intValue == 0o600)

        // A second write replaces the first, again without leftovers.
        let smaller = SafeTensors(tensors: [.init(name: "x", shape: [1], floats: [3])])
        try smaller.write(to: path)
        #expect(try SafeTensors.read(from: path) == smaller)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["model.safetensors"])

        // Raw bytes, including an empty file.
        try AtomicFile.write([], to: path)
        #expect(try FileBytes.read(path, limit: 0) == [])
        let big = (0..<3_000_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        try AtomicFile.write(big, to: path)
        #expect(try FileBytes.read(path, limit: big.count) == big)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["model.safetensors"])
    }

    @Test func writingIntoMissingDirectoryFails() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/missing/sub/model.safetensors"
        do throws(CheckpointError) {
            try sample().write(to: path)
            Issue.record("write into a missing directory succeeded")
        } catch {
            guard case .io(let s, let reason) = error else {
                Issue.record("expected .io, got \(error)")
                return
            }
            #expect(s == path)
            #expect(error.description.contains(path))
            #expect(reason.contains("does not exist"))
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).isEmpty)
    }

    @Test func readErrors() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let missing = directory + "/nope.safetensors"
        do throws(CheckpointError) {
            _ = try SafeTensors.read(from: missing)
            Issue.record("reading a missing file succeeded")
        } catch {
            guard case .io(missing, _) = error else {
                Issue.record("expected .io, got \(error)")
                return
            }
            #expect(error.description.contains(missing))
        }
        #expect(throws: CheckpointError.self) { try SafeTensors.read(from: directory) }
        let path = directory + "/f"
        try AtomicFile.write(Array(repeating: 7, count: 100), to: path)
        #expect(throws: FileError.self) { try FileBytes.read(path, limit: 99) }
        #expect(try FileBytes.read(path, limit: 100).count == 100)
        // A file that is not a checkpoint reports its path.
        #expect(throws: CheckpointError.fileTooShort(source: path, size: 3)) {
            try AtomicFile.write([1, 2, 3], to: path)
            return try SafeTensors.read(from: path)
        }
    }

    // MARK: Fuzzing

    @Test func randomMutationsNeverCrash() throws {
        let valid = sample().encoded()
        let headerEnd = 8 + Int(valid[0..<8].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
        let jsonish = Array("{}[]\",:0123456789-.eE \\u".utf8)
        var random = FuzzRandom(state: 0x5AFE_7E45)
        var decodedCount = 0
        var rejectedCount = 0
        for iteration in 0..<2000 {
            var bytes = valid
            let mutations = 1 + Int(random.next() % 3)
            for _ in 0..<mutations {
                switch random.next() % 7 {
                case 0:  // flip a byte anywhere
                    guard !bytes.isEmpty else { break }
                    let i = Int(random.next() % UInt64(bytes.count))
                    bytes[i] ^= UInt8(truncatingIfNeeded: random.next() | 1)
                case 1:  // flip a byte of the header
                    let i = Int(random.next() % UInt64(min(headerEnd, bytes.count) + 1))
                    if i < bytes.count { bytes[i] ^= UInt8(truncatingIfNeeded: random.next() | 1) }
                case 2:  // JSON-shaped noise in the header
                    let i = 8 + Int(random.next() % UInt64(headerEnd - 8))
                    if i < bytes.count { bytes[i] = jsonish[Int(random.next() % UInt64(jsonish.count))] }
                case 3:  // truncate
                    bytes.removeLast(Int(random.next() % UInt64(bytes.count + 1)))
                case 4:  // extend
                    bytes += (0..<(1 + Int(random.next() % 64))).map { _ in UInt8(truncatingIfNeeded: random.next()) }
                case 5:  // a new header length
                    let length = random.next() % 2 == 0 ? random.next() : random.next() % UInt64(valid.count + 16)
                    let field = littleEndianBytes(length)
                    for i in 0..<min(8, bytes.count) { bytes[i] = field[i] }
                default:  // delete or duplicate a run inside the header
                    guard bytes.count > 9 else { break }
                    let start = 8 + Int(random.next() % UInt64(bytes.count - 8))
                    let length = min(1 + Int(random.next() % 8), bytes.count - start)
                    if random.next() % 2 == 0 {
                        bytes.removeSubrange(start..<(start + length))
                    } else {
                        let run = Array(bytes[start..<(start + length)])
                        bytes.insert(contentsOf: run, at: start)
                    }
                }
            }
            let result: Result<SafeTensors, CheckpointError>
            do throws(CheckpointError) {
                result = .success(try SafeTensors.decode(bytes, source: "fuzz-\(iteration)"))
            } catch {
                result = .failure(error)
            }
            switch result {
            case .success(let checkpoint):
                decodedCount += 1
                // Anything that decodes is consistent: convertible and re-encodable.
                for tensor in checkpoint.tensors { _ = try tensor.floats() }
                try checkpoint.validate()
                let again = try SafeTensors.decode(checkpoint.encoded(), source: "re-encoded")
                #expect(again == checkpoint)
            case .failure(let error):
                rejectedCount += 1
                #expect(error.description.hasPrefix("fuzz-\(iteration): "))
            }
        }
        #expect(decodedCount + rejectedCount == 2000)
        #expect(decodedCount > 0)
        #expect(rejectedCount > 0)
    }
}
