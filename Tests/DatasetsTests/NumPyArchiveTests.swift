import Datasets
import Foundation
import Testing

@Suite("NumPyArchive: .npz archives written by numpy.savez and savez_compressed")
struct NumPyArchiveTests {
    @Test("np.savez (stored entries with zip64 extra fields): names and uint8 images")
    func stored() throws {
        let archive = try NumPyArchive(path: numpyFixture("images-u1.npz"))
        #expect(archive.names == ["x_train", "y_train", "x_test", "y_test"])
        let x = try archive.array(named: "x_train")
        #expect(x.shape == [6, 1, 4, 4])
        #expect(x.dtype == .uint8)
        #expect(x.uint8s() == fixtureImages(count: 6, offset: 0))
        let y = try archive.array(named: "y_test")
        #expect(y.dtype == .uint8)
        #expect(try y.classIds(path: archive.path, array: "y_test") == [1, 2, 0])
    }

    @Test("np.savez_compressed (deflated entries): float32 rows and int64 labels")
    func deflated() throws {
        let archive = try NumPyArchive(path: numpyFixture("rows-f4.npz"))
        let x = try archive.array(named: "x_test")
        #expect(x.shape == [4, 5])
        #expect(x.floats() == fixtureRows(count: 4, scale: 8, sign: -1))
        let y = try archive.array(named: "y_train")
        #expect(y.dtype == .int64)
        #expect(try y.classIds(path: archive.path, array: "y_train") == [0, 1, 2, 3, 0, 1, 2, 3])
    }

    @Test("zip64 end-of-central-directory record, locator and 64-bit central directory fields")
    func zip64Records() throws {
        let zip64 = try NumPyArchive(path: numpyFixture("images-zip64.npz"))
        let plain = try NumPyArchive(path: numpyFixture("images-u1.npz"))
        #expect(zip64.names == plain.names)
        for name in plain.names {
            #expect(try zip64.array(named: name) == plain.array(named: name), "\(name)")
        }
    }

    @Test("every supported label dtype reads as class ids")
    func labelDTypes() throws {
        let archive = try NumPyArchive(path: numpyFixture("label-dtypes.npz"))
        let expected: [String: NumPyArray.DType] = [
            "u1": .uint8, "i1": .int8, "i2": .int16, "u2": .uint16, "i4": .int32, "u4": .uint32, "i8": .int64, "u8": .uint64,
        ]
        #expect(Set(archive.names) == Set(expected.keys))
        for (name, dtype) in expected {
            let array = try archive.array(named: name)
            #expect(array.dtype == dtype, "\(name)")
            #expect(try array.classIds(path: archive.path, array: name) == [0, 1, 2, 3, 4], "\(name)")
        }
    }

    @Test("a missing array names the file, the array and the arrays that are there")
    func missingArray() throws {
        let path = numpyFixture("images-u1.npz")
        let archive = try NumPyArchive(path: path)
        expectNumPyError(path: path, array: "x_val", .missingArray(available: ["x_train", "y_train", "x_test", "y_test"]),
                         mentions: ["'x_train', 'y_train', 'x_test', 'y_test'"]) {
            try archive.array(named: "x_val")
        }
    }

    @Test("an object array inside an archive is never unpickled")
    func objectArray() throws {
        let path = numpyFixture("object.npz")
        let archive = try NumPyArchive(path: path)
        expectNumPyError(path: path, array: "x_train", .objectArray, mentions: ["never unpickled"]) {
            try archive.array(named: "x_train")
        }
    }

    @Test("an array larger than the byte limit is refused before it is read")
    func byteLimit() throws {
        let path = numpyFixture("images-u1.npz")
        let archive = try NumPyArchive(path: path, byteLimit: 100)
        expectNumPyError(path: path, array: "x_train", .tooLarge(claimedBytes: 224, limitBytes: 100)) {
            try archive.array(named: "x_train")
        }
    }

    @Test("a damaged entry fails its CRC-32 check")
    func crcMismatch() throws {
        let dir = try TemporaryDirectory()
        var bytes = try readFile(numpyFixture("images-u1.npz"))
        // The first entry, x_train.npy, is stored: its last data byte sits just before the second local header.
        let second = try #require(findSignature(bytes, [0x50, 0x4B, 0x03, 0x04], after: 4))
        bytes[second - 1] ^= 0xFF
        let path = dir.path("damaged.npz")
        try writeRaw(bytes, to: path)
        let archive = try NumPyArchive(path: path)
        let error = try #require(expectDatasetError { try archive.array(named: "x_train") })
        guard case .numpy(path, "x_train", .corruptArchive(let reason)) = error else {
            Issue.record("expected .corruptArchive, got \(error)")
            return
        }
        #expect(reason.contains("CRC-32"))
        #expect(error.description.contains(path) && error.description.contains("'x_train'"))
        #expect(try archive.array(named: "y_train").shape == [6])
    }

    @Test("a corrupt deflate stream is refused")
    func corruptDeflate() throws {
        let dir = try TemporaryDirectory()
        var bytes = try readFile(numpyFixture("rows-f4.npz"))
        let headerEnd = 30 + (Int(bytes[26]) | Int(bytes[27]) << 8) + (Int(bytes[28]) | Int(bytes[29]) << 8)
        for k in 0..<8 { bytes[headerEnd + 2 + k] = 0xFF }
        let path = dir.path("bad-deflate.npz")
        try writeRaw(bytes, to: path)
        let archive = try NumPyArchive(path: path)
        let error = try #require(expectDatasetError { try archive.array(named: archive.names[0]) })
        guard case .numpy(path, _, .corruptArchive) = error else {
            Issue.record("expected .corruptArchive, got \(error)")
            return
        }
    }

    @Test("a cut-short archive, a non-zip file and a lone .npy are refused with what to do")
    func notAnArchive() throws {
        let dir = try TemporaryDirectory()
        let good = try readFile(numpyFixture("images-u1.npz"))
        let cut = dir.path("cut.npz")
        try writeRaw(Array(good.prefix(good.count / 2)), to: cut)
        expectNumPyError(path: cut, array: "", .corruptArchive(
            reason: "no end-of-central-directory record (the file is cut short or not a zip archive)"),
            mentions: ["numpy.savez"]) { try NumPyArchive(path: cut) }

        let text = dir.path("text.npz")
        try writeRaw(Array("x,y\n1,2\n".utf8), to: text)
        expectNumPyError(path: text, array: "", .corruptArchive(reason: "it is not a zip file (it does not start with \"PK\")")) {
            try NumPyArchive(path: text)
        }
        let npy = numpyFixture("v2-f4.npy")
        let error = try #require(expectDatasetError { try NumPyArchive(path: npy) })
        #expect(error.description.contains("single .npy array"))

        let missing = dir.path("missing.npz")
        let unreadable = try #require(expectDatasetError { try NumPyArchive(path: missing) })
        guard case .numpy(missing, "", .unreadable) = unreadable else {
            Issue.record("expected .unreadable, got \(unreadable)")
            return
        }
    }

    /// The offset of the first `signature` at or after `after`.
    private func findSignature(_ bytes: [UInt8], _ signature: [UInt8], after: Int) -> Int? {
        (after..<(bytes.count - signature.count)).first { bytes[$0..<$0 + signature.count].elementsEqual(signature) }
    }
}
