import CZlib
import Foundation

/// A read-only zip archive of the kind `numpy.savez` writes (PKWARE APPNOTE.TXT, 6.3):
/// one disk, entries stored (method 0) or deflated (method 8), no encryption, with zip64
/// records where the archive needs them. NumPy writes every entry with `force_zip64=True`,
/// so local headers carry a zip64 extra field and 0xFFFFFFFF sizes; this reader takes the
/// sizes from the central directory (with its zip64 extra field) and only uses the local
/// header to find where the data starts.
///
/// Layout read here, from the end of the file:
/// - end of central directory (EOCD, `PK\x05\x06`, 22 bytes + comment): entry count, size
///   and offset of the central directory (0xFFFF / 0xFFFFFFFF when in the zip64 record);
/// - zip64 EOCD locator (`PK\x06\x07`, 20 bytes just before the EOCD), pointing at the zip64
///   EOCD record (`PK\x06\x06`) with 64-bit count, size and offset;
/// - central directory: one `PK\x01\x02` header per entry (method, CRC-32, sizes, name,
///   extra fields, local header offset);
/// - per entry, a local header (`PK\x03\x04`, 30 bytes + name + extra) before its data.
final class ZipArchive {
    /// One file in the archive, from its central directory header.
    struct Entry {
        var name: String
        var method: UInt16
        var crc32: UInt32
        var compressedSize: Int
        var uncompressedSize: Int
        var localHeaderOffset: Int
    }

    /// What is wrong with the archive (mapped to ``NumPyProblem`` by the caller).
    struct Failure: Error {
        var reason: String
    }

    /// Largest central directory read (numpy archives have a few hundred bytes of it).
    static let maxCentralDirectoryBytes = 64 << 20
    /// Read and inflate chunk size.
    static let chunkSize = 1 << 20

    let entries: [Entry]
    private let fd: Int32
    private let fileSize: Int

