// Reading and writing safetensors checkpoints on disk, through FileSupport's atomic writes and
// bounded reads (the header alone: SafeTensors+Header.swift).

import FileSupport

extension SafeTensors {
    /// Largest checkpoint `read(from:)` (and `readHeader(from:)`) accepts.
    public static let maxFileSize = 4 << 30

    /// Validates, encodes and atomically writes the checkpoint to `path` (whose directory
    /// must exist): temporary file, fsync, rename, fsync of the directory (`AtomicFile`).
    public func write(to path: String) throws(CheckpointError) {
        try validate(source: path)
        do throws(FileError) {
            try AtomicFile.write(encoded(), to: path)
        } catch {
            throw .io(source: path, reason: error.reason)
        }
    }

    /// Reads and decodes the checkpoint at `path` (at most `maxFileSize` bytes).
    public static func read(from path: String) throws(CheckpointError) -> SafeTensors {
        let bytes: [UInt8]
        do throws(FileError) {
            bytes = try FileBytes.read(path, limit: maxFileSize)
        } catch {
            throw .io(source: path, reason: error.reason)
        }
        return try decode(bytes, source: path)
    }
}
