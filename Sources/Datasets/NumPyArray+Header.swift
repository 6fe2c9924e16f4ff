/// The `.npy` layout (numpy.lib.format; NEP 1, "A Simple File Format for NumPy Arrays"):
///
/// | bytes | content |
/// | --- | --- |
/// | 6 | magic `\x93NUMPY` |
/// | 1 + 1 | format version, major and minor: 1.0, 2.0 or 3.0 |
/// | 2 (v1) or 4 (v2, v3) | little-endian length `L` of the header |
/// | L | the header: a Python dict literal, ASCII (v1, v2) or UTF-8 (v3), padded with spaces and ending in `\n` |
/// | rest | the elements, C or Fortran order as the header says |
///
/// The header is `{'descr': '<f4', 'fortran_order': False, 'shape': (60000, 784), }`:
/// exactly the keys `descr` (a dtype string), `fortran_order` (a boolean) and `shape` (a tuple of
/// integers; `()` for a scalar, `(N,)` for one axis). NumPy reads it with `ast.literal_eval`;
/// this reader parses exactly that literal form and nothing more: no expressions, no escapes,
/// and an object array's pickle is never touched.
extension NumPyArray {
    /// The magic string at the start of every `.npy` file.
    static let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]  // \x93NUMPY

    /// Parses the bytes of a whole `.npy` file. `path` and `array` (the entry name without
    /// `.npy`, empty for a lone file) name the array in errors.
    public init(npy file: [UInt8], path: String, array: String) throws(DatasetError) {
        func fail(_ problem: NumPyProblem) -> DatasetError { .numpy(path: path, array: array, problem: problem) }
        guard file.count >= 8 else {
            if !file.starts(with: Self.magic.prefix(file.count)) { throw fail(.notNumPy) }
            throw fail(.truncatedHeader(expectedBytes: 10, foundBytes: file.count))
        }
        guard file.starts(with: Self.magic) else { throw fail(.notNumPy) }
        let (major, minor) = (Int(file[6]), Int(file[7]))
        guard minor == 0, (1...3).contains(major) else { throw fail(.unsupportedVersion(major: major, minor: minor)) }
        let lengthBytes = major == 1 ? 2 : 4
        guard file.count >= 8 + lengthBytes else {
            throw fail(.truncatedHeader(expectedBytes: 8 + lengthBytes, foundBytes: file.count))
        }
        var headerLength = 0
        for i in 0..<lengthBytes { headerLength |= Int(file[8 + i]) << (8 * i) }
        let headerStart = 8 + lengthBytes
        let dataStart = headerStart + headerLength
        guard file.count >= dataStart else {
            throw fail(.truncatedHeader(expectedBytes: dataStart, foundBytes: file.count))
        }
        let header = try NumPyHeader.parse(file[headerStart..<dataStart], utf8: major == 3)
            .get(orThrow: fail)
        let dtype = try NumPyHeader.dtype(header.descr).get(orThrow: fail)
        if header.fortranOrder { throw fail(.fortranOrder) }
        if header.shape.isEmpty { throw fail(.zeroDimensional) }

        var elements = 1
        var overflow = false
        for axis in header.shape + [dtype.size] where !overflow {
            (elements, overflow) = elements.multipliedReportingOverflow(by: axis)
        }
        let expected = overflow ? Int.max : elements
        let found = file.count - dataStart
        if found < expected { throw fail(.truncatedData(expectedBytes: expected, foundBytes: found)) }
        if found > expected { throw fail(.trailingData(expectedBytes: expected, foundBytes: found)) }
        self.init(shape: header.shape, dtype: dtype, bytes: Array(file[dataStart...]))
    }
}

/// The three values of a `.npy` header, and the strict parser of its dict literal.
struct NumPyHeader: Equatable {
    /// The dtype: a descriptor string (`<f4`), or the source text of a list of fields for a
    /// structured dtype (refused later).
    var descr: String
    var fortranOrder: Bool
    var shape: [Int]

    /// A header value of the literal form.
    private enum Value {
        case string(String), bool(Bool), tuple([Int]), list(String)

        var kind: String {
            switch self {
            case .string: return "a string"
            case .bool: return "True or False"
            case .tuple: return "a tuple"
            case .list: return "a list"
            }
        }
    }

