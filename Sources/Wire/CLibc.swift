#if canImport(Glibc)
internal import Glibc
#elseif canImport(Musl)
internal import Musl
#elseif canImport(Darwin)
internal import Darwin
#endif

/// Length in bytes of a NUL-terminated C string (libc `strlen`).
func cStringLength(_ p: UnsafePointer<CChar>) -> Int {
    Int(strlen(p))
}

/// Index of the first NUL byte in `bytes`, if any (libc `memchr`, fast even in debug builds).
func firstNUL(in bytes: UnsafeRawBufferPointer) -> Int? {
    guard let base = bytes.baseAddress, let hit = memchr(base, 0, bytes.count) else { return nil }
    return UnsafeRawPointer(hit) - base
}