    /// Opens the file and reads its central directory. `FileError`-like open failures come
    /// back as ``Failure`` with the system's reason; the caller has checked the path exists.
    init(path: String) throws(Failure) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw Failure(reason: "cannot open it: \(String(cString: strerror(errno)))") }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG else {
            close(fd)
            throw Failure(reason: "it is not a regular file")
        }
        self.fd = fd
        fileSize = Int(info.st_size)
        do {
            entries = try Self.readCentralDirectory(fd: fd, fileSize: fileSize)
        } catch {
            close(fd)
            throw error
        }
    }

    deinit { close(fd) }

    /// The uncompressed bytes of `entry`, checked against its size and CRC-32.
    func contents(of entry: Entry) throws(Failure) -> [UInt8] {
        let local = try read(at: entry.localHeaderOffset, count: 30)
        guard local.u32(0) == 0x0403_4B50 else {
            throw Failure(reason: "the local header of \(entry.name) is missing (bad offset \(entry.localHeaderOffset))")
        }
        let dataStart = entry.localHeaderOffset + 30 + Int(local.u16(26)) + Int(local.u16(28))
        guard dataStart <= fileSize, entry.compressedSize <= fileSize - dataStart else {
            throw Failure(reason: "the data of \(entry.name) runs past the end of the file (the archive is cut short)")
        }
        var output = [UInt8](repeating: 0, count: entry.uncompressedSize)
        switch entry.method {
        case 0:
            guard entry.compressedSize == entry.uncompressedSize else {
                throw Failure(reason: "the stored entry \(entry.name) has different compressed and uncompressed sizes")
            }
            try Self.withBytes(of: &output) { (buffer) throws(Failure) in try readFully(into: buffer, at: dataStart) }
        case 8:
            try inflateEntry(entry, from: dataStart, into: &output)
        default:
            throw Failure(reason: "the entry \(entry.name) uses compression method \(entry.method); only stored (0) "
                + "and deflate (8) are read")
        }
        let crc = output.withUnsafeBytes { buffer in
            UInt32(crc32_z(0, buffer.baseAddress?.assumingMemoryBound(to: UInt8.self), buffer.count))
        }
        guard crc == entry.crc32 else {
            throw Failure(reason: "the entry \(entry.name) fails its CRC-32 check (stored \(hex(entry.crc32)), "
                + "computed \(hex(crc))); the file is damaged")
        }
        return output
    }

    // MARK: - Central directory

    private static func readCentralDirectory(fd: Int32, fileSize: Int) throws(Failure) -> [Entry] {
        // The EOCD is the last 22 bytes plus a comment of up to 65,535 bytes.
        let tailCount = min(fileSize, 22 + 0xFFFF + 20)
        let tail = try pread(fd, at: fileSize - tailCount, count: tailCount, fileSize: fileSize)
        guard let eocd = stride(from: tail.count - 22, through: 0, by: -1).first(where: {
            tail.u32($0) == 0x0605_4B50 && $0 + 22 + Int(tail.u16($0 + 20)) <= tail.count
        }) else {
            throw Failure(reason: "no end-of-central-directory record (the file is cut short or not a zip archive)")
        }
        guard tail.u16(eocd + 4) == 0, tail.u16(eocd + 6) == 0 else {
            throw Failure(reason: "multi-disk (split) zip archives are not supported")
        }
        var count = Int(tail.u16(eocd + 10))
        var size = Int(tail.u32(eocd + 12))
        var offset = Int(tail.u32(eocd + 16))
        // A zip64 locator just before the EOCD points at the zip64 EOCD record.
        if eocd >= 20, tail.u32(eocd - 20) == 0x0706_4B50 {
            let recordOffset = tail.u64(eocd - 20 + 8)
            guard recordOffset <= UInt64(fileSize - 56) else { throw Failure(reason: "the zip64 end-of-central-directory locator points past the file") }
            let record = try pread(fd, at: Int(recordOffset), count: 56, fileSize: fileSize)
            guard record.u32(0) == 0x0606_4B50 else { throw Failure(reason: "the zip64 end-of-central-directory record is missing") }
            let (count64, size64, offset64) = (record.u64(32), record.u64(40), record.u64(48))
            guard count64 <= UInt64(Int.max), size64 <= UInt64(fileSize), offset64 <= UInt64(fileSize) else {
                throw Failure(reason: "the zip64 end-of-central-directory record is inconsistent with the file size")
            }
            (count, size, offset) = (Int(count64), Int(size64), Int(offset64))
        }
        guard size <= maxCentralDirectoryBytes, offset <= fileSize, size <= fileSize - offset else {
            throw Failure(reason: "the central directory (\(size) bytes at offset \(offset)) does not fit in the \(fileSize)-byte file")
        }
        let directory = try pread(fd, at: offset, count: size, fileSize: fileSize)
        var entries: [Entry] = []
        var position = 0
        for _ in 0..<count {
            guard position + 46 <= directory.count, directory.u32(position) == 0x0201_4B50 else {
                throw Failure(reason: "the central directory is damaged (entry \(entries.count + 1) of \(count))")
            }
            let (nameLength, extraLength, commentLength) =
                (Int(directory.u16(position + 28)), Int(directory.u16(position + 30)), Int(directory.u16(position + 32)))
            let nameStart = position + 46
            let next = nameStart + nameLength + extraLength + commentLength
            guard next <= directory.count else { throw Failure(reason: "the central directory is cut short") }
            let name = String(decoding: directory[nameStart..<nameStart + nameLength], as: UTF8.self)
            guard directory.u16(position + 8) & 1 == 0 else { throw Failure(reason: "the entry \(name) is encrypted") }
            var entry = Entry(
                name: name, method: directory.u16(position + 10), crc32: directory.u32(position + 16),
                compressedSize: Int(directory.u32(position + 20)), uncompressedSize: Int(directory.u32(position + 24)),
                localHeaderOffset: Int(directory.u32(position + 42)))
            try applyZip64(directory[nameStart + nameLength..<nameStart + nameLength + extraLength], to: &entry, fileSize: fileSize)
            entries.append(entry)
            position = next
        }
        return entries
    }

    /// Replaces the 0xFFFFFFFF sizes and offset of `entry` with the values of its zip64 extra
    /// field (header id 0x0001), which holds, in this order, only the fields that overflowed.
    private static func applyZip64(_ extra: ArraySlice<UInt8>, to entry: inout Entry, fileSize: Int) throws(Failure) {
        let extra = Array(extra)
        var position = 0
        while position + 4 <= extra.count {
            let (id, length) = (extra.u16(position), Int(extra.u16(position + 2)))
            guard position + 4 + length <= extra.count else { break }
            if id == 0x0001 {
                var field = position + 4
                func next() throws(Failure) -> Int {
                    guard field + 8 <= position + 4 + length else { throw Failure(reason: "the zip64 field of \(entry.name) is cut short") }
                    defer { field += 8 }
                    let value = extra.u64(field)
                    guard value <= UInt64(Int.max) else { throw Failure(reason: "the zip64 sizes of \(entry.name) are out of range") }
                    return Int(value)
                }
                if entry.uncompressedSize == 0xFFFF_FFFF { entry.uncompressedSize = try next() }
                if entry.compressedSize == 0xFFFF_FFFF { entry.compressedSize = try next() }
                if entry.localHeaderOffset == 0xFFFF_FFFF { entry.localHeaderOffset = try next() }
            }
            position += 4 + length
        }
        guard entry.localHeaderOffset <= fileSize - 30 else {
            throw Failure(reason: "the entry \(entry.name) starts past the end of the file (the archive is cut short)")
        }
    }

    // MARK: - Reading

    private func read(at offset: Int, count: Int) throws(Failure) -> [UInt8] {
        try Self.pread(fd, at: offset, count: count, fileSize: fileSize)
    }

    private static func pread(_ fd: Int32, at offset: Int, count: Int, fileSize: Int) throws(Failure) -> [UInt8] {
        guard offset >= 0, count >= 0, offset <= fileSize, count <= fileSize - offset else {
            throw Failure(reason: "a record at offset \(offset) runs past the end of the \(fileSize)-byte file (the archive is cut short)")
        }
        var bytes = [UInt8](repeating: 0, count: count)
        try withBytes(of: &bytes) { (buffer) throws(Failure) in try readFully(fd, into: buffer, at: offset) }
        return bytes
    }

    /// `withUnsafeMutableBytes` for a body with a typed throw (the standard library's rethrows
    /// `any Error`).
    private static func withBytes(
        of array: inout [UInt8], _ body: (UnsafeMutableRawBufferPointer) throws(Failure) -> Void
    ) throws(Failure) {
        var failure: Failure?
        array.withUnsafeMutableBytes { buffer in
            do throws(Failure) { try body(buffer) } catch { failure = error }
        }
        if let failure { throw failure }
    }

    private func readFully(into buffer: UnsafeMutableRawBufferPointer, at offset: Int) throws(Failure) {
        try Self.readFully(fd, into: buffer, at: offset)
    }

    private static func readFully(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, at offset: Int) throws(Failure) {
        var done = 0
        while done < buffer.count {
            let got = Glibc.pread(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset + done))
            if got < 0 && errno == EINTR { continue }
            guard got > 0 else {
                throw Failure(reason: got < 0 ? "read error: \(String(cString: strerror(errno)))" : "the file ends early")
            }
            done += got
        }
    }

    /// Inflates the raw deflate stream of `entry` (zlib `inflateInit2` with −15 window bits)
    /// straight into `output`, reading the compressed bytes in chunks.
    private func inflateEntry(_ entry: Entry, from dataStart: Int, into output: inout [UInt8]) throws(Failure) {
        if entry.uncompressedSize == 0 { return }
        var stream = z_stream()
        guard inflateInit2_(&stream, -15, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw Failure(reason: "zlib could not start inflating")
        }
        defer { inflateEnd(&stream) }
        let input = UnsafeMutableRawBufferPointer.allocate(byteCount: max(1, min(Self.chunkSize, entry.compressedSize)), alignment: 16)
        defer { input.deallocate() }
        var consumed = 0
        var status = Z_OK
        try Self.withBytes(of: &output) { (out) throws(Failure) in
            var offered = 0
            stream.next_out = out.baseAddress!.assumingMemoryBound(to: UInt8.self)
            while status != Z_STREAM_END {
                if stream.avail_in == 0 {
                    let want = min(input.count, entry.compressedSize - consumed)
                    guard want > 0 else { break }  // the compressed bytes end before the stream does
                    try readFully(into: UnsafeMutableRawBufferPointer(rebasing: input[0..<want]), at: dataStart + consumed)
                    consumed += want
                    stream.next_in = input.baseAddress!.assumingMemoryBound(to: UInt8.self)
                    stream.avail_in = UInt32(want)
                }
                if stream.avail_out == 0 {
                    let give = min(out.count - offered, Int(UInt32.max))
                    stream.avail_out = UInt32(give)
                    offered += give
                }
                status = inflate(&stream, Z_NO_FLUSH)
                if status == Z_BUF_ERROR && stream.avail_out == 0 && offered == out.count {
                    throw Failure(reason: "the entry \(entry.name) inflates to more than its declared \(entry.uncompressedSize) bytes")
                }
                guard status == Z_OK || status == Z_STREAM_END else {
                    let message = stream.msg.map { String(cString: $0) } ?? "zlib error \(status)"
                    throw Failure(reason: "the deflate data of \(entry.name) is corrupt (\(message))")
                }
            }
        }
        guard status == Z_STREAM_END, Int(stream.total_out) == entry.uncompressedSize else {
            throw Failure(reason: "the deflate data of \(entry.name) ends after \(stream.total_out) of its "
                + "\(entry.uncompressedSize) bytes (the archive is cut short or damaged)")
        }
    }
}

private func hex(_ value: UInt32) -> String {
    let digits = String(value, radix: 16)
    return "0x" + String(repeating: "0", count: max(0, 8 - digits.count)) + digits
}

extension Array where Element == UInt8 {
    /// Little-endian integers at byte offsets (callers check the bounds).
    fileprivate func u16(_ at: Int) -> UInt16 { UInt16(self[at]) | UInt16(self[at + 1]) << 8 }
    fileprivate func u32(_ at: Int) -> UInt32 { UInt32(u16(at)) | UInt32(u16(at + 2)) << 16 }
    fileprivate func u64(_ at: Int) -> UInt64 { UInt64(u32(at)) | UInt64(u32(at + 4)) << 32 }
}