    /// Parses the header bytes: ASCII (versions 1 and 2; Latin-1 bytes are refused as well,
    /// since no supported dtype needs them) or UTF-8 (version 3).
    static func parse(_ bytes: ArraySlice<UInt8>, utf8: Bool) -> Result<NumPyHeader, NumPyProblem> {
        let text: String
        if utf8 {
            guard let decoded = String(validating: bytes, as: UTF8.self) else {
                return .failure(.malformedHeader(reason: "the version 3.0 header is not valid UTF-8"))
            }
            text = decoded
        } else {
            guard bytes.allSatisfy({ $0 < 0x80 }) else {
                return .failure(.malformedHeader(reason: "the header holds non-ASCII bytes (use format version 3.0 for UTF-8)"))
            }
            text = String(decoding: bytes, as: UTF8.self)
        }
        guard text.hasSuffix("\n") else {
            return .failure(.malformedHeader(reason: "the header does not end with a newline"))
        }
        var parser = Parser(scalars: Array(text.unicodeScalars))
        do throws(SyntaxError) {
            return .success(try parser.dictionary())
        } catch {
            return .failure(.malformedHeader(reason: error.reason))
        }
    }

    /// The supported dtype for a descriptor, or the problem with it.
    static func dtype(_ descr: String) -> Result<NumPyArray.DType, NumPyProblem> {
        if descr.hasPrefix("[") { return .failure(.unsupportedDType(descr: shortened(descr))) }
        let code = descr.dropFirst()
        if descr == "O" || code.hasPrefix("O") { return .failure(.objectArray) }
        for dtype in NumPyArray.DType.allCases where code == dtype.descr.dropFirst() {
            switch (descr.first, dtype.size) {
            case ("<", _), ("|", 1), (">", 1): return .success(dtype)
            case (">", _): return .failure(.bigEndian(descr: descr))
            default: break
            }
        }
        return .failure(.unsupportedDType(descr: shortened(descr)))
    }

    private static func shortened(_ text: String) -> String {
        text.count > 60 ? String(text.prefix(60)) + "…" : text
    }

    /// Why the header text does not parse.
    struct SyntaxError: Error {
        var reason: String
    }

    /// A recursive-descent parser for `{'key': value, ...}` with string, boolean, integer-tuple
    /// and (for structured dtypes) bracketed-list values; whitespace anywhere between tokens.
    private struct Parser {
        var scalars: [Unicode.Scalar]
        var position = 0

        init(scalars: [Unicode.Scalar]) { self.scalars = scalars }

        mutating func dictionary() throws(SyntaxError) -> NumPyHeader {
            try expect("{")
            var values: [String: Value] = [:]
            skipSpaces()
            while peek() != "}" {
                let key = try string()
                guard ["descr", "fortran_order", "shape"].contains(key) else {
                    throw SyntaxError(reason: "unexpected key '\(key)' (expected 'descr', 'fortran_order' and 'shape')")
                }
                try expect(":")
                let value = try self.value()
                guard values.updateValue(value, forKey: key) == nil else {
                    throw SyntaxError(reason: "the key '\(key)' appears twice")
                }
                skipSpaces()
                if peek() == "," { position += 1; skipSpaces() } else if peek() != "}" {
                    throw SyntaxError(reason: "expected ',' or '}' \(here)")
                }
            }
            position += 1
            skipSpaces()
            guard position == scalars.count else {
                throw SyntaxError(reason: "unexpected text after the closing '}' \(here)")
            }
            for key in ["descr", "fortran_order", "shape"] where values[key] == nil {
                throw SyntaxError(reason: "the key '\(key)' is missing")
            }
            let descr: String
            switch values["descr"] {
            case .string(let text)?, .list(let text)?: descr = text
            case let other?: throw SyntaxError(reason: "'descr' is \(other.kind), expected a string")
            case nil: throw SyntaxError(reason: "the key 'descr' is missing")
            }
            guard case .bool(let fortranOrder)? = values["fortran_order"] else {
                throw SyntaxError(reason: "'fortran_order' is \(values["fortran_order"]?.kind ?? "missing"), expected True or False")
            }
            guard case .tuple(let shape)? = values["shape"] else {
                throw SyntaxError(reason: "'shape' is \(values["shape"]?.kind ?? "missing"), expected a tuple of integers")
            }
            return NumPyHeader(descr: descr, fortranOrder: fortranOrder, shape: shape)
        }

