import FileSupport

/// An `.npz` archive, as written by `numpy.savez` and `numpy.savez_compressed`: a zip file
/// whose entries are `.npy` files named `NAME.npy` (numpy.lib.format, NEP 1), stored
/// (`savez`) or deflated (`savez_compressed`). NumPy writes every entry with zip64 extra
/// fields (`force_zip64=True`), so that entries over 4 GiB work.
///
/// The zip structure is read by `ZipArchive` (end of central directory, zip64 records, central
/// directory, local headers; raw deflate and CRC-32 through zlib); this type bounds what it
/// reads and parses the `.npy` bytes with ``NumPyArray/init(npy:path:array:)``.
///
/// Not `Sendable`: it holds the open archive. Open it, read the arrays, let it go.
public struct NumPyArchive {
    /// The archive's path, as given.
    public let path: String
    /// The names of the arrays in the archive, in archive order: the `.npy` entries' names
    /// without the `.npy` extension (what `numpy.load(path).files` lists).
    public let names: [String]
    /// The largest array read (uncompressed `.npy` bytes).
    public let byteLimit: Int

    private let archive: ZipArchive

    /// Opens the archive at `path` and lists its arrays. Nothing is decompressed yet.
    public init(path: String, byteLimit: Int = NumPyArray.defaultByteLimit) throws(DatasetError) {
        func fail(_ problem: NumPyProblem) -> DatasetError { .numpy(path: path, array: "", problem: problem) }
        let start: [UInt8]
        do throws(FileError) {
            start = try FileBytes.prefix(path, count: 6).bytes
        } catch {
            throw fail(.unreadable(reason: error.reason))
        }
        if start == NumPyArray.magic {
            throw fail(.corruptArchive(reason: "it is a single .npy array, not an .npz archive; "
                + "read it with NumPyArray(path:) or save the arrays with numpy.savez"))
        }
        guard start.starts(with: [0x50, 0x4B]) else {  // "PK", every zip record's signature
            throw fail(.corruptArchive(reason: "it is not a zip file (it does not start with \"PK\")"))
        }
        do throws(ZipArchive.Failure) {
            archive = try ZipArchive(path: path)
        } catch {
            throw fail(.corruptArchive(reason: error.reason))
        }
        self.path = path
        self.byteLimit = byteLimit
        names = archive.entries.compactMap { entry in
            entry.name.hasSuffix(".npy") ? String(entry.name.dropLast(4)) : nil
        }
    }

    /// Reads and parses the array `name` (the entry `name.npy`). Throws
    /// ``NumPyProblem/missingArray(available:)`` when there is no such entry.
    public func array(named name: String) throws(DatasetError) -> NumPyArray {
        func fail(_ problem: NumPyProblem) -> DatasetError { .numpy(path: path, array: name, problem: problem) }
        guard let entry = archive.entries.first(where: { $0.name == name + ".npy" }) else {
            throw fail(.missingArray(available: names))
        }
        guard entry.uncompressedSize <= byteLimit else {
            throw fail(.tooLarge(claimedBytes: entry.uncompressedSize, limitBytes: byteLimit))
        }
        let bytes: [UInt8]
        do throws(ZipArchive.Failure) {
            bytes = try archive.contents(of: entry)
        } catch {
            throw fail(.corruptArchive(reason: error.reason))
        }
        return try NumPyArray(npy: bytes, path: path, array: name)
    }
}
