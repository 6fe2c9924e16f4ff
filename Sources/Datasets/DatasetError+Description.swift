extension DatasetError: CustomStringConvertible {
    /// A one-paragraph, operator-facing explanation: the file, the problem, the remedy.
    public var description: String {
        switch self {
        case .missingFile(let path):
            return "Dataset file not found: \(path). Install the data with `Scripts/setup` "
                + "(or the Debian package `dataset-fashion-mnist`, which installs Fashion-MNIST into "
                + "\(FashionMNIST.defaultDirectory)), or set \(FashionMNIST.environmentVariable) "
                + "to the directory that holds the files."
        case .unreadable(let path, let reason):
            return "Cannot read dataset file \(path): \(reason). Check that it is a regular file "
                + "and readable by this user."
        case .truncatedHeader(let path, let expected, let found):
            return "Truncated IDX header in \(path): expected \(expected) header bytes, found \(found). "
                + "The file is incomplete or not an IDX file; download it again (`Scripts/setup`)."
        case .truncatedData(let path, let expected, let found):
            return "Truncated IDX file \(path): expected \(expected) bytes of data, found \(found). "
                + "The file is incomplete; download it again (`Scripts/setup`)."
        case .wrongMagic(let path, let found, let expected):
            let wanted: String
            if let expected {
                wanted = "expected \(hex(expected)) (\(describeMagic(expected)))"
            } else {
                wanted = "expected an IDX magic 0x0000TTNN (TT = type, NN = dimensions), "
                    + "e.g. images 0x00000803 / labels 0x00000801"
            }
            return "Wrong magic number in \(path): got \(hex(found)), \(wanted). "
                + "Check that images and labels files are not swapped and that the file is an IDX file."
        case .unsupportedType(let path, let typeByte):
            return "Unsupported IDX element type 0x\(hexByte(typeByte)) (\(typeName(typeByte))) in \(path): "
                + "only 0x08 (unsigned byte) is supported, as used by MNIST and Fashion-MNIST."
        case .tooLarge(let path, let claimed, let limit):
            let amount = claimed == Int.max ? "more than \(Int.max)" : "\(claimed)"
            return "IDX header in \(path) claims \(amount) bytes of data, more than the limit of \(limit) bytes. "
                + "The header is corrupt, or the data set must be split into smaller shards."
        case .countMismatch(let imagesPath, let imageCount, let labelsPath, let labelCount):
            return "Image/label count mismatch: \(imagesPath) holds \(imageCount) images but "
                + "\(labelsPath) holds \(labelCount) labels. Use the images and labels file of the same split."
        case .labelOutOfRange(let path, let index, let label, let classCount):
            return "Label out of range in \(path): sample \(index) has label \(label), "
                + "expected 0..<\(classCount). Check that this is a labels file for a \(classCount)-class data set."
        case .corruptGzip(let path, let reason):
            return "Corrupt gzip file \(path): \(reason). Delete it and download it again (`Scripts/setup`)."
        case .sampleShapeMismatch(let path, let shape, let otherPath, let otherShape):
            return "Sample shape mismatch: \(path) holds samples of shape \(shape) but \(otherPath) "
                + "samples of shape \(otherShape). Use the train and test files of the same data set."
        case .invalidShard(let reason):
            return "Invalid dataset shard: \(reason). The shard is corrupt or was not made by "
                + "`DatasetShard.pack`; fetch it again from the coordinator."
        case .unsupportedShardVersion(let found, let supported):
            return "Unsupported dataset shard format version \(found): this build reads version \(supported). "
                + "Run the same Distillery version on the coordinator and the workers."
        case .invalidShardHash(let hash):
            let shown = hash.count > 80 ? String(hash.prefix(80)) + "…" : hash
            return "Invalid shard hash \"\(shown)\": expected 64 lower-case hex digits (a SHA-256)."
        case .shardHashMismatch(let path, let expected, let found):
            return "Shard bytes do not match their hash: expected SHA-256 \(expected), the bytes hash to \(found). "
                + "Nothing was stored at \(path); the transfer was corrupted or the hash is wrong, fetch the shard again."
        case .corruptCachedShard(let path, let expected, let found):
            return "Corrupt cached shard \(path): its name says SHA-256 \(expected) but its content hashes to "
                + "\(found). The file has been removed from the cache; fetch the shard again from the coordinator."
        case .missingShard(let path):
            return "Shard not in the cache: \(path) does not exist. Fetch it from the coordinator first."
        case .unwritable(let path, let reason):
            return "Cannot write \(path): \(reason). Check that the directory exists, is writable by this user "
                + "and that the disk is not full."
        case .numpy(let path, let array, let problem):
            return problem.message(path: path, array: array)
        }
    }
}

/// `0x00000803`-style rendering of a 32-bit magic number.
private func hex(_ value: UInt32) -> String {
    let digits = String(value, radix: 16, uppercase: true)
    return "0x" + String(repeating: "0", count: max(0, 8 - digits.count)) + digits
}

private func hexByte(_ value: UInt8) -> String {
    let digits = String(value, radix: 16, uppercase: true)
    return digits.count < 2 ? "0" + digits : digits
}

/// Human-readable meaning of an IDX magic number, e.g. "unsigned-byte array with 3 dimensions".
private func describeMagic(_ magic: UInt32) -> String {
    let typeByte = UInt8(truncatingIfNeeded: magic >> 8)
    let dims = Int(magic & 0xFF)
    switch (typeByte, dims) {
    case (0x08, 3): return "images: unsigned bytes, 3 dimensions"
    case (0x08, 1): return "labels: unsigned bytes, 1 dimension"
    default: return "\(typeName(typeByte)), \(dims) dimension\(dims == 1 ? "" : "s")"
    }
}

/// The IDX element type names of the format's specification.
private func typeName(_ typeByte: UInt8) -> String {
    switch typeByte {
    case 0x08: return "unsigned byte"
    case 0x09: return "signed byte"
    case 0x0B: return "int16"
    case 0x0C: return "int32"
    case 0x0D: return "float32"
    case 0x0E: return "float64"
    default: return "unknown type"
    }
}
