import Datasets
import Foundation
import Tensor
import Testing

/// The digests of FIPS 180-2 Appendix B / the NIST "SHA256.pdf" examples.
private let nistVectors: [(name: String, message: [UInt8], digest: String)] = [
    ("empty", [], "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    ("abc", Array("abc".utf8), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
    ("448 bits", Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8),
     "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
    ("896 bits", Array(("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqr"
                        + "lmnopqrsmnopqrstnopqrstu").utf8),
     "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"),
]

private let sha256sum = "/usr/bin/sha256sum"

/// Pseudo-random bytes from a SplitMix64 stream.
func randomBytes(_ count: Int, seed: UInt64) -> [UInt8] {
    var rng = SplitMix64(seed: seed)
    var bytes = [UInt8](repeating: 0, count: count)
    var i = 0
    while i < count {
        var word = rng.next()
        for _ in 0..<8 where i < count {
            bytes[i] = UInt8(truncatingIfNeeded: word)
            word >>= 8
            i += 1
        }
    }
    return bytes
}

/// Runs `/usr/bin/sha256sum` on `paths` and returns the hex digests in order.
private func referenceDigests(_ paths: [String]) throws -> [String] {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: sha256sum)
    process.arguments = paths
    let output = Pipe()
    process.standardOutput = output
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    #expect(process.terminationStatus == 0)
    let lines = String(decoding: data, as: UTF8.self).split(separator: "\n")
    return lines.map { String($0.prefix(64)) }
}

@Suite("SHA256")
struct SHA256Tests {
    @Test("NIST example vectors, one-shot and via both update overloads", arguments: 0..<4)
    func nistVector(index: Int) {
        let vector = nistVectors[index]
        #expect(SHA256.hex(vector.message) == vector.digest, "\(vector.name)")
        #expect(vector.message.withUnsafeBytes { SHA256.hex($0) } == vector.digest, "\(vector.name)")
        var hasher = SHA256()
        hasher.update(vector.message)
        #expect(SHA256.hexString(hasher.finalize()) == vector.digest, "\(vector.name)")
    }

    @Test("one million 'a' (NIST), in one call and in uneven chunks")
    func millionA() {
        let expected = "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"
        let message = [UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)
        #expect(SHA256.hex(message) == expected)

        var hasher = SHA256()
        var offset = 0, step = 1
        while offset < message.count {
            let end = min(offset + step, message.count)
            hasher.update(message[offset..<end])
            offset = end
            step = step * 3 % 1001 + 1  // 1, 4, 13, 40, … mixed sizes around the block size
        }
        #expect(hasher.finalizeHex() == expected)
    }

    @Test("update split at every boundary 0…130 gives the one-shot digest")
    func everySplit() {
        for vector in nistVectors {
            let digest = SHA256.digest(vector.message)
            for split in 0...min(130, vector.message.count) {
                var hasher = SHA256()
                hasher.update(Array(vector.message[..<split]))
                hasher.update(Array(vector.message[split...]))
                #expect(hasher.finalize() == digest, "\(vector.name) split at \(split)")
            }
        }
        // A 200-byte message: two splits at every pair of boundaries up to 130, and byte by byte.
        let message = randomBytes(200, seed: 7)
        let digest = SHA256.digest(message)
        for first in 0...130 {
            for second in stride(from: first, through: 130, by: 7) {
                var hasher = SHA256()
                message.withUnsafeBytes { all in
                    hasher.update(UnsafeRawBufferPointer(rebasing: all[..<first]))
                    hasher.update(UnsafeRawBufferPointer(rebasing: all[first..<second]))
                    hasher.update(UnsafeRawBufferPointer(rebasing: all[second...]))
                }
                #expect(hasher.finalize() == digest, "splits at \(first), \(second)")
            }
        }
        var bytewise = SHA256()
        for byte in message { bytewise.update([byte]) }
        bytewise.update([])
        #expect(bytewise.finalize() == digest)
    }

    @Test("every message length 0…130 (all padding cases) agrees with sha256sum",
          .enabled(if: FileManager.default.isExecutableFile(atPath: sha256sum)))
    func everyLengthAgainstSha256sum() throws {
        let dir = try TemporaryDirectory()
        let message = randomBytes(130, seed: 11)
        var paths: [String] = []
        for length in 0...130 {
            let path = dir.path("m\(length)")
            try writeRaw(Array(message[..<length]), to: path)
            paths.append(path)
        }
        let reference = try referenceDigests(paths)
        try #require(reference.count == 131)
        for length in 0...130 {
            #expect(SHA256.hex(Array(message[..<length])) == reference[length], "length \(length)")
        }
    }

    @Test("a random 1 MB buffer agrees with sha256sum",
          .enabled(if: FileManager.default.isExecutableFile(atPath: sha256sum)))
    func randomMegabyte() throws {
        let dir = try TemporaryDirectory()
        let bytes = randomBytes(1 << 20, seed: UInt64(Date().timeIntervalSince1970 * 1000))
        let path = dir.path("random")
        try writeRaw(bytes, to: path)
        let reference = try referenceDigests([path])
        #expect(reference == [SHA256.hex(bytes)])
        // And a second, different buffer gives a different digest.
        var changed = bytes
        changed[12345] ^= 1
        #expect(SHA256.hex(changed) != reference[0])
    }

    @Test("hex rendering and hash validation")
    func hexHelpers() {
        #expect(SHA256.hexString([0x00, 0x0f, 0xa0, 0xff]) == "000fa0ff")
        #expect(SHA256.hexString([]) == "")
        #expect(SHA256.digest(Array("abc".utf8)).count == 32)
        let valid = SHA256.hex([1, 2, 3])
        #expect(SHA256.isHexDigest(valid))
        #expect(!SHA256.isHexDigest(valid.uppercased()))
        #expect(!SHA256.isHexDigest(String(valid.dropLast())))
        #expect(!SHA256.isHexDigest(valid + "0"))
        #expect(!SHA256.isHexDigest(""))
        #expect(!SHA256.isHexDigest(String(valid.dropLast()) + "g"))
        #expect(!SHA256.isHexDigest("../" + String(valid.dropFirst(3))))
        #expect(!SHA256.isHexDigest(String(valid.dropLast()) + "é"))
    }

    @Test("throughput (printed, not asserted; SHA256_BENCH_MB sets the size, default 8 MB)")
    func throughput() {
        let megabytes = ProcessInfo.processInfo.environment["SHA256_BENCH_MB"].flatMap(Int.init) ?? 8
        let bytes = randomBytes(megabytes << 20, seed: 3)
        let clock = ContinuousClock()
        var digest = ""
        let elapsed = clock.measure { digest = SHA256.hex(bytes) }
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        let rate = Double(bytes.count) / 1e6 / max(seconds, 1e-9)
        print("SHA256: \(megabytes) MiB in \(String(format: "%.3f", seconds)) s = \(String(format: "%.0f", rate)) MB/s")
        #expect(digest.count == 64)
    }
}
