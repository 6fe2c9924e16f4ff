/// The contents of one IDX file of unsigned bytes: its dimension sizes and its data.
///
/// IDX is the format of MNIST and Fashion-MNIST (<http://yann.lecun.com/exdb/mnist/>):
/// a big-endian magic number `0x0000TTNN` (TT = element type, `0x08` = unsigned byte;
/// NN = number of dimensions), then NN big-endian `UInt32` dimension sizes, then the
/// elements in row-major order. An image file is `0x00000803` with dims
/// `[count, height, width]`; a label file is `0x00000801` with dims `[count]`.
public struct IDXArray: Sendable, Equatable {
    /// The IDX type byte for unsigned bytes, the only element type supported.
    public static let unsignedByteType: UInt8 = 0x08
    /// The magic number of an unsigned-byte image file (3 dimensions).
    public static let imagesMagic: UInt32 = 0x0000_0803
    /// The magic number of an unsigned-byte label file (1 dimension).
    public static let labelsMagic: UInt32 = 0x0000_0801

    /// Dimension sizes, outermost first (the first is the sample count).
    public let dims: [Int]
    /// Row-major elements; `data.count == dims.reduce(1, *)`.
    public let data: [UInt8]

    /// Creates an array. `data.count` must equal the product of `dims` (a programming error otherwise).
    public init(dims: [Int], data: [UInt8]) {
        precondition(dims.allSatisfy { $0 >= 0 }, "IDXArray: negative dimension in \(dims)")
        precondition(dims.reduce(1, *) == data.count,
                     "IDXArray: \(data.count) elements do not fill dims \(dims)")
        self.dims = dims
        self.data = data
    }

    /// The magic number this array would have in a file: `0x0800 | dims.count`.
    public var magic: UInt32 { IDXArray.magic(dimensions: dims.count) }

    /// The number of samples: the first dimension (1 for a zero-dimensional array).
    public var count: Int { dims.first ?? 1 }

    /// The magic number of an unsigned-byte array with `dimensions` dimensions.
    public static func magic(dimensions: Int) -> UInt32 {
        UInt32(unsignedByteType) << 8 | UInt32(truncatingIfNeeded: dimensions & 0xFF)
    }
}
