// Decoding safetensors: the header alone (`decodeHeader`, `readHeader(from:)`) and whole files
// (`decode`). Both go through the same checks, so a header that `readHeader` accepts describes
// a file that `read(from:)` accepts, bar the tensors' bytes themselves.

import FileSupport

extension SafeTensors {
    /// What a safetensors header says: the metadata and where every tensor's bytes are,
    /// validated exactly as `decode` validates a whole file (limits, UTF-8, strict JSON, dtypes,
    /// shapes, byte lengths, contiguous and non-overlapping offsets that cover the data buffer).
    public struct Header: Sendable, Equatable {
        /// One tensor's entry: name, element type, shape and its bytes' place in the data buffer.
        public struct Entry: Sendable, Equatable {
            public var name: String
            public var dtype: SafeTensors.DType
            public var shape: [Int]
            /// Byte range of the tensor, relative to the start of the data buffer.
            public var dataOffsets: Range<Int>

            public init(name: String, dtype: SafeTensors.DType, shape: [Int], dataOffsets: Range<Int>) {
                self.name = name
                self.dtype = dtype
                self.shape = shape
                self.dataOffsets = dataOffsets
            }
        }

        /// The `__metadata__` strings (empty when there are none).
        public var metadata: [String: String]
        /// The tensors in the order of their data offsets (the order `decode` returns them in).
        public var entries: [Entry]
        /// Where the data buffer starts in the file: 8 + the header length.
        public var dataStart: Int
    }

    /// Reads and validates only the header of the checkpoint at `path`: 8 bytes, then the JSON
    /// header, never the tensors. The limits are those of `read(from:)`: the file is at most
    /// `maxFileSize` bytes and the header at most `maxHeaderLength`.
    ///
    /// Use it to look at a checkpoint's metadata (its recipe key, say) without loading megabytes
    /// of weights. I/O problems are `.io(source: path, …)`; a bad header the same errors as `read`.
    public static func readHeader(from path: String) throws(CheckpointError) -> Header {
        let head = try readPrefix(path, count: 8)
        guard head.fileSize <= maxFileSize else {
            throw .io(source: path, reason: "file is \(head.fileSize) bytes, larger than the limit of \(maxFileSize) bytes")
        }
        guard head.bytes.count == 8 else { throw .fileTooShort(source: path, size: head.bytes.count) }
        let length = declaredHeaderLength(head.bytes)
        guard length <= UInt64(maxHeaderLength) else {
            throw .headerTooLarge(source: path, headerLength: length, limit: maxHeaderLength)
        }
        // Never read (or allocate) past the file's end: a lying length is refused by decodeHeader.
        let whole = try readPrefix(path, count: min(8 + Int(length), head.fileSize))
        return try decodeHeader(whole.bytes, fileSize: whole.fileSize, source: path)
    }

    /// Parses and validates a safetensors header. `bytes` are the first bytes of the file: at
    /// least the 8-byte length and the JSON header (anything after them is ignored); `fileSize`
    /// is the size of the whole file, against which the tensors' offsets are checked. `source`
    /// (usually the path) is only used in error messages.
    public static func decodeHeader(_ bytes: [UInt8], fileSize: Int, source: String) throws(CheckpointError) -> Header {
        guard fileSize >= 8, bytes.count >= 8 else { throw .fileTooShort(source: source, size: min(fileSize, bytes.count)) }
        let headerLength64 = declaredHeaderLength(bytes)
        guard headerLength64 <= UInt64(maxHeaderLength) else {
            throw .headerTooLarge(source: source, headerLength: headerLength64, limit: maxHeaderLength)
        }
        let headerLength = Int(headerLength64)
        guard headerLength <= min(fileSize, bytes.count) - 8 else {
            throw .headerExceedsFile(source: source, headerLength: headerLength64, available: min(fileSize, bytes.count) - 8)
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
        let bufferLength = fileSize - dataStart
        var entries: [(index: Int, entry: Header.Entry)] = []
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
            entries.append((entries.count, Header.Entry(name: name, dtype: entry.dtype, shape: entry.shape,
                                                        dataOffsets: entry.begin..<entry.end)))
        }

        entries.sort { a, b in
            let x = a.entry.dataOffsets, y = b.entry.dataOffsets
            if x.lowerBound != y.lowerBound { return x.lowerBound < y.lowerBound }
            if x.upperBound != y.upperBound { return x.upperBound < y.upperBound }
            return a.index < b.index
        }
        var covered = 0
        var previous: Header.Entry? = nil
        for (_, entry) in entries {
            let range = entry.dataOffsets
            if range.lowerBound < covered, let previous {
                throw .overlappingOffsets(source: source, name: entry.name, begin: range.lowerBound, end: range.upperBound,
                                          other: previous.name, otherBegin: previous.dataOffsets.lowerBound,
                                          otherEnd: previous.dataOffsets.upperBound)
            }
            if range.lowerBound > covered {
                throw .gapInData(source: source, start: covered, end: range.lowerBound, before: entry.name)
            }
            covered = range.upperBound
            previous = entry
        }
        guard covered == bufferLength else {
            throw .bufferNotCovered(source: source, used: covered, bufferLength: bufferLength)
        }
        return Header(metadata: metadata, entries: entries.map(\.entry), dataStart: dataStart)
    }

    /// Parses and validates a whole safetensors file. `source` (usually the path) is only
    /// used in error messages.
    public static func decode(_ bytes: [UInt8], source: String) throws(CheckpointError) -> SafeTensors {
        let header = try decodeHeader(bytes, fileSize: bytes.count, source: source)
        let start = header.dataStart
        let tensors = header.entries.map { entry in
            SafeTensors.Tensor(name: entry.name, shape: entry.shape, dtype: entry.dtype,
                               bytes: Array(bytes[(start + entry.dataOffsets.lowerBound)..<(start + entry.dataOffsets.upperBound)]))
        }
        return SafeTensors(tensors: tensors, metadata: header.metadata)
    }

    // MARK: - Helpers

    /// N from the first 8 bytes (u64 little-endian); `bytes` has at least 8.
    private static func declaredHeaderLength(_ bytes: [UInt8]) -> UInt64 {
        var length: UInt64 = 0
        for i in 0..<8 { length |= UInt64(bytes[i]) << (8 * UInt64(i)) }
        return length
    }

    /// `FileBytes.prefix` with its error as `.io(source: path, …)`.
    private static func readPrefix(_ path: String, count: Int) throws(CheckpointError) -> (bytes: [UInt8], fileSize: Int) {
        do throws(FileError) {
            return try FileBytes.prefix(path, count: count)
        } catch {
            throw .io(source: path, reason: error.reason)
        }
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
}
