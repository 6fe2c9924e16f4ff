// Errors of the safetensors checkpoint codec and of the layers that load models from it.
//
// Every case carries `source` (the file path, or "<in-memory>" for buffers that never touched
// the disk) and its `description` says precisely what is wrong and what would be allowed.

/// Everything that can go wrong while reading, validating or writing a checkpoint.
public enum CheckpointError: Error, CustomStringConvertible, Equatable, Sendable {

    // MARK: Container layout

    /// The file is shorter than the 8-byte little-endian header length that must start it.
    case fileTooShort(source: String, size: Int)
    /// The declared header length is larger than the 100 MB limit for headers.
    case headerTooLarge(source: String, headerLength: UInt64, limit: Int)
    /// The declared header length runs past the end of the file.
    case headerExceedsFile(source: String, headerLength: UInt64, available: Int)
    /// The header is not valid UTF-8; `offset` is the byte offset (within the header) of the
    /// first invalid sequence.
    case headerNotUTF8(source: String, offset: Int)
    /// The header is not valid JSON; `offset` is the byte offset (within the header) where
    /// parsing stopped.
    case invalidJSON(source: String, offset: Int, reason: String)
    /// The header is valid JSON but not a JSON object.
    case headerNotObject(source: String, found: String)

    // MARK: Tensor entries

    /// A tensor's header entry is not a JSON object.
    case tensorEntryNotObject(source: String, name: String, found: String)
    /// A tensor's header entry lacks one of "dtype", "shape", "data_offsets".
    case missingField(source: String, name: String, field: String)
    /// A tensor's header entry has a field of the wrong JSON type.
    case wrongFieldType(source: String, name: String, field: String, expected: String, found: String)
    /// A tensor's header entry has the same field twice.
    case duplicateField(source: String, name: String, field: String)
    /// A tensor's dtype is not one of `SafeTensors.DType.allCases`.
    case unknownDType(source: String, name: String, dtype: String)
    /// A tensor's shape has a negative dimension.
    case negativeDimension(source: String, name: String, shape: [Int])
    /// The element count or the byte length of a tensor does not fit in a 64-bit integer.
    case shapeOverflow(source: String, name: String, shape: [Int], dtype: String)
    /// "data_offsets" is not an array of two non-negative integers [begin, end] with begin ≤ end.
    case invalidOffsets(source: String, name: String, found: String)
    /// A tensor's data_offsets end beyond the data buffer.
    case offsetsOutOfBounds(source: String, name: String, begin: Int, end: Int, bufferLength: Int)
    /// Two tensors' byte ranges overlap.
    case overlappingOffsets(source: String, name: String, begin: Int, end: Int, other: String, otherBegin: Int, otherEnd: Int)
    /// Bytes `[start, end)` of the data buffer belong to no tensor.
    case gapInData(source: String, start: Int, end: Int, before: String)
    /// The tensors cover only the first `used` bytes of a data buffer of `bufferLength` bytes.
    case bufferNotCovered(source: String, used: Int, bufferLength: Int)
    /// A tensor's byte length is not product(shape) × dtype size.
    case byteLengthMismatch(source: String, name: String, dtype: String, shape: [Int], expected: Int, found: Int)
    /// Two tensors have the same name.
    case duplicateTensor(source: String, name: String)
    /// A tensor uses a name reserved by the format ("__metadata__").
    case reservedName(source: String, name: String)

    // MARK: Metadata

    /// "__metadata__" is not a JSON object.
    case metadataNotObject(source: String, found: String)
    /// A "__metadata__" value is not a string.
    case metadataValueNotString(source: String, key: String, found: String)
    /// A "__metadata__" key appears twice.
    case duplicateMetadataKey(source: String, key: String)

    // MARK: Model layer

    /// The model needs a tensor that the checkpoint does not contain.
    case missingTensor(source: String, name: String)
    /// A tensor exists but has a different shape than the model needs.
    case shapeMismatch(source: String, name: String, expected: [Int], found: [Int])
    /// The model needs a metadata key that the checkpoint does not contain.
    case missingMetadata(source: String, key: String)
    /// A metadata value exists but cannot be used.
    case invalidMetadata(source: String, key: String, value: String, reason: String)

    // MARK: I/O

    /// Reading or writing the file failed; `reason` names the operation and the OS error text.
    case io(source: String, reason: String)

    /// The file path (or "<in-memory>") the error is about.
    public var source: String {
        switch self {
        case .fileTooShort(let s, _), .headerTooLarge(let s, _, _), .headerExceedsFile(let s, _, _),
             .headerNotUTF8(let s, _), .invalidJSON(let s, _, _), .headerNotObject(let s, _),
             .tensorEntryNotObject(let s, _, _), .missingField(let s, _, _),
             .wrongFieldType(let s, _, _, _, _), .duplicateField(let s, _, _),
             .unknownDType(let s, _, _), .negativeDimension(let s, _, _),
             .shapeOverflow(let s, _, _, _), .invalidOffsets(let s, _, _),
             .offsetsOutOfBounds(let s, _, _, _, _), .overlappingOffsets(let s, _, _, _, _, _, _),
             .gapInData(let s, _, _, _), .bufferNotCovered(let s, _, _),
             .byteLengthMismatch(let s, _, _, _, _, _), .duplicateTensor(let s, _),
             .reservedName(let s, _), .metadataNotObject(let s, _),
             .metadataValueNotString(let s, _, _), .duplicateMetadataKey(let s, _),
             .missingTensor(let s, _), .shapeMismatch(let s, _, _, _), .missingMetadata(let s, _),
             .invalidMetadata(let s, _, _, _), .io(let s, _):
            return s
        }
    }

