internal import DistilleryProtoC

/// Memory for one outgoing protobuf-c `Envelope`: the C structs, strings and arrays it points
/// to stay alive until the arena is released, which frees them all together.
///
/// protobuf-c's `pack` only reads the structs, so nothing here is ever handed to
/// `free_unpacked`.
final class CArena {
    private var blocks: [UnsafeMutableRawPointer] = []
    /// When true (encode), a string with a NUL character is refused because protobuf-c would
    /// silently cut it there; when false (``WireCodec/encodeEnvelope(_:)``) it is cut.
    private let refusesNUL: Bool

    init(refusesNUL: Bool) {
        self.refusesNUL = refusesNUL
    }

    deinit {
        for block in blocks { block.deallocate() }
    }

    /// Memory for `count` (at least one) values of the trivial C type `T`, zeroed when asked
    /// (C structs; strings and arrays are written in full by their callers).
    private func allocate<T>(_: T.Type, count: Int, zeroed: Bool = false) -> UnsafeMutablePointer<T> {
        let bytes = max(1, count) * MemoryLayout<T>.stride
        let raw = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: max(16, MemoryLayout<T>.alignment))
        if zeroed {
            raw.initializeMemory(as: UInt8.self, repeating: 0, count: bytes)
        }
        blocks.append(raw)
        return raw.bindMemory(to: T.self, capacity: max(1, count))
    }

    /// A C message struct set up by its protobuf-c `__init` function (descriptor, defaults).
    func message<T>(_ initialize: (UnsafeMutablePointer<T>?) -> Void) -> UnsafeMutablePointer<T> {
        let p = allocate(T.self, count: 1, zeroed: true)
        initialize(p)
        return p
    }

    /// A NUL-terminated copy of `string`.
    func string(_ string: String, _ path: @autoclosure () -> String) throws(WireError) -> UnsafeMutablePointer<CChar> {
        var s = string
        let count = s.utf8.count
        let p = allocate(CChar.self, count: count + 1)
        let check = refusesNUL
        let nul: Int? = s.withUTF8 { utf8 in
            guard let base = utf8.baseAddress, count > 0 else { return nil }
            UnsafeMutableRawPointer(p).copyMemory(from: base, byteCount: count)
            return check ? firstNUL(in: UnsafeRawBufferPointer(utf8)) : nil
        }
        p[count] = 0
        if let nul {
            throw WireError(.invalid, "\(path()) contains a NUL character at byte \(nul); protobuf-c would cut the string there")
        }
        return p
    }

    /// An array of C strings (nil when empty, as protobuf-c expects for `n == 0`).
    func strings(_ strings: [String], _ path: String) throws(WireError)
        -> UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? {
        guard !strings.isEmpty else { return nil }
        let p = allocate(UnsafeMutablePointer<CChar>?.self, count: strings.count)
        for (i, s) in strings.enumerated() {
            p[i] = try string(s, "\(path)[\(i)]")
        }
        return p
    }

    /// A copy of `values` (nil when empty).
    func array<T>(_ values: [T]) -> UnsafeMutablePointer<T>? {
        guard !values.isEmpty else { return nil }
        let p = allocate(T.self, count: values.count)
        for (i, v) in values.enumerated() { p[i] = v }
        return p
    }

    /// C enum values of Swift enum cases (nil when empty).
    func enums<E: WireEnum, C: RawRepresentable>(_ values: [E], _ make: (UInt32) -> C) -> UnsafeMutablePointer<C>?
        where C.RawValue == UInt32 {
        array(values.map { make($0.rawValue) })
    }

    /// An array of pointers to C messages built by `convert` (nil when empty).
    func messages<S, C>(_ items: [S], _ convert: (S, Int) throws(WireError) -> UnsafeMutablePointer<C>)
        throws(WireError) -> UnsafeMutablePointer<UnsafeMutablePointer<C>?>? {
        guard !items.isEmpty else { return nil }
        let p = allocate(UnsafeMutablePointer<C>?.self, count: items.count)
        for (i, item) in items.enumerated() {
            p[i] = try convert(item, i)
        }
        return p
    }
}

