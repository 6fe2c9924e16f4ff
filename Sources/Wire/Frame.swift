import Tensor

/// Something that keeps a frame's bytes alive: a Swift array, a tensor's storage, or a received
/// ZeroMQ message. Frames share their owner instead of copying bytes (DESIGN.md §5: bulk bytes
/// are never copied through protobuf and are sent zero-copy).
public protocol FrameOwner: AnyObject, Sendable {}

/// The bytes of one ZeroMQ frame: frame 0 of a message is the encoded `Envelope`, frames 1…n
/// are raw little-endian tensors described by `Envelope.tensors`.
///
/// A frame is immutable and cheap to copy; `owner` keeps `base` valid for as long as any copy
/// (or a ZeroMQ send that borrowed it) is alive. The bytes are never written through a frame,
/// which is why it can be `@unchecked Sendable`.
public struct Frame: @unchecked Sendable {
    public let owner: any FrameOwner
    /// Start of the bytes (may be nil only when `count == 0`).
    public let base: UnsafeRawPointer?
    public let count: Int

    /// A frame viewing `count` bytes at `base`, kept alive by `owner`.
    public init(owner: any FrameOwner, base: UnsafeRawPointer?, count: Int) {
        precondition(count >= 0 && (count == 0 || base != nil), "a frame of \(count) bytes needs memory")
        self.owner = owner
        self.base = base
        self.count = count
    }

    /// A frame owning a copy of `bytes`.
    public init(bytes: [UInt8]) {
        let box = ByteArrayOwner(bytes)
        self.init(owner: box, base: box.base, count: bytes.count)
    }

    /// A frame holding `tensor`'s Float32 elements without copying them (little-endian hosts).
    public init(tensor: Tensor) {
        let box = TensorOwner(tensor)
        self.init(owner: box, base: box.base, count: tensor.count * MemoryLayout<Float>.stride)
    }

    /// Read access to the bytes.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try withExtendedLifetime(owner) { try body(UnsafeRawBufferPointer(start: base, count: count)) }
    }

    /// The bytes as an array (a copy).
    public var bytes: [UInt8] { withUnsafeBytes { Array($0) } }
}

extension Frame: Equatable {
    /// Frames are equal when their bytes are equal.
    public static func == (a: Frame, b: Frame) -> Bool {
        guard a.count == b.count else { return false }
        return a.withUnsafeBytes { x in b.withUnsafeBytes { y in x.elementsEqual(y) } }
    }
}

/// Owns a heap copy of a byte array with a stable address.
final class ByteArrayOwner: FrameOwner, @unchecked Sendable {
    let base: UnsafeRawPointer?
    private let storage: UnsafeMutableRawPointer?

    init(_ bytes: [UInt8]) {
        if bytes.isEmpty {
            storage = nil
        } else {
            let p = UnsafeMutableRawPointer.allocate(byteCount: bytes.count, alignment: 64)
            bytes.withUnsafeBytes { p.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
            storage = p
        }
        base = storage.map { UnsafeRawPointer($0) }
    }

    deinit { storage?.deallocate() }
}

/// Keeps a tensor (and so its storage) alive; the tensor is never mutated through the box.
final class TensorOwner: FrameOwner, @unchecked Sendable {
    let tensor: Tensor
    let base: UnsafeRawPointer?

    init(_ tensor: Tensor) {
        self.tensor = tensor
        self.base = tensor.withUnsafeBufferPointer { UnsafeRawPointer($0.baseAddress) }
    }
}
