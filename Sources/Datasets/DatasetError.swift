/// Everything that can go wrong while reading a data set from disk.
///
/// Every case carries the path of the offending file, and ``description`` says what
/// was found, what was expected and what to do about it, so that the message can be
/// shown to an operator as is. Readers never crash on bad file content: they throw
/// one of these instead.
public enum DatasetError: Error, Equatable, Sendable {
    /// The file does not exist.
    case missingFile(path: String)
    /// The file exists but could not be opened or read (permissions, a directory, I/O error).
    case unreadable(path: String, reason: String)
    /// The file ends inside the IDX header (magic number and dimension sizes).
    case truncatedHeader(path: String, expectedBytes: Int, foundBytes: Int)
    /// The header is complete but the file holds fewer data bytes than the header promises.
    case truncatedData(path: String, expectedBytes: Int, foundBytes: Int)
    /// The magic number is not an IDX magic number, or not the one expected here.
    /// `expected` is `nil` when any IDX magic would have been accepted (the first two
    /// bytes were not zero).
    case wrongMagic(path: String, found: UInt32, expected: UInt32?)
    /// The IDX element type byte (third byte of the magic) is not `0x08` (unsigned byte).
    case unsupportedType(path: String, typeByte: UInt8)
    /// The header claims more data than the reader is willing to hold in memory.
    case tooLarge(path: String, claimedBytes: Int, limitBytes: Int)
    /// The image file and the label file disagree on the number of samples.
    case countMismatch(imagesPath: String, imageCount: Int, labelsPath: String, labelCount: Int)
    /// A label is outside `0..<classCount`.
    case labelOutOfRange(path: String, index: Int, label: Int, classCount: Int)
    /// The file starts like gzip but cannot be decompressed (corrupt or cut short).
    case corruptGzip(path: String, reason: String)

    // Dataset shards (``DatasetShard``, ``ShardCache``).

    /// Two image files that must hold samples of the same size do not (the train and test
    /// images packed into one shard).
    case sampleShapeMismatch(path: String, shape: [Int], otherPath: String, otherShape: [Int])
    /// Shard bytes are not a well-formed shard: bad magic, a header that is cut short or
    /// inconsistent, a size that does not match the header, a label out of range.
    /// Shards are in memory, so there is no path (``path`` is empty).
    case invalidShard(reason: String)
    /// The shard was written in a format version this build cannot read.
    case unsupportedShardVersion(found: Int, supported: Int)
    /// A shard hash is not 64 lower-case hex digits (what `SHA256.hex` produces).
    case invalidShardHash(hash: String)
    /// Bytes offered to the shard cache do not hash to the SHA-256 they came with; nothing
    /// was written. `path` is where the shard would have been stored.
    case shardHashMismatch(path: String, expected: String, found: String)
    /// A cached shard file no longer hashes to its name; it has been removed from the cache.
    case corruptCachedShard(path: String, expected: String, found: String)
    /// The shard cache holds no shard with this hash.
    case missingShard(path: String)
    /// A file or directory could not be created or written (shard cache).
    case unwritable(path: String, reason: String)

    // NumPy files (``NumPyArray``, ``NumPyArchive``, ``NumPyDataset``).

    /// A NumPy `.npy` file or an array of an `.npz` archive cannot be used: `array` is the
    /// array's name in the archive (`x_train`), empty for a lone `.npy` file or for the
    /// archive as a whole; `problem` says what is wrong.
    case numpy(path: String, array: String, problem: NumPyProblem)
}

extension DatasetError {
    /// The path of the file the error is about (the image file for ``countMismatch``;
    /// empty for ``invalidShard`` and ``unsupportedShardVersion``, which are about bytes in
    /// memory, and for ``invalidShardHash``).
    public var path: String {
        switch self {
        case .missingFile(let path), .unreadable(let path, _),
             .truncatedHeader(let path, _, _), .truncatedData(let path, _, _),
             .wrongMagic(let path, _, _), .unsupportedType(let path, _),
             .tooLarge(let path, _, _), .labelOutOfRange(let path, _, _, _),
             .corruptGzip(let path, _),
             .shardHashMismatch(let path, _, _), .corruptCachedShard(let path, _, _),
             .missingShard(let path), .unwritable(let path, _),
             .sampleShapeMismatch(let path, _, _, _), .numpy(let path, _, _):
            return path
        case .invalidShard, .unsupportedShardVersion, .invalidShardHash:
            return ""
        case .countMismatch(let imagesPath, _, _, _):
            return imagesPath
        }
    }
}
