/// Writes `.npy` arrays and `.npz` archives as `numpy.save`/`numpy.savez` do (format 1.0,
/// little-endian, C order; stored zip entries), so tests can make data sets without Python.
/// Independent of the reader under test: the layout is written here from the NumPy format
/// description (numpy.lib.format) and the zip specification (APPNOTE 4.3).
public enum NumPyWriter {
    /// An array's dtype and bytes.
    public enum Values {
        case uint8([UInt8])
        case float32([Float])
        case int64([Int64])

        var descr: String {
            switch self {
            case .uint8: return "|u1"
            case .float32: return "<f4"
            case .int64: return "<i8"
            }
        }

        var bytes: [UInt8] {
            switch self {
            case .uint8(let v): return v
            case .float32(let v): return v.flatMap { le($0.bitPattern) }
            case .int64(let v): return v.flatMap { le(UInt64(bitPattern: $0)) }
            }
        }
    }

    /// A `.npy` file (format 1.0) of `values` with `shape`.
    public static func npy(_ values: Values, shape: [Int]) -> [UInt8] {
        let shapeText = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        var header = "{'descr': '\(values.descr)', 'fortran_order': False, 'shape': \(shapeText), }"
        // Magic (6) + version (2) + length (2) + header + newline, padded to a multiple of 64.
        let unpadded = 10 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        return [0x93] + Array("NUMPY".utf8) + [1, 0] + le(UInt16(header.utf8.count)) + Array(header.utf8) + values.bytes
    }

    /// A `.npz` archive (stored entries `NAME.npy`) of the given arrays, in order.
    public static func npz(_ arrays: [(name: String, values: Values, shape: [Int])]) -> [UInt8] {
        var out: [UInt8] = [], central: [UInt8] = []
        for array in arrays {
            let data = npy(array.values, shape: array.shape)
            let name = Array((array.name + ".npy").utf8)
            let crc = crc32(data)
            let offset = UInt32(out.count)
            // Local file header: version 2.0, no flags, stored, no time, CRC, sizes, name.
            out += le(UInt32(0x0403_4B50)) + le(UInt16(20)) + le(UInt16(0)) + le(UInt16(0)) + le(UInt16(0)) + le(UInt16(0x21))
            out += le(crc) + le(UInt32(data.count)) + le(UInt32(data.count)) + le(UInt16(name.count)) + le(UInt16(0)) + name + data
            central += le(UInt32(0x0201_4B50)) + le(UInt16(20)) + le(UInt16(20)) + le(UInt16(0)) + le(UInt16(0))
            central += le(UInt16(0)) + le(UInt16(0x21)) + le(crc) + le(UInt32(data.count)) + le(UInt32(data.count))
            central += le(UInt16(name.count)) + le(UInt16(0)) + le(UInt16(0)) + le(UInt16(0)) + le(UInt16(0)) + le(UInt32(0))
            central += le(offset) + name
        }
        let centralOffset = UInt32(out.count)
        out += central
        out += le(UInt32(0x0605_4B50)) + le(UInt16(0)) + le(UInt16(0)) + le(UInt16(arrays.count)) + le(UInt16(arrays.count))
        out += le(UInt32(central.count)) + le(centralOffset) + le(UInt16(0))
        return out
    }

    /// CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320) as zip uses it.
    public static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc = table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8)
        }
        return crc ^ 0xFFFF_FFFF
    }

    private static let table: [UInt32] = (0..<256).map { n in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    private static func le<T: FixedWidthInteger>(_ v: T) -> [UInt8] {
        withUnsafeBytes(of: v.littleEndian) { Array($0) }
    }
}
