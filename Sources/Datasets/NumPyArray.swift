import FileSupport

/// One array read from a NumPy `.npy` file (numpy.lib.format, "NEP 1 — A Simple File Format
/// for NumPy Arrays"), or from one entry of an `.npz` archive (``NumPyArchive``).
///
/// Only what a data set needs is read: C-ordered, little-endian arrays of at least one axis
/// whose dtype is one of ``DType`` (uint8 and float32 samples, integer class ids). Everything
/// else is refused with a ``DatasetError/numpy(path:array:problem:)`` that says what to do.
/// Nothing is ever evaluated or unpickled. The file layout is in `NumPyArray+Header.swift`.
public struct NumPyArray: Sendable, Equatable {
    /// The element types read, with NumPy's little-endian descriptors.
    public enum DType: String, Sendable, CaseIterable {
        case uint8, int8, int16, uint16, int32, uint32, int64, uint64, float32

        /// Bytes per element.
        public var size: Int {
            switch self {
            case .uint8, .int8: return 1
            case .int16, .uint16: return 2
            case .int32, .uint32, .float32: return 4
            case .int64, .uint64: return 8
            }
        }

        /// The descriptor NumPy writes for this type (`|u1`, `<f4`, …).
        public var descr: String {
            switch self {
            case .uint8: return "|u1"
            case .int8: return "|i1"
            case .int16: return "<i2"
            case .uint16: return "<u2"
            case .int32: return "<i4"
            case .uint32: return "<u4"
            case .int64: return "<i8"
            case .uint64: return "<u8"
            case .float32: return "<f4"
            }
        }

        /// Whether the elements are integers (usable as class ids).
        public var isInteger: Bool { self != .float32 }

        /// The supported descriptors, for messages.
        static var supportedList: String { allCases.map { "'\($0.descr)' (\($0.rawValue))" }.joined(separator: ", ") }
        /// The integer descriptors, for messages.
        static var integerList: String {
            allCases.filter(\.isInteger).map { "'\($0.descr)'" }.joined(separator: ", ")
        }
    }

    /// The largest array (data section or whole file) read by default: 4 GiB.
    public static let defaultByteLimit = 4 << 30

    /// The axis sizes, outermost first; never empty (0-d arrays are refused).
    public let shape: [Int]
    /// The element type.
    public let dtype: DType
    /// The elements, row-major (C order), little-endian; `count * dtype.size` bytes.
    public let bytes: [UInt8]

    /// Creates an array from little-endian, C-ordered element bytes. The byte count must match
    /// the shape and dtype, and the shape must have at least one axis (a programming error
    /// otherwise; file content goes through ``init(npy:path:array:)``, which throws instead).
    public init(shape: [Int], dtype: DType, bytes: [UInt8]) {
        precondition(!shape.isEmpty && shape.allSatisfy { $0 >= 0 }, "NumPyArray: bad shape \(shape)")
        precondition(shape.reduce(1, *) * dtype.size == bytes.count,
                     "NumPyArray: \(bytes.count) bytes do not fill shape \(shape) of \(dtype)")
        self.shape = shape
        self.dtype = dtype
        self.bytes = bytes
    }

    /// The number of elements (the product of the shape).
    public var count: Int { shape.reduce(1, *) }

    /// Reads the `.npy` file at `path` (at most `byteLimit` bytes).
    public init(path: String, byteLimit: Int = NumPyArray.defaultByteLimit) throws(DatasetError) {
        let fileBytes: [UInt8]
        do throws(FileError) {
            fileBytes = try FileBytes.read(path, limit: byteLimit)
        } catch {
            throw .numpy(path: path, array: "", problem: .unreadable(reason: error.reason))
        }
        try self.init(npy: fileBytes, path: path, array: "")
    }

    /// The elements of a float32 array, `nil` for any other dtype.
    public func floats() -> [Float]? {
        guard dtype == .float32 else { return nil }
        return decode(UInt32.self) { Float(bitPattern: UInt32(littleEndian: $0)) }
    }

    /// The elements of a uint8 array, `nil` for any other dtype.
    public func uint8s() -> [UInt8]? {
        dtype == .uint8 ? bytes : nil
    }

    /// The elements of an integer array as class ids, for the labels of a data set.
    /// Throws ``NumPyProblem/labelsDType(descr:)`` for float32 and
    /// ``NumPyProblem/labelOutOfRange(index:label:classCount:)`` (`classCount` nil) for the
    /// first value outside `0...Int32.max`; `path` and `array` name the array in the error.
    public func classIds(path: String, array: String) throws(DatasetError) -> [Int32] {
        func fail(_ problem: NumPyProblem) -> DatasetError { .numpy(path: path, array: array, problem: problem) }
        func convert<T: FixedWidthInteger>(_: T.Type) throws(DatasetError) -> [Int32] {
            let values: [T] = decode(T.self) { T(littleEndian: $0) }
            var result = [Int32](repeating: 0, count: values.count)
            for (index, value) in values.enumerated() {
                guard value >= 0, value <= Int32.max else {
                    throw fail(.labelOutOfRange(index: index, label: String(value), classCount: nil))
                }
                result[index] = Int32(value)
            }
            return result
        }
        switch dtype {
        case .uint8: return try convert(UInt8.self)
        case .int8: return try convert(Int8.self)
        case .int16: return try convert(Int16.self)
        case .uint16: return try convert(UInt16.self)
        case .int32: return try convert(Int32.self)
        case .uint32: return try convert(UInt32.self)
        case .int64: return try convert(Int64.self)
        case .uint64: return try convert(UInt64.self)
        case .float32: throw fail(.labelsDType(descr: dtype.descr))
        }
    }

    /// The elements as `T`, each made from its little-endian bit pattern by `fromLittleEndian`
    /// (the identity on little-endian machines). One copy of the bytes, no per-element calls
    /// beyond `fromLittleEndian`.
    private func decode<T: FixedWidthInteger, R>(_: T.Type, _ fromLittleEndian: (T) -> R) -> [R] {
        precondition(MemoryLayout<T>.size == dtype.size && MemoryLayout<R>.size == dtype.size)
        let n = count
        return [R](unsafeUninitializedCapacity: n) { buffer, initialized in
            bytes.withUnsafeBytes { raw in
                for i in 0..<n {
                    buffer[i] = fromLittleEndian(raw.loadUnaligned(fromByteOffset: i * MemoryLayout<T>.size, as: T.self))
                }
            }
            initialized = n
        }
    }
}
