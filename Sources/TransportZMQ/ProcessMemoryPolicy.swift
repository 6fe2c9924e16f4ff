import CZeroMQ

/// Allocator policy for a process that moves tensor frames: call once at start-up (the
/// `distillery` binary does). It is process-wide, so a library never applies it by itself.
public enum ProcessMemoryPolicy {
    /// Tensor frames (64 KiB to MiBs) are allocated by libzmq's I/O thread and freed by
    /// whichever task consumed them. With glibc's defaults, freed MiB-sized blocks go back to
    /// the kernel (munmap, or trimming the arena's top) and the next message faults every page
    /// in again: receiving a 1 MiB logits stream cost 180k–500k page faults per 6 GB and twice
    /// raw libzmq's CPU time. Serving blocks below 32 MiB from the heap (`M_MMAP_THRESHOLD`,
    /// which also turns off glibc's dynamic threshold) and keeping up to 256 MiB of free heap
    /// (a receive queue's worth of 1 MiB frames, `M_TRIM_THRESHOLD`) brings it to ~7k faults.
    public static func keepLargeBuffersInTheHeap() {
        _ = mallopt(M_MMAP_THRESHOLD, 32 << 20)
        _ = mallopt(M_TRIM_THRESHOLD, 256 << 20)
    }
}
