/// Describes one raw tensor frame (proto message `distillery.v1.TensorMeta`).
///
/// Frame `i + 1` of a message is described by `Envelope.tensors[i]`. Decode checks that
/// `byteLength == product(shape) × dtype.byteWidth` (without overflow) and that it equals the
/// frame's real length; see ``WireCodec``.
public struct TensorMeta: Sendable, Equatable {
    public var name: String
    public var dtype: DType
    public var shape: [UInt64]
    public var byteLength: UInt64

    /// A description with an explicit `byteLength` (which may lie; used to craft bad input).
    public init(name: String, dtype: DType, shape: [UInt64], byteLength: UInt64) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.byteLength = byteLength
    }

    /// A description whose `byteLength` is `product(shape) × dtype.byteWidth`
    /// (`UInt64.max` if that overflows, which decode and encode then refuse). A zero
    /// dimension makes the product 0 whatever the other dimensions are.
    public init(name: String, dtype: DType, shape: [UInt64]) {
        self.init(name: name, dtype: dtype, shape: shape,
                  byteLength: TensorMeta.byteCount(shape: shape, width: dtype.byteWidth) ?? .max)
    }

    /// `product(shape) × width`, or nil when it does not fit in 64 bits.
    static func byteCount<S: Sequence<UInt64>>(shape: S, width: Int) -> UInt64? {
        if shape.contains(0) { return 0 }
        var total = UInt64(width)
        for dim in shape {
            let (product, overflow) = total.multipliedReportingOverflow(by: dim)
            if overflow { return nil }
            total = product
        }
        return total
    }
}
