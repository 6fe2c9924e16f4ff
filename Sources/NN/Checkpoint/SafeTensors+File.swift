// Reading and writing safetensors checkpoints on disk.

extension SafeTensors {
    /// Largest checkpoint `read(from:)` accepts.
    public static let maxFileSize = 4 << 30

    /// Validates, encodes and atomically writes the checkpoint to `path` (whose directory
    /// must exist).
    public func write(to path: String) throws(CheckpointError) {
        try validate(source: path)
        try AtomicFile.write(encoded(), to: path)
    }

    /// Reads and decodes the checkpoint at `path` (at most `maxFileSize` bytes).
    public static func read(from path: String) throws(CheckpointError) -> SafeTensors {
        let bytes = try AtomicFile.read(path, limit: maxFileSize)
        return try decode(bytes, source: path)
    }
}
