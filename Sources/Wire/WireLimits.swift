/// Bounds a receiver enforces before trusting a message (DESIGN.md §5, docs/PROTOCOL.md).
///
/// Frame 0 is checked against `maxEnvelopeBytes` before protobuf-c sees it, so the memory
/// protobuf-c allocates while unpacking stays proportional to that bound. A message may have
/// at most 1 + `maxTensorFrames` frames.
///
/// docs/PROTOCOL.md "Limits" states the values of ``standard`` for client authors;
/// `ProtocolDocTests` fails when the two disagree, so change both together.
public struct WireLimits: Sendable, Equatable {
    /// Largest frame 0 (encoded `Envelope`) accepted, in bytes (``WireError/Kind/oversized``).
    public var maxEnvelopeBytes: Int
    /// Most entries in `Envelope.tensors` (``WireError/Kind/tooMany``).
    public var maxTensorFrames: Int
    /// Most dimensions of one tensor (``WireError/Kind/tooMany``).
    public var maxRank: Int
    /// Largest tensor frame, declared or real, in bytes (``WireError/Kind/oversized``).
    public var maxTensorBytes: Int
    /// Most elements in any repeated field (``WireError/Kind/tooMany``).
    public var maxRepeated: Int
    /// Longest string field, in UTF-8 bytes (``WireError/Kind/tooMany``).
    public var maxStringBytes: Int

    public init(maxEnvelopeBytes: Int = 1 << 20, maxTensorFrames: Int = 16, maxRank: Int = 8,
                maxTensorBytes: Int = 512 << 20, maxRepeated: Int = 100_000, maxStringBytes: Int = 1 << 20) {
        self.maxEnvelopeBytes = maxEnvelopeBytes
        self.maxTensorFrames = maxTensorFrames
        self.maxRank = maxRank
        self.maxTensorBytes = maxTensorBytes
        self.maxRepeated = maxRepeated
        self.maxStringBytes = maxStringBytes
    }

    /// 1 MiB envelopes, 16 tensors of rank ≤ 8 and ≤ 512 MiB each, 100 000 elements per
    /// repeated field, 1 MiB strings.
    public static let standard = WireLimits()

    /// What a coordinator receives: the standard limits, but one tensor frame of at most
    /// 1 MiB (only `ArtifactChunk` carries a frame to it, ``ArtifactChunk/chunkBytes``). Its
    /// socket's `ZMQ_MAXMSGSIZE` follows, so libzmq drops a peer that sends a larger frame
    /// before buffering it, and no message to a coordinator holds more than about 2 MiB, whoever
    /// sends it.
    public static let coordinator = WireLimits(maxTensorFrames: 1, maxTensorBytes: ArtifactChunk.chunkBytes)
}
