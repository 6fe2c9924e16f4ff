import Datasets
import Foundation
import Testing

@Suite("NumPyArray: .npy files written by NumPy, and clear refusals")
struct NumPyArrayTests {
    @Test("format version 1.0 (u16 header length), int16")
    func version1() throws {
        let array = try NumPyArray(path: numpyFixture("v1-i2.npy"))
        #expect(array.shape == [3, 4])
        #expect(array.dtype == .int16)
        let values = (0..<12).map { Int16($0 - 5) }
        #expect(array.bytes == values.flatMap { v in withUnsafeBytes(of: v.littleEndian) { Array($0) } })
        #expect(array.floats() == nil)
        #expect(array.uint8s() == nil)
    }

    @Test("format version 2.0 (u32 header length), float32")
    func version2() throws {
        let array = try NumPyArray(path: numpyFixture("v2-f4.npy"))
        #expect(array.shape == [2, 3])
        #expect(array.dtype == .float32)
        #expect(array.floats() == (0..<6).map { Float($0) * 0.5 })
    }

    @Test("format version 3.0 (UTF-8 header), uint16 class ids")
    func version3() throws {
        let array = try NumPyArray(path: numpyFixture("v3-u2.npy"))
        #expect(array.shape == [5])
        #expect(array.dtype == .uint16)
        #expect(try array.classIds(path: "p", array: "a") == [0, 1000, 2000, 3000, 4000])
    }

    @Test("negative values are not class ids; float32 is not a label dtype")
    func classIdRefusals() throws {
        let path = numpyFixture("v1-i2.npy")
        let array = try NumPyArray(path: path)
        expectNumPyError(path: path, array: "y", .labelOutOfRange(index: 0, label: "-5", classCount: nil)) {
            try array.classIds(path: path, array: "y")
        }
        let floats = try NumPyArray(path: numpyFixture("v2-f4.npy"))
        expectNumPyError(path: "f", array: "y", .labelsDType(descr: "<f4"), mentions: ["astype(numpy.int64)"]) {
            try floats.classIds(path: "f", array: "y")
        }
        let huge = NumPyArray(shape: [2], dtype: .uint64, bytes: [1, 0, 0, 0, 0, 0, 0, 0] + [0, 0, 0, 0x80, 0, 0, 0, 0])
        expectNumPyError(path: "h", array: "y", .labelOutOfRange(index: 1, label: "2147483648", classCount: nil)) {
            try huge.classIds(path: "h", array: "y")
        }
    }

    @Test("Fortran order is refused with ascontiguousarray")
    func fortran() {
        let path = numpyFixture("fortran.npy")
        expectNumPyError(path: path, array: "", .fortranOrder, mentions: ["numpy.ascontiguousarray"]) {
            try NumPyArray(path: path)
        }
    }

    @Test("big-endian float32 is refused")
    func bigEndian() {
        let path = numpyFixture("big-endian.npy")
        expectNumPyError(path: path, array: "", .bigEndian(descr: ">f4"), mentions: ["little-endian"]) {
            try NumPyArray(path: path)
        }
    }

    @Test("float64 is refused with astype(numpy.float32); complex lists the supported dtypes")
    func unsupportedDTypes() {
        let float64 = numpyFixture("float64.npy")
        expectNumPyError(path: float64, array: "", .unsupportedDType(descr: "<f8"), mentions: ["x.astype(numpy.float32)", "'<f4'"]) {
            try NumPyArray(path: float64)
        }
        let complex = numpyFixture("complex.npy")
        expectNumPyError(path: complex, array: "", .unsupportedDType(descr: "<c8"), mentions: ["'|u1'", "'<i8'", "'<f4'"]) {
            try NumPyArray(path: complex)
        }
    }

    @Test("object arrays are never unpickled")
    func objectArray() {
        let path = numpyFixture("object.npy")
        expectNumPyError(path: path, array: "", .objectArray, mentions: ["never unpickled"]) {
            try NumPyArray(path: path)
        }
    }

    @Test("a missing file is unreadable, naming the path")
    func missing() throws {
        let dir = try TemporaryDirectory()
        let path = dir.path("nope.npy")
        let error = try #require(expectDatasetError { try NumPyArray(path: path) })
        guard case .numpy(path, "", .unreadable) = error else {
            Issue.record("expected .numpy(.unreadable), got \(error)")
            return
        }
        #expect(error.description.contains(path))
    }

    @Test("hand-made headers: every legal spacing and key order parses")
    func handMadeHeaders() throws {
        let data = float32Bytes([1, 2, 3, 4, 5, 6])
        for header in [
            "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
            "{\"shape\":(2,3),\"descr\":\"<f4\",\"fortran_order\":False}",
            "{ 'fortran_order' : False , 'shape' : ( 2 , 3 , ) , 'descr' : '<f4' }",
        ] {
            let array = try NumPyArray(npy: npyBytes(header: header, data: data), path: "p", array: "a")
            #expect(array.shape == [2, 3], "\(header)")
            #expect(array.floats() == [1, 2, 3, 4, 5, 6])
        }
        let unpadded = try NumPyArray(npy: npyBytes(header: npyHeader("|u1", "(3,)") + "\n", data: [7, 8, 9], pad: false),
                                      path: "p", array: "a")
        #expect(unpadded.uint8s() == [7, 8, 9])
    }

