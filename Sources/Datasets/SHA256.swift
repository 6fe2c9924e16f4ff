/// SHA-256 (NIST FIPS 180-4, §6.2), pure Swift, incremental. The content hash of dataset
/// shards and artifacts: a shard's identity everywhere (cache file name, wire `shard_hash`).
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
/// Speed: about 220 MB/s in a release build — 60 MiB hashed in 0.28–0.29 s of CPU time (best
/// of 5) on the 2-core AMD EPYC development machine (Swift 6.3.1, no SHA extensions used),
/// where coreutils `sha256sum` took 0.30–0.39 s for the same file; debug builds manage only
/// 5–7 MB/s. Whole 64-byte blocks are compressed straight from the caller's buffer and only a
/// trailing partial block is copied into the hasher's inline 64-byte buffer; nothing is
/// allocated per block (the message schedule lives on the stack) and the 64 rounds are
/// unrolled by eight with rotating variable roles.
public struct SHA256: Sendable {
    /// The size of one block of the message, in bytes.
    public static let blockSize = 64
    /// The size of a digest, in bytes.
    public static let digestSize = 32

    /// The eight working hash values H0…H7.
    private var state: State = .initial
    /// The first `bufferedCount` bytes hold an incomplete block.
    private var buffer = Block()
    private var bufferedCount = 0
    /// The message length so far, in bytes.
    private var length: UInt64 = 0
    private var finished = false

    /// A hasher for a new message.
    public init() {}

    /// Appends `bytes` to the message.
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        precondition(!finished, "SHA256.update after finalize()")
        guard var input = bytes.baseAddress, bytes.count > 0 else { return }
        var remaining = bytes.count
        length &+= UInt64(remaining)

        if bufferedCount > 0 {
            let take = min(SHA256.blockSize - bufferedCount, remaining)
            let filled = bufferedCount
            withUnsafeMutableBytes(of: &buffer) { block in
                (block.baseAddress! + filled).copyMemory(from: input, byteCount: take)
            }
            bufferedCount += take
            input += take
            remaining -= take
            guard bufferedCount == SHA256.blockSize else { return }
            withUnsafeBytes(of: buffer) { block in
                SHA256.compress(&state, blocks: block.baseAddress!, count: 1)
            }
            bufferedCount = 0
        }

        let wholeBlocks = remaining / SHA256.blockSize
        if wholeBlocks > 0 {
            SHA256.compress(&state, blocks: input, count: wholeBlocks)
            input += wholeBlocks * SHA256.blockSize
            remaining -= wholeBlocks * SHA256.blockSize
        }
        if remaining > 0 {
            withUnsafeMutableBytes(of: &buffer) { block in
                block.baseAddress!.copyMemory(from: input, byteCount: remaining)
            }
            bufferedCount = remaining
        }
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
    ///
    /// Padding (§5.1.1): a `0x80` byte, zeros up to 56 mod 64, then the message length in
    /// bits as a big-endian 64-bit integer.
    public mutating func finalize() -> [UInt8] {
        precondition(!finished, "SHA256.finalize called twice")
        finished = true
        let bitLength = length &<< 3
        var tail = (Block(), Block())  // at most two blocks of padding
        let tailCount = bufferedCount < 56 ? 64 : 128
        let filled = bufferedCount
        withUnsafeMutableBytes(of: &tail) { out in
            withUnsafeBytes(of: buffer) { out.baseAddress!.copyMemory(from: $0.baseAddress!, byteCount: filled) }
            out[filled] = 0x80
            out.storeBytes(of: bitLength.bigEndian, toByteOffset: tailCount - 8, as: UInt64.self)
            SHA256.compress(&state, blocks: UnsafeRawPointer(out.baseAddress!), count: tailCount / 64)
        }
        let words = [state.a, state.b, state.c, state.d, state.e, state.f, state.g, state.h]
        var digest = [UInt8](repeating: 0, count: SHA256.digestSize)
        for (i, word) in words.enumerated() {
            digest[4 * i] = UInt8(truncatingIfNeeded: word >> 24)
            digest[4 * i + 1] = UInt8(truncatingIfNeeded: word >> 16)
            digest[4 * i + 2] = UInt8(truncatingIfNeeded: word >> 8)
            digest[4 * i + 3] = UInt8(truncatingIfNeeded: word)
        }
        return digest
    }

    /// Finishes and returns the lower-case hex of the digest (the hasher must not be used afterwards).
    public mutating func finalizeHex() -> String {
        SHA256.hexString(finalize())
    }

