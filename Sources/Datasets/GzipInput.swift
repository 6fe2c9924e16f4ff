import CZlib
import Foundation

/// A file opened for reading through zlib's `gzopen`, which decompresses gzip files
/// and passes other files through unchanged.
///
/// Reads go in large chunks; the file is closed when the value goes away. Errors are
/// mapped to ``DatasetError`` with the file's path.
struct GzipInput: ~Copyable {
    /// Largest single `gzread` request (zlib takes an `unsigned` length).
    static let chunkSize = 1 << 20
    /// Size of zlib's internal input/output buffers (default is 8 KiB).
    static let zlibBufferSize: UInt32 = 1 << 17

    let path: String
    private let file: gzFile

    /// Opens `path`. Throws ``DatasetError/missingFile(path:)`` if there is nothing there
    /// and ``DatasetError/unreadable(path:reason:)`` for directories and open failures.
    init(path: String) throws(DatasetError) {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw .missingFile(path: path)
        }
        if isDirectory.boolValue {
            throw .unreadable(path: path, reason: "it is a directory, not a file")
        }
        guard let file = gzopen(path, "rb") else {
            let code = errno
            if code == ENOENT { throw .missingFile(path: path) }
            throw .unreadable(path: path, reason: code == 0 ? "gzopen failed" : String(cString: strerror(code)))
        }
        _ = gzbuffer(file, GzipInput.zlibBufferSize)
        self.path = path
        self.file = file
    }

    deinit {
        gzclose(file)
    }

    /// Reads until `buffer` is full or the input ends; returns the number of bytes read.
    /// A short count means a clean end of input; stream errors throw.
    mutating func read(into buffer: UnsafeMutableRawBufferPointer) throws(DatasetError) -> Int {
        guard let base = buffer.baseAddress else { return 0 }
        var total = 0
        while total < buffer.count {
            let want = UInt32(min(buffer.count - total, GzipInput.chunkSize))
            let got = gzread(file, base + total, want)
            if got < 0 { throw currentError() }
            if got == 0 { break }
            total += Int(got)
        }
        if total < buffer.count { try checkStream() }
        return total
    }

    /// Reads exactly `count` bytes if the input has them, growing the result as data
    /// arrives (so a lying header cannot make us allocate more than the file holds,
    /// beyond `initialReserve`). Returns fewer bytes only if the input ends first.
    mutating func readBytes(count: Int, initialReserve: Int = 64 << 20) throws(DatasetError) -> [UInt8] {
        var data: [UInt8] = []
        data.reserveCapacity(min(count, initialReserve))
        let scratch = UnsafeMutableRawBufferPointer.allocate(
            byteCount: max(1, min(count, GzipInput.chunkSize)), alignment: 16)
        defer { scratch.deallocate() }
        while data.count < count {
            let want = min(scratch.count, count - data.count)
            let got = try read(into: UnsafeMutableRawBufferPointer(rebasing: scratch[0..<want]))
            data.append(contentsOf: UnsafeRawBufferPointer(rebasing: scratch[0..<got]))
            if got < want { break }
        }
        return data
    }

    /// Reads a little past the expected data so that zlib reaches the end of the gzip
    /// member and verifies its CRC-32 and length trailer. Extra bytes are ignored.
    mutating func verifyEnd() throws(DatasetError) {
        var probe = (UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        let got = withUnsafeMutableBytes(of: &probe) { gzread(file, $0.baseAddress, UInt32($0.count)) }
        if got < 0 { throw currentError() }
        try checkStream()
    }

    /// Throws if zlib has recorded an error (for example a truncated gzip stream,
    /// which `gzread` reports as a short read plus `Z_BUF_ERROR`).
    private func checkStream() throws(DatasetError) {
        var code: Int32 = Z_OK
        _ = gzerror(file, &code)
        if code != Z_OK { throw currentError() }
    }

    /// The zlib error state of the file as a ``DatasetError``.
    private func currentError() -> DatasetError {
        var code: Int32 = Z_OK
        var message = gzerror(file, &code).map { String(cString: $0) } ?? "unknown zlib error"
        if message.hasPrefix(path + ": ") { message.removeFirst(path.count + 2) }  // zlib prefixes the path
        switch code {
        case Z_ERRNO:
            let err = errno
            return .unreadable(path: path, reason: err == 0 ? "read error" : String(cString: strerror(err)))
        case Z_BUF_ERROR:
            return .corruptGzip(path: path, reason: "the gzip stream ends unexpectedly (\(message)); the download is incomplete")
        case Z_MEM_ERROR:
            return .unreadable(path: path, reason: "out of memory while decompressing")
        default:
            return .corruptGzip(path: path, reason: message)
        }
    }
}