    @Test("malformed headers are refused, saying what is wrong", arguments: [
        ("{'descr': '<f4', 'fortran_order': False}", "the key 'shape' is missing"),
        ("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), 'extra': 1}", "unexpected key 'extra'"),
        ("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (3,)}", "appears twice"),
        ("{'descr': '<f4', 'fortran_order': 0, 'shape': (3,)}", "expected a string, True, False or a tuple"),
        ("{'descr': '<f4', 'fortran_order': False, 'shape': (3)}", "is not a tuple"),
        ("{'descr': '<f4', 'fortran_order': False, 'shape': (-3,)}", "non-negative integer"),
        ("{'descr': '<f4', 'fortran_order': False, 'shape': [3]}", "'shape' is a list"),
        ("{'descr': '<f4', 'fortran_order': 'False', 'shape': (3,)}", "'fortran_order' is a string"),
        ("{'descr': '\\x3cf4', 'fortran_order': False, 'shape': (3,)}", "escape sequences"),
        ("{'descr': '<f4', 'fortran_order': False, 'shape': (3,)} + x", "after the closing '}'"),
        ("__import__('os').system('true')", "expected '{'"),
        ("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,)}", "too large"),
    ])
    func malformedHeader(header: String, reason: String) throws {
        let error = try #require(expectDatasetError {
            try NumPyArray(npy: npyBytes(header: header, data: float32Bytes([1, 2, 3])), path: "bad.npy", array: "x")
        })
        guard case .numpy("bad.npy", "x", .malformedHeader(let found)) = error else {
            Issue.record("expected .malformedHeader, got \(error)")
            return
        }
        #expect(found.contains(reason), "\(found)")
        #expect(error.description.contains("bad.npy") && error.description.contains("'x'"))
    }

    @Test("a header without its newline, or with non-ASCII bytes in version 1, is malformed")
    func headerEncoding() throws {
        let noNewline = npyBytes(header: npyHeader("|u1", "(1,)"), data: [1], pad: false)
        let nonASCII = npyBytes(header: "{'descr': '|u1', 'fortran_order': False, 'shape': (1,), 'é': 1}", data: [1])
        for (bytes, reason) in [(noNewline, "newline"), (nonASCII, "non-ASCII")] {
            let error = try #require(expectDatasetError { try NumPyArray(npy: bytes, path: "h.npy", array: "") })
            guard case .numpy("h.npy", "", .malformedHeader(let found)) = error else {
                Issue.record("expected .malformedHeader, got \(error)")
                continue
            }
            #expect(found.contains(reason), "\(found)")
        }
        let utf8 = npyBytes(header: "{'descr': '|u1', 'fortran_order': False, 'shape': (1,), 'é': 1}", data: [1], version: 3)
        let error = try #require(expectDatasetError { try NumPyArray(npy: utf8, path: "h.npy", array: "") })
        #expect(error == .numpy(path: "h.npy", array: "", problem: .malformedHeader(reason: "unexpected key 'é' (expected 'descr', 'fortran_order' and 'shape')")))
    }

    @Test("magic, version, truncation, trailing bytes and 0-d arrays")
    func structure() {
        let good = npyBytes(header: npyHeader("<f4", "(2, 2)"), data: float32Bytes([1, 2, 3, 4]))
        expectNumPyError(path: "f.npy", array: "x", .notNumPy, mentions: ["\\x93NUMPY"]) {
            try NumPyArray(npy: Array("PK\u{3}\u{4}not numpy at all".utf8), path: "f.npy", array: "x")
        }
        var version4 = good
        version4[6] = 4
        expectNumPyError(path: "f.npy", array: "x", .unsupportedVersion(major: 4, minor: 0), mentions: ["1.0, 2.0 and 3.0"]) {
            try NumPyArray(npy: version4, path: "f.npy", array: "x")
        }
        expectNumPyError(path: "f.npy", array: "x", .truncatedHeader(expectedBytes: 128, foundBytes: 40)) {
            try NumPyArray(npy: Array(good.prefix(40)), path: "f.npy", array: "x")
        }
        expectNumPyError(path: "f.npy", array: "x", .truncatedHeader(expectedBytes: 10, foundBytes: 7)) {
            try NumPyArray(npy: Array(good.prefix(7)), path: "f.npy", array: "x")
        }
        expectNumPyError(path: "f.npy", array: "x", .truncatedData(expectedBytes: 16, foundBytes: 13),
                         mentions: ["need 16 bytes, found 13"]) {
            try NumPyArray(npy: Array(good.dropLast(3)), path: "f.npy", array: "x")
        }
        expectNumPyError(path: "f.npy", array: "x", .trailingData(expectedBytes: 16, foundBytes: 17)) {
            try NumPyArray(npy: good + [0], path: "f.npy", array: "x")
        }
        expectNumPyError(path: "f.npy", array: "x", .zeroDimensional, mentions: ["shape ()"]) {
            try NumPyArray(npy: npyBytes(header: npyHeader("<f4", "()"), data: float32Bytes([1])), path: "f.npy", array: "x")
        }
        expectNumPyError(path: "f.npy", array: "x", .unsupportedDType(descr: "[('a', '<f4'), ('b', '<i4')]")) {
            try NumPyArray(npy: npyBytes(header: "{'descr': [('a', '<f4'), ('b', '<i4')], 'fortran_order': False, 'shape': (1,), }",
                                         data: [UInt8](repeating: 0, count: 8)), path: "f.npy", array: "x")
        }
    }
}
