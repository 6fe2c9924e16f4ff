#if canImport(Glibc)
import Glibc
#endif

/// Owns a 64-byte aligned, zero-initialised block of `count` Float32 values.
///
/// Mutation goes through `Tensor`'s copy-on-write accessors or through `FloatBuffer`
/// owners that never share it, which is why the class can be `@unchecked Sendable`.
public final class FloatStorage: @unchecked Sendable {
    public let count: Int
    public let pointer: UnsafeMutablePointer<Float>

    public init(count: Int) {
        precondition(count >= 0, "negative element count \(count)")
        self.count = count
        let bytes = max(64, (count * MemoryLayout<Float>.stride + 63) & ~63)
        let raw = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        raw.initializeMemory(as: UInt8.self, repeating: 0, count: bytes)
        self.pointer = raw.bindMemory(to: Float.self, capacity: max(count, 16))
    }

    /// A new storage with the same elements.
    public func copy() -> FloatStorage {
        let c = FloatStorage(count: count)
        c.pointer.update(from: pointer, count: count)
        return c
    }

    deinit { UnsafeMutableRawPointer(pointer).deallocate() }
}

/// A growable scratch buffer for layer workspaces: grows to the largest size requested and
/// reuses its memory afterwards, so steady-state training allocates nothing.
public struct FloatBuffer: @unchecked Sendable {
    public private(set) var storage: FloatStorage = FloatStorage(count: 0)

    public init() {}

    /// Pointer to at least `count` floats (contents unspecified after growth: zeroed).
    public mutating func reserve(_ count: Int) -> UnsafeMutablePointer<Float> {
        if storage.count < count { storage = FloatStorage(count: count) }
        return storage.pointer
    }

    public var pointer: UnsafeMutablePointer<Float> { storage.pointer }
    public var capacity: Int { storage.count }
}
