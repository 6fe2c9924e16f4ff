import ClusterCore
import Datasets
import Wire

/// One heap copy of a shard at a stable address, shared by every chunk frame sent from it
/// (no copy per chunk; freed when the last frame is released).
final class ShardBytes: FrameOwner, @unchecked Sendable {
    let base: UnsafeMutableRawPointer
    let count: Int

    init(_ bytes: [UInt8]) {
        count = bytes.count
        base = UnsafeMutableRawPointer.allocate(byteCount: max(1, bytes.count), alignment: 64)
        bytes.withUnsafeBytes { base.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
    }

    deinit { base.deallocate() }
}

extension Coordinator {
    /// Largest window a worker may request at once (docs/PROTOCOL.md "Shards": at most 8
    /// chunks in flight); larger requests are cut to this.
    static let maxShardWindow: UInt32 = 8

    /// `ShardRequest{first_chunk, chunk_count}`: send those chunks, each as a U8 frame.
    /// Counts as progress of every run in `sharding` that waits for this worker's shard.
    func shardRequest(_ m: ShardRequest, _ request: Request, frames: [Frame]) {
        guard let shard = shards[m.shardHash] else {
            return refuse(.notFound, "no shard \(m.shardHash) here (it may belong to a run that ended)", to: request)
        }
        let chunkBytes = settings.shardChunkBytes
        let chunkCount = UInt32((shard.bytes.count + chunkBytes - 1) / chunkBytes)
        guard m.firstChunk < chunkCount else {
            return refuse(.invalid, "shard_request.first_chunk \(m.firstChunk) is beyond the shard's \(chunkCount) chunks",
                          to: request)
        }
        let owner = shardOwner(m.shardHash, shard)
        let last = min(chunkCount, m.firstChunk + min(m.chunkCount, Coordinator.maxShardWindow))
        for index in m.firstChunk..<last {
            let offset = Int(index) * chunkBytes
            let count = min(chunkBytes, shard.bytes.count - offset)
            let frame = Frame(owner: owner, base: UnsafeRawPointer(owner.base + offset), count: count)
            send(.shardChunk(ShardChunk(shardHash: m.shardHash, chunkIndex: index, offset: UInt64(offset))),
                 to: request.peer, frames: [frame], tensors: [TensorMeta(name: "bytes", dtype: .u8, shape: [UInt64(count)])])
        }
        forEachRun(waitingFor: m.shardHash, on: request.sender) { drive($0, .shardProgress(worker: request.sender)) }
    }

    /// `ShardAck`: the worker has the shard (verified), or failed to get it.
    func shardAck(_ m: ShardAck, _ request: Request) {
        forEachRun(waitingFor: m.shardHash, on: request.sender) { id in
            if m.have {
                event(id, "shard", "\(request.sender) has shard \(m.shardHash.prefix(12))")
                drive(id, .shardDelivered(worker: request.sender))
            } else {
                drive(id, .shardFailed(worker: request.sender, reason: m.error))
            }
        }
    }

    private func forEachRun(waitingFor hash: String, on worker: String, _ body: (String) -> Void) {
        let ids = runs.values.filter {
            $0.shardHash == hash && $0.lifecycle.phase == .sharding && $0.lifecycle.involvedWorkers.contains(worker)
        }.map(\.id)
        for id in ids.sorted() { body(id) }
    }

    /// One owner per shard, so frames point into the shard's bytes without copying them.
    private func shardOwner(_ hash: String, _ shard: DatasetShard) -> ShardBytes {
        if let owner = shardOwners[hash] { return owner }
        let owner = ShardBytes(shard.bytes)
        shardOwners[hash] = owner
        return owner
    }
}
