/// Reads IDX files of unsigned bytes, gzip-compressed (`.gz`) or raw.
///
/// zlib's `gzopen` reads both transparently; data is read in large chunks. Bad content
/// never crashes the reader: every problem becomes a ``DatasetError`` naming the file.
///
/// ```swift
/// let images = try IDXReader.read(path: "t10k-images-idx3-ubyte.gz", expectedDimensions: 3)
/// images.dims   // [10000, 28, 28]
/// ```
public enum IDXReader {
    /// The default bound on the data size a header may claim: 2^31 bytes.
    public static let defaultByteLimit = 1 << 31

    /// Reads the IDX file at `path`.
    ///
    /// - Parameters:
    ///   - path: the file, gzip-compressed or raw.
    ///   - expectedDimensions: if given, the file's magic must be `0x0800 | expectedDimensions`
    ///     (3 for images, 1 for labels), checked before any data is read.
    ///   - byteLimit: a header claiming more data bytes than this is rejected with
    ///     ``DatasetError/tooLarge(path:claimedBytes:limitBytes:)``.
    /// - Returns: the dimension sizes and the row-major bytes. Bytes after the declared
    ///   data are ignored.
    /// - Throws: ``DatasetError`` — missing/unreadable file, truncated header or data,
    ///   wrong magic, unsupported element type, oversized header, corrupt gzip.
    public static func read(
        path: String,
        expectedDimensions: Int? = nil,
        byteLimit: Int = defaultByteLimit
    ) throws(DatasetError) -> IDXArray {
        var input = try GzipInput(path: path)
        let header = try readHeader(&input, expectedDimensions: expectedDimensions, byteLimit: byteLimit)
        let data = try input.readBytes(count: header.byteCount)
        guard data.count == header.byteCount else {
            throw .truncatedData(path: path, expectedBytes: header.byteCount, foundBytes: data.count)
        }
        try input.verifyEnd()
        return IDXArray(dims: header.dims, data: data)
    }

    /// Reads only the header of the IDX file at `path` and returns its dimension sizes
    /// (cheap for raw files; a gzip file is decompressed only as far as the header).
    public static func readDimensions(
        path: String,
        expectedDimensions: Int? = nil,
        byteLimit: Int = defaultByteLimit
    ) throws(DatasetError) -> [Int] {
        var input = try GzipInput(path: path)
        return try readHeader(&input, expectedDimensions: expectedDimensions, byteLimit: byteLimit).dims
    }

    /// A parsed header: dimension sizes and the number of data bytes they imply.
    private struct Header {
        var dims: [Int]
        var byteCount: Int
    }

    /// Parses and validates the magic number and dimension sizes.
    private static func readHeader(
        _ input: inout GzipInput,
        expectedDimensions: Int?,
        byteLimit: Int
    ) throws(DatasetError) -> Header {
        let path = input.path
        let expectedMagic = expectedDimensions.map { IDXArray.magic(dimensions: $0) }

        let magicBytes = try input.readBytes(count: 4)
        guard magicBytes.count == 4 else {
            throw .truncatedHeader(path: path, expectedBytes: 4, foundBytes: magicBytes.count)
        }
        let magic = bigEndianUInt32(magicBytes, at: 0)
        guard magicBytes[0] == 0, magicBytes[1] == 0 else {
            throw .wrongMagic(path: path, found: magic, expected: expectedMagic)
        }
        let typeByte = magicBytes[2]
        guard typeByte == IDXArray.unsignedByteType else {
            throw .unsupportedType(path: path, typeByte: typeByte)
        }
        let dimensionCount = Int(magicBytes[3])
        if let expectedMagic, magic != expectedMagic {
            throw .wrongMagic(path: path, found: magic, expected: expectedMagic)
        }

        let headerBytes = 4 + 4 * dimensionCount
        let sizeBytes = try input.readBytes(count: 4 * dimensionCount)
        guard sizeBytes.count == 4 * dimensionCount else {
            throw .truncatedHeader(path: path, expectedBytes: headerBytes, foundBytes: 4 + sizeBytes.count)
        }

        var dims: [Int] = []
        dims.reserveCapacity(dimensionCount)
        var byteCount = 1
        var overflowed = false
        for d in 0..<dimensionCount {
            let size = Int(bigEndianUInt32(sizeBytes, at: 4 * d))
            dims.append(size)
            let (product, overflow) = byteCount.multipliedReportingOverflow(by: size)
            overflowed = overflowed || overflow
            byteCount = product
        }
        if overflowed || byteCount > byteLimit {
            throw .tooLarge(path: path, claimedBytes: overflowed ? Int.max : byteCount, limitBytes: byteLimit)
        }
        return Header(dims: dims, byteCount: byteCount)
    }

    /// The big-endian `UInt32` at `offset` (the caller guarantees 4 bytes are there).
    private static func bigEndianUInt32(_ bytes: [UInt8], at offset: Int) -> UInt32 {
        UInt32(bytes[offset]) << 24 | UInt32(bytes[offset + 1]) << 16
            | UInt32(bytes[offset + 2]) << 8 | UInt32(bytes[offset + 3])
    }
}
