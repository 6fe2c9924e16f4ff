/// A dense, row-major Float32 array with value semantics (copy-on-write storage).
///
/// `shape` lists the dimensions outermost first, e.g. `[B, C, H, W]` for an image batch.
/// The storage is 64-byte aligned so SIMD and BLAS kernels get full-width loads.
public struct Tensor: Sendable {
    public private(set) var shape: [Int]
    @usableFromInline var storage: FloatStorage

    /// Number of elements: the product of `shape` (1 for a scalar `[]`).
    public var count: Int { storage.count }

    /// A tensor of `shape` filled with `value`.
    public init(shape: [Int], repeating value: Float = 0) {
        precondition(shape.allSatisfy { $0 >= 0 }, "Tensor shape must be non-negative, got \(shape)")
        self.shape = shape
        self.storage = FloatStorage(count: Tensor.elementCount(shape))
        if value != 0 { storage.pointer.update(repeating: value, count: storage.count) }
    }

    /// A tensor of `shape` holding `values` (row-major); `values.count` must equal the shape's product.
    public init(shape: [Int], values: [Float]) {
        precondition(Tensor.elementCount(shape) == values.count,
                     "Tensor of shape \(shape) needs \(Tensor.elementCount(shape)) values, got \(values.count)")
        self.shape = shape
        self.storage = FloatStorage(count: values.count)
        values.withUnsafeBufferPointer { src in
            if let base = src.baseAddress { storage.pointer.update(from: base, count: values.count) }
        }
    }

    /// Product of the dimensions of `shape`.
    @inlinable public static func elementCount(_ shape: [Int]) -> Int { shape.reduce(1, *) }

    /// The elements as an array (a copy).
    public var scalars: [Float] { Array(UnsafeBufferPointer(start: storage.pointer, count: count)) }

    /// Reinterprets the same elements under another shape with the same element count.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        precondition(Tensor.elementCount(newShape) == count, "cannot reshape \(shape) to \(newShape)")
        var copy = self
        copy.shape = newShape
        return copy
    }

    /// Read-only access to the contiguous elements.
    @inlinable public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        try body(UnsafeBufferPointer(start: storage.pointer, count: storage.count))
    }

    /// Mutable access to the contiguous elements; copies the storage first if it is shared.
    @inlinable public mutating func withUnsafeMutableBufferPointer<R>(_ body: (UnsafeMutableBufferPointer<Float>) throws -> R) rethrows -> R {
        if !isKnownUniquelyReferenced(&storage) { storage = storage.copy() }
        return try body(UnsafeMutableBufferPointer(start: storage.pointer, count: storage.count))
    }

    /// Element `i` of the flattened tensor.
    public subscript(flat i: Int) -> Float {
        get { precondition(i >= 0 && i < count); return storage.pointer[i] }
        set {
            precondition(i >= 0 && i < count)
            if !isKnownUniquelyReferenced(&storage) { storage = storage.copy() }
            storage.pointer[i] = newValue
        }
    }
}

extension Tensor: Equatable {
    /// Bitwise-equal shape and elements (NaN ≠ NaN as for Float).
    public static func == (lhs: Tensor, rhs: Tensor) -> Bool {
        guard lhs.shape == rhs.shape else { return false }
        for i in 0..<lhs.count where lhs.storage.pointer[i] != rhs.storage.pointer[i] { return false }
        return true
    }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let head = scalars.prefix(8).map { "\($0)" }.joined(separator: ", ")
        return "Tensor\(shape)[\(head)\(count > 8 ? ", …" : "")]"
    }
}
