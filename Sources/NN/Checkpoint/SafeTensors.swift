// The safetensors checkpoint format (https://github.com/huggingface/safetensors):
//
//   [8 bytes]  N, little-endian UInt64: header length
//   [N bytes]  UTF-8 JSON object: name → {"dtype", "shape", "data_offsets": [begin, end]},
//              plus an optional "__metadata__": {string: string}
//   [rest]     data buffer; offsets are relative to its start; little-endian, row-major
//
// Reading follows the upstream validation rules: the header is at most 100 MB, tensors
// occupy contiguous, non-overlapping byte ranges that cover the whole buffer, and each byte
// length is product(shape) × dtype size. Writing pads the header with spaces to a multiple
// of 8 and lays tensors out in the order the caller gives. Decoding never traps on bad
// input: every problem is a `CheckpointError`.
//
// Only the standard library is used; the JSON header is read by a small strict parser
// (SafeTensors+JSON.swift, which also catches duplicate keys that generic JSON libraries
// silently merge). Decoding and the header-only reader are in SafeTensors+Header.swift, files
// on disk in SafeTensors+File.swift.

/// An in-memory safetensors file: ordered tensors plus string metadata.
public struct SafeTensors: Sendable, Equatable {
    /// Upstream's limit on the header length.
    public static let maxHeaderLength = 100_000_000
    /// The header key reserved for metadata.
    public static let metadataKey = "__metadata__"
    /// Source name used in errors about buffers that are not files.
    public static let inMemorySource = "<in-memory>"

    /// Element types of the format that this codec understands.
    public enum DType: String, Sendable, CaseIterable, Equatable {
        case f32 = "F32"
        case f16 = "F16"
        case f64 = "F64"
        case i64 = "I64"
        case i32 = "I32"
        case u8 = "U8"

        /// Bytes per element.
        public var byteSize: Int {
            switch self {
            case .u8: return 1
            case .f16: return 2
            case .f32, .i32: return 4
            case .f64, .i64: return 8
            }
        }
    }

    /// One named tensor: shape, element type and raw little-endian row-major bytes.
    public struct Tensor: Sendable, Equatable {
        public var name: String
        public var shape: [Int]
        public var dtype: SafeTensors.DType
        public var bytes: [UInt8]

        public init(name: String, shape: [Int], dtype: SafeTensors.DType, bytes: [UInt8]) {
            self.name = name
            self.shape = shape
            self.dtype = dtype
            self.bytes = bytes
        }

        /// An F32 tensor holding `floats` (row-major). `floats.count` should equal
        /// product(shape); `SafeTensors.validate` and `write(to:)` check it.
        public init(name: String, shape: [Int], floats: [Float]) {
            var bytes = [UInt8]()
            bytes.reserveCapacity(floats.count * 4)
            for value in floats {
                let bits = value.bitPattern.littleEndian
                withUnsafeBytes(of: bits) { bytes.append(contentsOf: $0) }
            }
            self.init(name: name, shape: shape, dtype: .f32, bytes: bytes)
        }

        /// product(shape), or nil when a dimension is negative or the product overflows.
        public var elementCount: Int? {
            SafeTensors.checkedProduct(shape)
        }

