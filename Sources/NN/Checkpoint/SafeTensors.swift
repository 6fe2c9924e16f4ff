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
// Only the standard library is used; the JSON header is read by a small strict parser below
// (which also catches duplicate keys, which generic JSON libraries silently merge).

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
                        out.append(SafeTensors.floatFromHalfBits(bits))
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

    // MARK: - Decoding

    /// Parses and validates a whole safetensors file. `source` (usually the path) is only
    /// used in error messages.
    public static func decode(_ bytes: [UInt8], source: String) throws(CheckpointError) -> SafeTensors {
        guard bytes.count >= 8 else { throw .fileTooShort(source: source, size: bytes.count) }
        var headerLength64: UInt64 = 0
        for i in 0..<8 { headerLength64 |= UInt64(bytes[i]) << (8 * UInt64(i)) }
        guard headerLength64 <= UInt64(maxHeaderLength) else {
            throw .headerTooLarge(source: source, headerLength: headerLength64, limit: maxHeaderLength)
        }
        let headerLength = Int(headerLength64)
        guard headerLength <= bytes.count - 8 else {
            throw .headerExceedsFile(source: source, headerLength: headerLength64, available: bytes.count - 8)
        }
        let headerBytes = bytes[8..<(8 + headerLength)]
        if let bad = firstInvalidUTF8Offset(headerBytes) {
            throw .headerNotUTF8(source: source, offset: bad)
        }

        let root: HeaderJSON
        do throws(HeaderJSONError) {
            let parser = HeaderJSONParser(bytes: headerBytes)
            root = try parser.parseDocument()
        } catch {
            throw .invalidJSON(source: source, offset: error.offset, reason: error.reason)
        }
        guard case .object(let members) = root else {
            throw .headerNotObject(source: source, found: root.summary)
        }

        let dataStart = 8 + headerLength
        let bufferLength = bytes.count - dataStart

        struct Entry {
            var index: Int
            var name: String
            var shape: [Int]
            var dtype: DType
            var begin: Int
            var end: Int
        }
        var entries: [Entry] = []
        var metadata: [String: String] = [:]
        var seenMetadata = false
        var names = Set<String>()

        for (name, value) in members {
            if name == metadataKey {
                if seenMetadata { throw .duplicateTensor(source: source, name: name) }
                seenMetadata = true
                metadata = try parseMetadata(value, source: source)
                continue
            }
            if !names.insert(name).inserted { throw .duplicateTensor(source: source, name: name) }
            let entry = try parseEntry(name: name, value: value, source: source)
            guard entry.end <= bufferLength else {
                throw .offsetsOutOfBounds(source: source, name: name, begin: entry.begin,
                                          end: entry.end, bufferLength: bufferLength)
            }
            _ = try checkLayout(name: name, shape: entry.shape, dtype: entry.dtype,
                                byteCount: entry.end - entry.begin, source: source)
            entries.append(Entry(index: entries.count, name: name, shape: entry.shape,
                                 dtype: entry.dtype, begin: entry.begin, end: entry.end))
        }

        entries.sort { a, b in
            if a.begin != b.begin { return a.begin < b.begin }
            if a.end != b.end { return a.end < b.end }
            return a.index < b.index
        }
        var covered = 0
        var previous: Entry? = nil
        for entry in entries {
            if entry.begin < covered, let previous {
                throw .overlappingOffsets(source: source, name: entry.name, begin: entry.begin, end: entry.end,
                                          other: previous.name, otherBegin: previous.begin, otherEnd: previous.end)
            }
            if entry.begin > covered {
                throw .gapInData(source: source, start: covered, end: entry.begin, before: entry.name)
            }
            covered = entry.end
            previous = entry
        }
        guard covered == bufferLength else {
            throw .bufferNotCovered(source: source, used: covered, bufferLength: bufferLength)
        }

        let tensors = entries.map { entry in
            SafeTensors.Tensor(
                name: entry.name, shape: entry.shape, dtype: entry.dtype,
                bytes: Array(bytes[(dataStart + entry.begin)..<(dataStart + entry.end)]))
        }
        return SafeTensors(tensors: tensors, metadata: metadata)
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

    private static func parseMetadata(_ value: HeaderJSON, source: String) throws(CheckpointError) -> [String: String] {
        switch value {
        case .null:
            return [:]
        case .object(let members):
            var result: [String: String] = [:]
            for (key, item) in members {
                guard case .string(let text) = item else {
                    throw .metadataValueNotString(source: source, key: key, found: item.summary)
                }
                if result.updateValue(text, forKey: key) != nil {
                    throw .duplicateMetadataKey(source: source, key: key)
                }
            }
            return result
        default:
            throw .metadataNotObject(source: source, found: value.summary)
        }
    }

    private static func parseEntry(name: String, value: HeaderJSON, source: String)
        throws(CheckpointError) -> (shape: [Int], dtype: DType, begin: Int, end: Int)
    {
        guard case .object(let fields) = value else {
            throw .tensorEntryNotObject(source: source, name: name, found: value.summary)
        }
        var dtypeValue: HeaderJSON? = nil
        var shapeValue: HeaderJSON? = nil
        var offsetsValue: HeaderJSON? = nil
        for (key, item) in fields {
            switch key {
            case "dtype":
                if dtypeValue != nil { throw .duplicateField(source: source, name: name, field: key) }
                dtypeValue = item
            case "shape":
                if shapeValue != nil { throw .duplicateField(source: source, name: name, field: key) }
                shapeValue = item
            case "data_offsets":
                if offsetsValue != nil { throw .duplicateField(source: source, name: name, field: key) }
                offsetsValue = item
            default:
                continue  // Unknown fields are ignored, as upstream does.
            }
        }
        guard let dtypeValue else { throw .missingField(source: source, name: name, field: "dtype") }
        guard let shapeValue else { throw .missingField(source: source, name: name, field: "shape") }
        guard let offsetsValue else { throw .missingField(source: source, name: name, field: "data_offsets") }

        guard case .string(let dtypeText) = dtypeValue else {
            throw .wrongFieldType(source: source, name: name, field: "dtype",
                                  expected: "a string, one of \(CheckpointError.allowedDTypes)",
                                  found: dtypeValue.summary)
        }
        guard let dtype = DType(rawValue: dtypeText) else {
            throw .unknownDType(source: source, name: name, dtype: dtypeText)
        }

        let shapeExpectation = "an array of non-negative integers"
        guard case .array(let dims) = shapeValue else {
            throw .wrongFieldType(source: source, name: name, field: "shape",
                                  expected: shapeExpectation, found: shapeValue.summary)
        }
        var shape: [Int] = []
        shape.reserveCapacity(dims.count)
        for dim in dims {
            guard case .integer(let n) = dim else {
                throw .wrongFieldType(source: source, name: name, field: "shape",
                                      expected: shapeExpectation, found: shapeValue.summary)
            }
            shape.append(n)
        }
        if shape.contains(where: { $0 < 0 }) {
            throw .negativeDimension(source: source, name: name, shape: shape)
        }

        guard case .array(let offsets) = offsetsValue, offsets.count == 2,
              case .integer(let begin) = offsets[0], case .integer(let end) = offsets[1],
              begin >= 0, end >= begin
        else {
            throw .invalidOffsets(source: source, name: name, found: offsetsValue.summary)
        }
        return (shape, dtype, begin, end)
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

    /// IEEE 754 binary16 bits → Float (exact; handles subnormals, infinities and NaN).
    static func floatFromHalfBits(_ bits: UInt16) -> Float {
        let sign = UInt32(bits & 0x8000) << 16
        let exponent = UInt32(bits >> 10) & 0x1F
        var mantissa = UInt32(bits) & 0x3FF
        if exponent == 0x1F {  // infinity or NaN
            return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))
        }
        if exponent == 0 {
            if mantissa == 0 { return Float(bitPattern: sign) }
            // Subnormal half: normalise into a Float.
            var e: UInt32 = 127 - 15 + 1
            while mantissa & 0x400 == 0 {
                mantissa <<= 1
                e -= 1
            }
            mantissa &= 0x3FF
            return Float(bitPattern: sign | (e << 23) | (mantissa << 13))
        }
        return Float(bitPattern: sign | ((exponent + 127 - 15) << 23) | (mantissa << 13))
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
    /// that the caller can reject duplicate keys.
    fileprivate enum HeaderJSON {
        case object([(String, HeaderJSON)])
        case array([HeaderJSON])
        case string(String)
        /// An integer that fits in `Int`.
        case integer(Int)
        /// Any other number (fraction, exponent or out of `Int` range), as written.
        case number(String)
        case bool(Bool)
        case null

        /// A short description for error messages.
        var summary: String {
            let text: String
            switch self {
            case .object: text = "an object"
            case .array(let items):
                let rendered = "[" + items.prefix(8).map(\.compact).joined(separator: ",")
                    + (items.count > 8 ? ",…]" : "]")
                text = "the array \(rendered)"
            case .string(let s): text = "the string \(Self.quoted(s))"
            case .integer(let n): text = "the integer \(n)"
            case .number(let s): text = "the number \(Self.clip(s))"
            case .bool(let b): text = "the boolean \(b)"
            case .null: text = "null"
            }
            return text
        }

        private var compact: String {
            switch self {
            case .object: return "{…}"
            case .array(let items): return items.isEmpty ? "[]" : "[…]"
            case .string(let s): return Self.quoted(s)
            case .integer(let n): return String(n)
            case .number(let s): return Self.clip(s)
            case .bool(let b): return String(b)
            case .null: return "null"
            }
        }

        private static func clip(_ s: String) -> String {
            s.count > 40 ? String(s.prefix(40)) + "…" : s
        }

        private static func quoted(_ s: String) -> String {
            var out = [UInt8]()
            SafeTensors.appendJSONString(clip(s), to: &out)
            return String(decoding: out, as: UTF8.self)
        }
    }

    fileprivate struct HeaderJSONError: Error {
        var offset: Int
        var reason: String
    }

    /// A strict RFC 8259 parser over already UTF-8-validated bytes, with a nesting limit so
    /// hostile headers cannot exhaust the stack.
    fileprivate final class HeaderJSONParser {
        static let maxDepth = 64
        let bytes: ArraySlice<UInt8>
        var position: Int

        init(bytes: ArraySlice<UInt8>) {
            self.bytes = bytes
            self.position = bytes.startIndex
        }

        private var offset: Int { position - bytes.startIndex }

        private func fail(_ reason: String) -> HeaderJSONError {
            HeaderJSONError(offset: offset, reason: reason)
        }

        private func describe(_ byte: UInt8) -> String {
            if byte >= 0x20 && byte < 0x7F { return "'\(Character(Unicode.Scalar(byte)))'" }
            let hex = String(byte, radix: 16, uppercase: true)
            return "byte 0x\(hex.count < 2 ? "0" + hex : hex)"
        }

        func parseDocument() throws(HeaderJSONError) -> HeaderJSON {
            skipWhitespace()
            let value = try parseValue(depth: 0)
            skipWhitespace()
            if position < bytes.endIndex {
                throw fail("unexpected \(describe(bytes[position])) after the end of the top-level value (only whitespace padding may follow)")
            }
            return value
        }

        private func skipWhitespace() {
            while position < bytes.endIndex {
                switch bytes[position] {
                case 0x20, 0x09, 0x0A, 0x0D: position += 1
                default: return
                }
            }
        }

        private func parseValue(depth: Int) throws(HeaderJSONError) -> HeaderJSON {
            guard position < bytes.endIndex else { throw fail("unexpected end of header, expected a value") }
            switch bytes[position] {
            case UInt8(ascii: "{"): return try parseObject(depth: depth + 1)
            case UInt8(ascii: "["): return try parseArray(depth: depth + 1)
            case UInt8(ascii: "\""): return .string(try parseString())
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
            case UInt8(ascii: "t"): try expectLiteral("true"); return .bool(true)
            case UInt8(ascii: "f"): try expectLiteral("false"); return .bool(false)
            case UInt8(ascii: "n"): try expectLiteral("null"); return .null
            case let byte: throw fail("unexpected \(describe(byte)), expected a value")
            }
        }

        private func expectLiteral(_ literal: StaticString) throws(HeaderJSONError) {
            let text = literal.withUTF8Buffer { Array($0) }
            guard bytes.endIndex - position >= text.count,
                  bytes[position..<(position + text.count)].elementsEqual(text)
            else { throw fail("invalid literal, expected '\(literal)'") }
            position += text.count
        }

        private func parseObject(depth: Int) throws(HeaderJSONError) -> HeaderJSON {
            guard depth <= Self.maxDepth else { throw fail("nesting deeper than \(Self.maxDepth) levels") }
            position += 1  // {
            var members: [(String, HeaderJSON)] = []
            skipWhitespace()
            if position < bytes.endIndex, bytes[position] == UInt8(ascii: "}") {
                position += 1
                return .object(members)
            }
            while true {
                skipWhitespace()
                guard position < bytes.endIndex else { throw fail("unexpected end of header inside an object") }
                guard bytes[position] == UInt8(ascii: "\"") else {
                    throw fail("unexpected \(describe(bytes[position])), expected a string key")
                }
                let key = try parseString()
                skipWhitespace()
                guard position < bytes.endIndex, bytes[position] == UInt8(ascii: ":") else {
                    throw fail("expected ':' after object key")
                }
                position += 1
                skipWhitespace()
                let value = try parseValue(depth: depth)
                members.append((key, value))
                skipWhitespace()
                guard position < bytes.endIndex else { throw fail("unexpected end of header inside an object") }
                switch bytes[position] {
                case UInt8(ascii: ","): position += 1
                case UInt8(ascii: "}"): position += 1; return .object(members)
                case let byte: throw fail("unexpected \(describe(byte)) in an object, expected ',' or '}'")
                }
            }
        }

        private func parseArray(depth: Int) throws(HeaderJSONError) -> HeaderJSON {
            guard depth <= Self.maxDepth else { throw fail("nesting deeper than \(Self.maxDepth) levels") }
            position += 1  // [
            var items: [HeaderJSON] = []
            skipWhitespace()
            if position < bytes.endIndex, bytes[position] == UInt8(ascii: "]") {
                position += 1
                return .array(items)
            }
            while true {
                skipWhitespace()
                items.append(try parseValue(depth: depth))
                skipWhitespace()
                guard position < bytes.endIndex else { throw fail("unexpected end of header inside an array") }
                switch bytes[position] {
                case UInt8(ascii: ","): position += 1
                case UInt8(ascii: "]"): position += 1; return .array(items)
                case let byte: throw fail("unexpected \(describe(byte)) in an array, expected ',' or ']'")
                }
            }
        }

        private func parseHex4() throws(HeaderJSONError) -> UInt32 {
            guard bytes.endIndex - position >= 4 else { throw fail("truncated \\u escape") }
            var value: UInt32 = 0
            for _ in 0..<4 {
                let byte = bytes[position]
                let digit: UInt32
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - UInt8(ascii: "0"))
                case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(byte - UInt8(ascii: "a") + 10)
                case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(byte - UInt8(ascii: "A") + 10)
                default: throw fail("invalid hex digit \(describe(byte)) in \\u escape")
                }
                value = value << 4 | digit
                position += 1
            }
            return value
        }

        private func parseString() throws(HeaderJSONError) -> String {
            position += 1  // opening quote
            var out = [UInt8]()
            while true {
                guard position < bytes.endIndex else { throw fail("unterminated string") }
                let byte = bytes[position]
                switch byte {
                case UInt8(ascii: "\""):
                    position += 1
                    return String(decoding: out, as: UTF8.self)
                case UInt8(ascii: "\\"):
                    position += 1
                    guard position < bytes.endIndex else { throw fail("unterminated escape in string") }
                    let escape = bytes[position]
                    position += 1
                    switch escape {
                    case UInt8(ascii: "\""): out.append(UInt8(ascii: "\""))
                    case UInt8(ascii: "\\"): out.append(UInt8(ascii: "\\"))
                    case UInt8(ascii: "/"): out.append(UInt8(ascii: "/"))
                    case UInt8(ascii: "b"): out.append(0x08)
                    case UInt8(ascii: "f"): out.append(0x0C)
                    case UInt8(ascii: "n"): out.append(0x0A)
                    case UInt8(ascii: "r"): out.append(0x0D)
                    case UInt8(ascii: "t"): out.append(0x09)
                    case UInt8(ascii: "u"):
                        var scalar = try parseHex4()
                        if (0xD800...0xDBFF).contains(scalar) {
                            guard bytes.endIndex - position >= 2,
                                  bytes[position] == UInt8(ascii: "\\"),
                                  bytes[position + 1] == UInt8(ascii: "u")
                            else { throw fail("high surrogate \\u escape not followed by a low surrogate") }
                            position += 2
                            let low = try parseHex4()
                            guard (0xDC00...0xDFFF).contains(low) else {
                                throw fail("high surrogate \\u escape not followed by a low surrogate")
                            }
                            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                        } else if (0xDC00...0xDFFF).contains(scalar) {
                            throw fail("lone low surrogate \\u escape")
                        }
                        guard let unicode = Unicode.Scalar(scalar) else { throw fail("invalid \\u escape") }
                        out.append(contentsOf: Array(String(Character(unicode)).utf8))
                    default:
                        position -= 1
                        throw fail("invalid escape \(describe(escape)) after '\\' in string")
                    }
                case 0..<0x20:
                    throw fail("unescaped control character \(describe(byte)) in string")
                default:
                    out.append(byte)
                    position += 1
                }
            }
        }

        private func parseNumber() throws(HeaderJSONError) -> HeaderJSON {
            let start = position
            var negative = false
            if bytes[position] == UInt8(ascii: "-") {
                negative = true
                position += 1
            }
            func isDigit(_ b: UInt8) -> Bool { b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") }
            guard position < bytes.endIndex, isDigit(bytes[position]) else {
                throw fail("expected a digit in number")
            }
            var integer: Int? = 0
            if bytes[position] == UInt8(ascii: "0") {
                position += 1
            } else {
                while position < bytes.endIndex, isDigit(bytes[position]) {
                    let digit = Int(bytes[position] - UInt8(ascii: "0"))
                    if let current = integer {
                        let (times10, o1) = current.multipliedReportingOverflow(by: 10)
                        let (next, o2) = negative ? times10.subtractingReportingOverflow(digit)
                                                  : times10.addingReportingOverflow(digit)
                        integer = (o1 || o2) ? nil : next
                    }
                    position += 1
                }
            }
            var isInteger = true
            if position < bytes.endIndex, bytes[position] == UInt8(ascii: ".") {
                isInteger = false
                position += 1
                guard position < bytes.endIndex, isDigit(bytes[position]) else {
                    throw fail("expected a digit after the decimal point")
                }
                while position < bytes.endIndex, isDigit(bytes[position]) { position += 1 }
            }
            if position < bytes.endIndex, bytes[position] == UInt8(ascii: "e") || bytes[position] == UInt8(ascii: "E") {
                isInteger = false
                position += 1
                if position < bytes.endIndex, bytes[position] == UInt8(ascii: "+") || bytes[position] == UInt8(ascii: "-") {
                    position += 1
                }
                guard position < bytes.endIndex, isDigit(bytes[position]) else {
                    throw fail("expected a digit in the exponent")
                }
                while position < bytes.endIndex, isDigit(bytes[position]) { position += 1 }
            }
            if isInteger, let integer { return .integer(integer) }
            return .number(String(decoding: bytes[start..<position], as: UTF8.self))
        }
    }
}