    public var description: String {
        let allowed = CheckpointError.allowedDTypes
        switch self {
        case let .fileTooShort(source, size):
            return "\(source): file is \(size) byte\(size == 1 ? "" : "s") long; a safetensors file must start with an 8-byte little-endian header length"
        case let .headerTooLarge(source, headerLength, limit):
            return "\(source): header length is \(headerLength) bytes; the limit is \(limit) bytes (is this a safetensors file?)"
        case let .headerExceedsFile(source, headerLength, available):
            return "\(source): header length is \(headerLength) bytes but only \(available) byte\(available == 1 ? "" : "s") follow\(available == 1 ? "s" : "") the 8-byte length field (file truncated or not a safetensors file)"
        case let .headerNotUTF8(source, offset):
            return "\(source): header is not valid UTF-8 (invalid byte sequence at header offset \(offset)); the header must be UTF-8 JSON"
        case let .invalidJSON(source, offset, reason):
            return "\(source): header is not valid JSON at header offset \(offset): \(reason)"
        case let .headerNotObject(source, found):
            return "\(source): header must be a JSON object mapping tensor names to {\"dtype\", \"shape\", \"data_offsets\"}; found \(found)"
        case let .tensorEntryNotObject(source, name, found):
            return "\(source): tensor \"\(name)\": entry must be an object {\"dtype\": …, \"shape\": […], \"data_offsets\": [begin, end]}; found \(found)"
        case let .missingField(source, name, field):
            return "\(source): tensor \"\(name)\": missing field \"\(field)\"; every tensor needs \"dtype\", \"shape\" and \"data_offsets\""
        case let .wrongFieldType(source, name, field, expected, found):
            return "\(source): tensor \"\(name)\": field \"\(field)\" must be \(expected); found \(found)"
        case let .duplicateField(source, name, field):
            return "\(source): tensor \"\(name)\": field \"\(field)\" appears more than once; each field may appear once"
        case let .unknownDType(source, name, dtype):
            return "\(source): tensor \"\(name)\": unknown dtype \"\(dtype)\"; allowed dtypes are \(allowed)"
        case let .negativeDimension(source, name, shape):
            return "\(source): tensor \"\(name)\": shape \(shape) has a negative dimension; dimensions must be ≥ 0"
        case let .shapeOverflow(source, name, shape, dtype):
            return "\(source): tensor \"\(name)\": shape \(shape) with dtype \(dtype) has a byte length that does not fit in a 64-bit integer"
        case let .invalidOffsets(source, name, found):
            return "\(source): tensor \"\(name)\": \"data_offsets\" must be an array of two non-negative integers [begin, end] with begin ≤ end; found \(found)"
        case let .offsetsOutOfBounds(source, name, begin, end, bufferLength):
            return "\(source): tensor \"\(name)\": data_offsets [\(begin), \(end)] exceed the data buffer of \(bufferLength) bytes; offsets must lie within [0, \(bufferLength)]"
        case let .overlappingOffsets(source, name, begin, end, other, otherBegin, otherEnd):
            return "\(source): tensor \"\(name)\" bytes [\(begin), \(end)) overlap tensor \"\(other)\" bytes [\(otherBegin), \(otherEnd)); tensors must occupy disjoint, contiguous ranges"
        case let .gapInData(source, start, end, before):
            return "\(source): data bytes [\(start), \(end)) before tensor \"\(before)\" belong to no tensor; tensors must cover the data buffer contiguously without gaps"
        case let .bufferNotCovered(source, used, bufferLength):
            return "\(source): tensors cover \(used) of the \(bufferLength) data bytes; the trailing \(bufferLength - used) bytes belong to no tensor, but tensors must cover the whole data buffer"
        case let .byteLengthMismatch(source, name, dtype, shape, expected, found):
            return "\(source): tensor \"\(name)\": \(dtype) shape \(shape) needs \(expected) bytes (product(shape) × dtype size) but has \(found)"
        case let .duplicateTensor(source, name):
            return "\(source): header key \"\(name)\" appears more than once; tensor names (and \"__metadata__\") must be unique"
        case let .reservedName(source, name):
            return "\(source): \"\(name)\" is reserved for metadata and cannot name a tensor"
        case let .metadataNotObject(source, found):
            return "\(source): \"__metadata__\" must be an object mapping strings to strings; found \(found)"
        case let .metadataValueNotString(source, key, found):
            return "\(source): metadata \"\(key)\" must be a string (metadata maps strings to strings); found \(found)"
        case let .duplicateMetadataKey(source, key):
            return "\(source): metadata key \"\(key)\" appears more than once; metadata keys must be unique"
        case let .missingTensor(source, name):
            return "\(source): checkpoint has no tensor \"\(name)\", which the model needs"
        case let .shapeMismatch(source, name, expected, found):
            return "\(source): tensor \"\(name)\" has shape \(found); the model needs shape \(expected)"
        case let .missingMetadata(source, key):
            return "\(source): checkpoint has no metadata \"\(key)\", which is required"
        case let .invalidMetadata(source, key, value, reason):
            return "\(source): metadata \"\(key)\" = \"\(value)\" is invalid: \(reason)"
        case let .io(source, reason):
            return "\(source): \(reason)"
        }
    }

    static let allowedDTypes = SafeTensors.DType.allCases.map(\.rawValue).joined(separator: ", ")
}