        private mutating func value() throws(SyntaxError) -> Value {
            skipSpaces()
            switch peek() {
            case "'", "\"": return .string(try string())
            case "(": return .tuple(try tuple())
            case "[": return .list(try bracketed())
            default:
                if word("True") { return .bool(true) }
                if word("False") { return .bool(false) }
                throw SyntaxError(reason: "expected a string, True, False or a tuple \(here)")
            }
        }

        /// A quoted string without escapes (no dtype descriptor needs one).
        private mutating func string() throws(SyntaxError) -> String {
            skipSpaces()
            guard let quote = peek(), quote == "'" || quote == "\"" else {
                throw SyntaxError(reason: "expected a quoted string \(here)")
            }
            position += 1
            var text = String.UnicodeScalarView()
            while let scalar = peek(), scalar != quote {
                if scalar == "\\" { throw SyntaxError(reason: "escape sequences in strings are not supported \(here)") }
                if scalar == "\n" { throw SyntaxError(reason: "unterminated string \(here)") }
                text.append(scalar)
                position += 1
            }
            guard peek() == quote else { throw SyntaxError(reason: "unterminated string") }
            position += 1
            return String(text)
        }

        /// `()`, `(N,)` or `(N, M, ...)` with an optional trailing comma; non-negative decimal integers.
        private mutating func tuple() throws(SyntaxError) -> [Int] {
            try expect("(")
            var items: [Int] = []
            var trailingComma = false
            skipSpaces()
            while peek() != ")" {
                items.append(try integer())
                skipSpaces()
                trailingComma = peek() == ","
                if trailingComma { position += 1; skipSpaces() } else if peek() != ")" {
                    throw SyntaxError(reason: "expected ',' or ')' in the shape \(here)")
                }
            }
            position += 1
            if items.count == 1 && !trailingComma {
                throw SyntaxError(reason: "the shape (\(items[0])) is not a tuple; a one-axis shape is written (\(items[0]),)")
            }
            return items
        }

        private mutating func integer() throws(SyntaxError) -> Int {
            var value = 0
            var digits = 0
            while let scalar = peek(), scalar >= "0", scalar <= "9" {
                let (times, o1) = value.multipliedReportingOverflow(by: 10)
                let (sum, o2) = times.addingReportingOverflow(Int(scalar.value) - 48)
                guard !o1, !o2 else { throw SyntaxError(reason: "an axis size is too large \(here)") }
                value = sum
                digits += 1
                position += 1
            }
            guard digits > 0 else { throw SyntaxError(reason: "expected a non-negative integer axis size \(here)") }
            return value
        }

        /// The source text of a bracketed list (a structured dtype), brackets balanced.
        private mutating func bracketed() throws(SyntaxError) -> String {
            let start = position
            var depth = 0
            repeat {
                guard let scalar = peek() else { throw SyntaxError(reason: "unterminated list") }
                if scalar == "[" { depth += 1 } else if scalar == "]" { depth -= 1 }
                position += 1
            } while depth > 0
            var text = String.UnicodeScalarView()
            text.append(contentsOf: scalars[start..<position])
            return String(text)
        }

        private mutating func expect(_ scalar: Unicode.Scalar) throws(SyntaxError) {
            skipSpaces()
            guard peek() == scalar else { throw SyntaxError(reason: "expected '\(scalar)' \(here)") }
            position += 1
        }

        private mutating func word(_ text: String) -> Bool {
            let word = Array(text.unicodeScalars)
            guard scalars[position...].starts(with: word) else { return false }
            position += word.count
            return true
        }

        private func peek() -> Unicode.Scalar? { position < scalars.count ? scalars[position] : nil }

        private mutating func skipSpaces() {
            while let scalar = peek(), scalar == " " || scalar == "\n" || scalar == "\t" || scalar == "\r" { position += 1 }
        }

        /// "at character N" for messages.
        private var here: String { "at character \(position)" }
    }
}

extension Result where Failure == NumPyProblem {
    /// The value, or the problem thrown as a ``DatasetError`` made by `wrap`.
    func get(orThrow wrap: (NumPyProblem) -> DatasetError) throws(DatasetError) -> Success {
        switch self {
        case .success(let value): return value
        case .failure(let problem): throw wrap(problem)
        }
    }
}