        /// The elements converted to `Float` (F16, F64, I64, I32 and U8 are converted;
        /// F64 and large integers are rounded to the nearest `Float`).
        ///
        /// Throws `.negativeDimension`, `.shapeOverflow` or `.byteLengthMismatch` (with source
        /// "<in-memory>") when the bytes do not match the shape and dtype.
        public func floats() throws(CheckpointError) -> [Float] {
            let count = try SafeTensors.checkLayout(
                name: name, shape: shape, dtype: dtype, byteCount: bytes.count,
                source: SafeTensors.inMemorySource)
            if count == 0 { return [] }
            let dtype = self.dtype
            return bytes.withUnsafeBytes { raw -> [Float] in
                var out = [Float]()
                out.reserveCapacity(count)
                switch dtype {
                case .f32:
                    for i in 0..<count {
                        let bits = UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self))
                        out.append(Float(bitPattern: bits))
                    }
                case .f16:
                    for i in 0..<count {
                        let bits = UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self))
                        out.append(Float(Float16(bitPattern: bits)))
                    }
                case .f64:
                    for i in 0..<count {
                        let bits = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self))
                        out.append(Float(Double(bitPattern: bits)))
                    }
                case .i64:
                    for i in 0..<count {
                        let bits = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self))
                        out.append(Float(Int64(bitPattern: bits)))
                    }
                case .i32:
                    for i in 0..<count {
                        let bits = UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self))
                        out.append(Float(Int32(bitPattern: bits)))
                    }
                case .u8:
                    for i in 0..<count { out.append(Float(raw[i])) }
                }
                return out
            }
        }
    }

    public var metadata: [String: String]
    /// Tensors in file order. `encoded()` writes them in this order; `decode` returns them in
    /// the order of their data offsets (so a round trip keeps the order).
    public var tensors: [SafeTensors.Tensor]

    public init(tensors: [SafeTensors.Tensor] = [], metadata: [String: String] = [:]) {
        self.tensors = tensors
        self.metadata = metadata
    }

    /// The first tensor called `name`, if any.
    public subscript(name name: String) -> SafeTensors.Tensor? {
        tensors.first { $0.name == name }
    }

    /// Checks what `encoded()` assumes: unique, non-reserved names, non-negative shapes
    /// without overflow, and byte lengths equal to product(shape) × dtype size.
    public func validate(source: String = SafeTensors.inMemorySource) throws(CheckpointError) {
        var seen = Set<String>()
        for tensor in tensors {
            if tensor.name == SafeTensors.metadataKey {
                throw .reservedName(source: source, name: tensor.name)
            }
            if !seen.insert(tensor.name).inserted {
                throw .duplicateTensor(source: source, name: tensor.name)
            }
            _ = try SafeTensors.checkLayout(
                name: tensor.name, shape: tensor.shape, dtype: tensor.dtype,
                byteCount: tensor.bytes.count, source: source)
        }
    }

    // MARK: - Encoding

    /// The file bytes: header length, space-padded JSON header (a multiple of 8 bytes),
    /// then every tensor's bytes in `tensors` order. Data offsets come from the actual byte
    /// counts; call `validate()` first to be sure the result decodes (`write(to:)` does).
    /// Metadata keys are written in sorted order so the output is deterministic.
    public func encoded() -> [UInt8] {
        var header = [UInt8]()
        header.append(UInt8(ascii: "{"))
        var first = true
        if !metadata.isEmpty {
            SafeTensors.appendJSONString(SafeTensors.metadataKey, to: &header)
            header.append(contentsOf: Array(":{".utf8))
            var firstKey = true
            for key in metadata.keys.sorted() {
                if !firstKey { header.append(UInt8(ascii: ",")) }
                firstKey = false
                SafeTensors.appendJSONString(key, to: &header)
                header.append(UInt8(ascii: ":"))
                SafeTensors.appendJSONString(metadata[key] ?? "", to: &header)
            }
            header.append(UInt8(ascii: "}"))
            first = false
        }
        var offset = 0
        var dataLength = 0
        for tensor in tensors {
            if !first { header.append(UInt8(ascii: ",")) }
            first = false
            SafeTensors.appendJSONString(tensor.name, to: &header)
            header.append(contentsOf: Array(":{\"dtype\":\"".utf8))
            header.append(contentsOf: Array(tensor.dtype.rawValue.utf8))
            header.append(contentsOf: Array("\",\"shape\":[".utf8))
            header.append(contentsOf: Array(tensor.shape.map(String.init).joined(separator: ",").utf8))
            let end = offset + tensor.bytes.count
            header.append(contentsOf: Array("],\"data_offsets\":[\(offset),\(end)]}".utf8))
            offset = end
            dataLength += tensor.bytes.count
        }
        header.append(UInt8(ascii: "}"))
        while header.count % 8 != 0 { header.append(UInt8(ascii: " ")) }

        var out = [UInt8]()
        out.reserveCapacity(8 + header.count + dataLength)
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: header)
        for tensor in tensors { out.append(contentsOf: tensor.bytes) }
        return out
    }

    // MARK: - Validation helpers

    /// product(values) without trapping: nil on a negative value or overflow.
    static func checkedProduct(_ values: [Int]) -> Int? {
        var product = 1
        for value in values {
            guard value >= 0 else { return nil }
            let (next, overflow) = product.multipliedReportingOverflow(by: value)
            if overflow { return nil }
            product = next
        }
        return product
    }

    /// Checks that `byteCount` equals product(shape) × dtype size; returns the element count.
    static func checkLayout(name: String, shape: [Int], dtype: DType, byteCount: Int,
                            source: String) throws(CheckpointError) -> Int {
        if shape.contains(where: { $0 < 0 }) {
            throw .negativeDimension(source: source, name: name, shape: shape)
        }
        guard let count = checkedProduct(shape) else {
            throw .shapeOverflow(source: source, name: name, shape: shape, dtype: dtype.rawValue)
        }
        let (expected, overflow) = count.multipliedReportingOverflow(by: dtype.byteSize)
        if overflow {
            throw .shapeOverflow(source: source, name: name, shape: shape, dtype: dtype.rawValue)
        }
        guard expected == byteCount else {
            throw .byteLengthMismatch(source: source, name: name, dtype: dtype.rawValue, shape: shape,
                                      expected: expected, found: byteCount)
        }
        return count
    }

    /// Offset (relative to the slice start) of the first byte that is not part of a valid
    /// UTF-8 sequence, or nil when the bytes are valid UTF-8.
    static func firstInvalidUTF8Offset(_ bytes: ArraySlice<UInt8>) -> Int? {
        let base = bytes.startIndex
        var i = base
        let end = bytes.endIndex
        while i < end {
            let lead = bytes[i]
            if lead < 0x80 { i += 1; continue }
            let length: Int
            var scalar: UInt32
            let minimum: UInt32
            if lead & 0xE0 == 0xC0 { length = 2; scalar = UInt32(lead & 0x1F); minimum = 0x80 }
            else if lead & 0xF0 == 0xE0 { length = 3; scalar = UInt32(lead & 0x0F); minimum = 0x800 }
            else if lead & 0xF8 == 0xF0 { length = 4; scalar = UInt32(lead & 0x07); minimum = 0x10000 }
            else { return i - base }
            guard end - i >= length else { return i - base }
            for k in 1..<length {
                let byte = bytes[i + k]
                guard byte & 0xC0 == 0x80 else { return i - base }
                scalar = scalar << 6 | UInt32(byte & 0x3F)
            }
            if scalar < minimum || scalar > 0x10FFFF || (0xD800...0xDFFF).contains(scalar) {
                return i - base
            }
            i += length
        }
        return nil
    }

    // MARK: - JSON

    static func appendJSONString(_ string: String, to out: inout [UInt8]) {
        let hex = Array("0123456789abcdef".utf8)
        out.append(UInt8(ascii: "\""))
        for byte in string.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case 0x0A: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case 0x0D: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case 0x09: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0..<0x20:
                out.append(contentsOf: Array("\\u00".utf8))
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0xF)])
            default:
                out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    /// A parsed JSON value. Objects keep their members in order, duplicates included, so
}
