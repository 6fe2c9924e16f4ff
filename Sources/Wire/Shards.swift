// Data shard distribution (proto section "data shards").

/// coordinator → worker: "you need this shard" (proto `distillery.v1.ShardOffer`).
///
/// Rules: `shard_hash` non-empty; `chunk_count` ≥ 1; `total_bytes` ≥ `chunk_count` (every
/// chunk holds at least one byte); no tensors.
public struct ShardOffer: Sendable, Equatable {
    /// Hex SHA-256 of the shard's bytes.
    public var shardHash: String
    public var totalBytes: UInt64
    public var chunkCount: UInt32
    /// E.g. "fashion-mnist train [0, 55000)".
    public var description: String

    public init(shardHash: String = "", totalBytes: UInt64 = 0, chunkCount: UInt32 = 0, description: String = "") {
        self.shardHash = shardHash
        self.totalBytes = totalBytes
        self.chunkCount = chunkCount
        self.description = description
    }
}

/// worker → coordinator: send me these chunks (proto `distillery.v1.ShardRequest`).
///
/// Rules: `shard_hash` non-empty; `chunk_count` ≥ 1; `first_chunk + chunk_count` ≤ 2³²
/// (chunk indices are uint32); no tensors.
public struct ShardRequest: Sendable, Equatable {
    public var shardHash: String
    public var firstChunk: UInt32
    public var chunkCount: UInt32

    public init(shardHash: String = "", firstChunk: UInt32 = 0, chunkCount: UInt32 = 0) {
        self.shardHash = shardHash
        self.firstChunk = firstChunk
        self.chunkCount = chunkCount
    }
}

/// coordinator → worker: one chunk of a shard; its bytes are tensor frame 1
/// (proto `distillery.v1.ShardChunk`).
///
/// Rules: `shard_hash` non-empty; exactly 1 tensor, dtype u8, shape `[bytes]` with
/// bytes ≥ 1; `offset + bytes` fits in 64 bits.
public struct ShardChunk: Sendable, Equatable {
    public var shardHash: String
    public var chunkIndex: UInt32
    public var offset: UInt64

    public init(shardHash: String = "", chunkIndex: UInt32 = 0, offset: UInt64 = 0) {
        self.shardHash = shardHash
        self.chunkIndex = chunkIndex
        self.offset = offset
    }
}

/// worker → coordinator: shard present or failed (proto `distillery.v1.ShardAck`).
///
/// Rules: `shard_hash` non-empty; `have` ⇒ `error` empty; not `have` ⇒ `error` non-empty;
/// no tensors.
public struct ShardAck: Sendable, Equatable {
    public var shardHash: String
    /// True: the whole shard is present and its hash verified.
    public var have: Bool
    public var error: String

    public init(shardHash: String = "", have: Bool = false, error: String = "") {
        self.shardHash = shardHash
        self.have = have
        self.error = error
    }
}
