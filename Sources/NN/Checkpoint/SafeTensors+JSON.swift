// The strict JSON parser behind the safetensors header (see SafeTensors.swift): RFC 8259 over
// UTF-8-validated bytes, members kept in order with duplicates (so that decoding can refuse
// duplicate keys), exact integers for offsets, byte offsets in errors and a nesting limit.

extension SafeTensors {
    /// that the caller can reject duplicate keys.
    enum HeaderJSON {
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

    struct HeaderJSONError: Error {
        var offset: Int
        var reason: String
    }

    /// A strict RFC 8259 parser over already UTF-8-validated bytes, with a nesting limit so
    /// hostile headers cannot exhaust the stack.
    final class HeaderJSONParser {
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