    /// The 32-byte digest of `bytes`.
    public static func digest(_ bytes: UnsafeRawBufferPointer) -> [UInt8] {
        var hasher = SHA256()
        hasher.update(bytes)
        return hasher.finalize()
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

// MARK: - Compression

extension SHA256 {
    /// The working variables a…h, which are also the hash values H0…H7 between blocks.
    fileprivate struct State {
        var a, b, c, d, e, f, g, h: UInt32

        /// H(0) (§5.3.3): the first 32 bits of the fractional parts of the square roots of
        /// the first eight primes.
        static let initial = State(
            a: 0x6a09_e667, b: 0xbb67_ae85, c: 0x3c6e_f372, d: 0xa54f_f53a,
            e: 0x510e_527f, f: 0x9b05_688c, g: 0x1f83_d9ab, h: 0x5be0_cd19)
    }

    /// 64 bytes of storage, kept inline (no heap allocation).
    fileprivate struct Block {
        var words: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0)
    }

    /// K (§4.2.2): the first 32 bits of the fractional parts of the cube roots of the first 64 primes.
    private static let roundConstants: [UInt32] = [
        0x428a_2f98, 0x7137_4491, 0xb5c0_fbcf, 0xe9b5_dba5, 0x3956_c25b, 0x59f1_11f1, 0x923f_82a4, 0xab1c_5ed5,
        0xd807_aa98, 0x1283_5b01, 0x2431_85be, 0x550c_7dc3, 0x72be_5d74, 0x80de_b1fe, 0x9bdc_06a7, 0xc19b_f174,
        0xe49b_69c1, 0xefbe_4786, 0x0fc1_9dc6, 0x240c_a1cc, 0x2de9_2c6f, 0x4a74_84aa, 0x5cb0_a9dc, 0x76f9_88da,
        0x983e_5152, 0xa831_c66d, 0xb003_27c8, 0xbf59_7fc7, 0xc6e0_0bf3, 0xd5a7_9147, 0x06ca_6351, 0x1429_2967,
        0x27b7_0a85, 0x2e1b_2138, 0x4d2c_6dfc, 0x5338_0d13, 0x650a_7354, 0x766a_0abb, 0x81c2_c92e, 0x9272_2c85,
        0xa2bf_e8a1, 0xa81a_664b, 0xc24b_8b70, 0xc76c_51a3, 0xd192_e819, 0xd699_0624, 0xf40e_3585, 0x106a_a070,
        0x19a4_c116, 0x1e37_6c08, 0x2748_774c, 0x34b0_bcb5, 0x391c_0cb3, 0x4ed8_aa4a, 0x5b9c_ca4f, 0x682e_6ff3,
        0x748f_82ee, 0x78a5_636f, 0x84c8_7814, 0x8cc7_0208, 0x90be_fffa, 0xa450_6ceb, 0xbef9_a3f7, 0xc671_78f2,
    ]

    @inline(__always)
    private static func rotr(_ x: UInt32, _ n: UInt32) -> UInt32 {
        (x &>> n) | (x &<< (32 &- n))
    }

    /// Applies the compression function (§6.2.2) to `count` consecutive 64-byte blocks at `blocks`.
    private static func compress(_ state: inout State, blocks: UnsafeRawPointer, count: Int) {
        roundConstants.withUnsafeBufferPointer { constants in
            withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 64) { schedule in
                compress(&state, blocks: blocks, count: count,
                         k: constants.baseAddress!, w: schedule.baseAddress!)
            }
        }
    }

    /// One round (§6.2.2 step 3) with the roles of the working variables passed in, so that
    /// eight unrolled rounds rotate names instead of moving eight values each round:
    /// `T1 = h + Σ1(e) + Ch(e, f, g) + K[t] + W[t]`, `d += T1`, `h = T1 + Σ0(a) + Maj(a, b, c)`.
    @inline(__always)
    private static func round(_ a: UInt32, _ b: UInt32, _ c: UInt32, _ d: inout UInt32,
                              _ e: UInt32, _ f: UInt32, _ g: UInt32, _ h: inout UInt32, _ kw: UInt32) {
        let t1 = h &+ (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) &+ (g ^ (e & (f ^ g))) &+ kw
        let t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) &+ ((a & b) | (c & (a | b)))
        d = d &+ t1
        h = t1 &+ t2
    }

    @inline(__always)
    private static func compress(_ state: inout State, blocks: UnsafeRawPointer, count: Int,
                                 k: UnsafePointer<UInt32>, w: UnsafeMutablePointer<UInt32>) {
        var (h0, h1, h2, h3, h4, h5, h6, h7) = (state.a, state.b, state.c, state.d, state.e, state.f, state.g, state.h)
        var block = blocks
        for _ in 0..<count {
            // Message schedule W0…W63 (§6.2.2 step 1); the words are big-endian.
            for t in 0..<16 {
                w[t] = UInt32(bigEndian: block.loadUnaligned(fromByteOffset: 4 * t, as: UInt32.self))
            }
            for t in 16..<64 {
                let w15 = w[t - 15], w2 = w[t - 2]
                let s0 = rotr(w15, 7) ^ rotr(w15, 18) ^ (w15 &>> 3)
                let s1 = rotr(w2, 17) ^ rotr(w2, 19) ^ (w2 &>> 10)
                w[t] = w[t - 16] &+ s0 &+ w[t - 7] &+ s1
            }

            // 64 rounds (step 3), eight at a time with rotating roles.
            var a = h0, b = h1, c = h2, d = h3, e = h4, f = h5, g = h6, h = h7
            var t = 0
            while t < 64 {
                round(a, b, c, &d, e, f, g, &h, k[t] &+ w[t])
                round(h, a, b, &c, d, e, f, &g, k[t + 1] &+ w[t + 1])
                round(g, h, a, &b, c, d, e, &f, k[t + 2] &+ w[t + 2])
                round(f, g, h, &a, b, c, d, &e, k[t + 3] &+ w[t + 3])
                round(e, f, g, &h, a, b, c, &d, k[t + 4] &+ w[t + 4])
                round(d, e, f, &g, h, a, b, &c, k[t + 5] &+ w[t + 5])
                round(c, d, e, &f, g, h, a, &b, k[t + 6] &+ w[t + 6])
                round(b, c, d, &e, f, g, h, &a, k[t + 7] &+ w[t + 7])
                t += 8
            }

            // The intermediate hash value (step 4).
            h0 &+= a
            h1 &+= b
            h2 &+= c
            h3 &+= d
            h4 &+= e
            h5 &+= f
            h6 &+= g
            h7 &+= h
            block += 64
        }
        state = State(a: h0, b: h1, c: h2, d: h3, e: h4, f: h5, g: h6, h: h7)
    }
}
