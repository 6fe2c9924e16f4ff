import Crypto

/// SHA-256 (NIST FIPS 180-4), incremental: the content hash of dataset shards and artifacts,
/// a shard's identity everywhere (cache file name, wire `shard_hash`). The hashing itself is
/// swift-crypto's (`Crypto.SHA256`, BoringSSL's assembly on Linux, which uses the CPU's SHA
/// extensions where there are any); this type keeps the project's small API around it: byte
/// arrays in and out, and the lower-case hex every hash travels as.
///
/// ```swift
/// SHA256.hex(Array("abc".utf8))
/// // "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
///
/// var hasher = SHA256()
/// hasher.update(firstChunk)
/// hasher.update(secondChunk)
/// let digest = hasher.finalize()   // 32 bytes
/// ```
///
/// Speed: docs/BENCHMARKS.md "SHA-256" (swift-crypto against the earlier hand-written
/// implementation and against coreutils/OpenSSL on the same bytes).
public struct SHA256: Sendable {
    /// The size of one block of the message, in bytes.
    public static let blockSize = 64
    /// The size of a digest, in bytes.
    public static let digestSize = 32

    /// swift-crypto's hasher (the module name qualifies it: this type is also called SHA256).
    private var hasher = Crypto.SHA256()
    private var finished = false

    /// A hasher for a new message.
    public init() {}

    /// Appends `bytes` to the message.
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        precondition(!finished, "SHA256.update after finalize()")
        hasher.update(bufferPointer: bytes)
    }

    /// Appends `bytes` to the message.
    public mutating func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    /// Appends `bytes` to the message.
    public mutating func update(_ bytes: ArraySlice<UInt8>) {
        bytes.withUnsafeBytes { update($0) }
    }

    /// Finishes and returns the 32-byte digest (the hasher must not be used afterwards).
    public mutating func finalize() -> [UInt8] {
        precondition(!finished, "SHA256.finalize called twice")
        finished = true
        return Array(hasher.finalize())
    }

    /// Finishes and returns the lower-case hex of the digest (the hasher must not be used afterwards).
    public mutating func finalizeHex() -> String {
        SHA256.hexString(finalize())
    }

    /// The 32-byte digest of `bytes`.
    public static func digest(_ bytes: UnsafeRawBufferPointer) -> [UInt8] {
        var hasher = Crypto.SHA256()
        hasher.update(bufferPointer: bytes)
        return Array(hasher.finalize())
    }

    /// The 32-byte digest of `bytes`.
    public static func digest(_ bytes: [UInt8]) -> [UInt8] {
        bytes.withUnsafeBytes { digest($0) }
    }

    /// Lower-case hex of the digest of `bytes`.
    public static func hex(_ bytes: [UInt8]) -> String {
        hexString(digest(bytes))
    }

    /// Lower-case hex of the digest of `bytes`.
    public static func hex(_ bytes: UnsafeRawBufferPointer) -> String {
        hexString(digest(bytes))
    }

    /// Lower-case hex of any bytes (two digits per byte), e.g. of a digest.
    public static func hexString(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var text = [UInt8]()
        text.reserveCapacity(2 * bytes.count)
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    /// Whether `text` is the form `hex(_:)` produces: exactly 64 lower-case hex digits.
    /// Use it to check hashes that arrive from outside before using them (as file names, say).
    public static func isHexDigest(_ text: String) -> Bool {
        var count = 0
        for byte in text.utf8 {
            guard (byte >= 0x30 && byte <= 0x39) || (byte >= 0x61 && byte <= 0x66) else { return false }
            count += 1
            if count > 2 * digestSize { return false }
        }
        return count == 2 * digestSize
    }
}