/// Reading protobuf-c structs returned by `unpack` into Swift values.
enum CRead {
    /// A C string as Swift; NULL is "". Invalid UTF-8 is refused (protobuf-c does not check it).
    static func string(_ p: UnsafePointer<CChar>?, _ path: @autoclosure () -> String) throws(WireError) -> String {
        guard let p else { return "" }
        if let s = String(validatingCString: p) { return s }
        let preview = lossy(p).unicodeScalars.prefix(40)
        throw WireError(.invalid, "\(path()) is not valid UTF-8 (\"\(String(String.UnicodeScalarView(preview)))\")")
    }

    /// A C string as Swift, repairing invalid UTF-8 (for error context only); NULL is "".
    static func lossy(_ p: UnsafePointer<CChar>?) -> String {
        guard let p else { return "" }
        return String(decoding: UnsafeRawBufferPointer(start: p, count: cStringLength(p)), as: UTF8.self)
    }

    static func strings(_ n: Int, _ p: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?, _ path: String)
        throws(WireError) -> [String] {
        guard n > 0, let p else { return [] }
        var result: [String] = []
        result.reserveCapacity(n)
        for i in 0..<n {
            result.append(try string(p[i], "\(path)[\(i)]"))
        }
        return result
    }

    /// A known, non-UNSPECIFIED value of `E`.
    static func enumValue<E: WireEnum>(_ raw: UInt32, _ path: @autoclosure () -> String) throws(WireError) -> E {
        if let value = E(rawValue: raw) { return value }
        let shown = Int32(bitPattern: raw)
        let what = shown == 0 ? "0 (unspecified)" : "\(shown)"
        throw WireError(.invalid, "\(path()) is \(what), not a valid \(E.protoName); allowed: \(E.allowedValues)")
    }

    /// A known value of `E`, UNSPECIFIED (0) included (enums where 0 means "not reported").
    static func anyEnumValue<E: WireEnum>(_ raw: UInt32, _ path: @autoclosure () -> String) throws(WireError) -> E {
        if let value = E(rawValue: raw) { return value }
        throw WireError(.invalid, "\(path()) is \(Int32(bitPattern: raw)), not a valid \(E.protoName); allowed: \(E.allowedValues)")
    }

    static func enums<E: WireEnum, C: RawRepresentable>(_ n: Int, _ p: UnsafeMutablePointer<C>?, _ path: String)
        throws(WireError) -> [E] where C.RawValue == UInt32 {
        guard n > 0, let p else { return [] }
        var result: [E] = []
        result.reserveCapacity(n)
        for i in 0..<n {
            result.append(try enumValue(p[i].rawValue, "\(path)[\(i)]"))
        }
        return result
    }

    static func array<T>(_ n: Int, _ p: UnsafeMutablePointer<T>?) -> [T] {
        guard n > 0, let p else { return [] }
        return Array(UnsafeBufferPointer(start: p, count: n))
    }

    /// Repeated sub-messages; `convert` gets each struct and its path, e.g. "run_list.runs[2]".
    static func messages<C, S>(_ n: Int, _ p: UnsafeMutablePointer<UnsafeMutablePointer<C>?>?, _ path: String,
                               _ convert: (C, String) throws(WireError) -> S) throws(WireError) -> [S] {
        guard n > 0, let p else { return [] }
        var result: [S] = []
        result.reserveCapacity(n)
        for i in 0..<n {
            guard let item = p[i] else {
                throw WireError(.malformed, "\(path)[\(i)] is missing")
            }
            result.append(try convert(item.pointee, "\(path)[\(i)]"))
        }
        return result
    }

    /// A singular sub-message that must be present.
    static func required<C>(_ p: UnsafeMutablePointer<C>?, _ path: @autoclosure () -> String) throws(WireError) -> C {
        guard let p else { throw WireError(.invalid, "\(path()) is required but not set") }
        return p.pointee
    }
}
