import ClusterCore
import Datasets
import Wire

/// A shard — or a teacher checkpoint, which travels the same way and shares the
/// content-addressed cache — being received in windows of chunks (docs/PROTOCOL.md "Shards").
struct IncomingShard: Sendable {
    var hash: String
    var buffer: [UInt8]
    var chunkCount: UInt32
    var received: [Bool]
    var receivedCount: UInt32 = 0
    /// The chunks requested last: [windowStart, windowEnd).
    var windowStart: UInt32 = 0
    var windowEnd: UInt32 = 0
    var windowSentAt: ClockTime
    var tries = 0

    var windowComplete: Bool { (windowStart..<windowEnd).allSatisfy { received[Int($0)] } }
}

extension Worker {
    /// Largest shard a worker accepts (a bound on memory for a hostile or buggy offer).
    static let maxShardBytes: UInt64 = 4 << 30

    /// `ShardOffer`: acknowledge a cached shard at once, else start requesting windows.
    func shardOffered(_ offer: ShardOffer) async {
        if cache.contains(offer.shardHash) {
            logger.info("shard \(offer.shardHash.prefix(12)) is already cached")
            await send(.shardAck(ShardAck(shardHash: offer.shardHash, have: true)))
            return
        }
        if incoming[offer.shardHash] != nil { return }  // already on its way
        guard offer.totalBytes <= Worker.maxShardBytes, UInt64(offer.chunkCount) <= offer.totalBytes else {
            let error = "shard of \(offer.totalBytes) bytes in \(offer.chunkCount) chunks refused: at most \(Worker.maxShardBytes) bytes"
            tasks.transferFailed(offer.shardHash, reason: error)
            await send(.shardAck(ShardAck(shardHash: offer.shardHash, have: false, error: error)))
            return
        }
        logger.info("receiving shard \(offer.shardHash.prefix(12)): \(offer.totalBytes) bytes in \(offer.chunkCount) chunks")
        tasks.transferStarted(offer.shardHash)
        incoming[offer.shardHash] = IncomingShard(hash: offer.shardHash, buffer: [UInt8](repeating: 0, count: Int(offer.totalBytes)),
                                                  chunkCount: offer.chunkCount,
                                                  received: [Bool](repeating: false, count: Int(offer.chunkCount)),
                                                  windowSentAt: clock.now())
        await requestNextWindow(offer.shardHash)
    }

    /// `ShardChunk`: copy its bytes in place; a complete window asks for the next one, the
    /// last one verifies the hash, stores the shard and acknowledges it.
    func shardChunk(_ chunk: ShardChunk, frames: [Frame]) async {
        guard let chunkCount = incoming[chunk.shardHash]?.chunkCount, let size = incoming[chunk.shardHash]?.buffer.count,
              frames.count == 1, chunk.chunkIndex < chunkCount else { return }
        let frame = frames[0]
        guard chunk.offset + UInt64(frame.count) <= UInt64(size) else {
            logger.warning("shard chunk \(chunk.chunkIndex) overruns the shard; dropped")
            return
        }
        // Taken out of the dictionary while it is written: a copy left behind there would make
        // every chunk copy the whole buffer (copy-on-write), 55 MB per 1 MiB chunk.
        guard var shard = incoming.removeValue(forKey: chunk.shardHash) else { return }
        if !shard.received[Int(chunk.chunkIndex)] {
            shard.buffer.withUnsafeMutableBytes { dst in
                frame.withUnsafeBytes { src in
                    if let s = src.baseAddress { (dst.baseAddress! + Int(chunk.offset)).copyMemory(from: s, byteCount: src.count) }
                }
            }
            shard.received[Int(chunk.chunkIndex)] = true
            shard.receivedCount += 1
        }
        incoming[chunk.shardHash] = shard
        if shard.receivedCount == shard.chunkCount {
            incoming[chunk.shardHash] = nil
            await finishShard(shard)
        } else if shard.windowComplete {
            await requestNextWindow(chunk.shardHash)
        }
    }

    private func finishShard(_ shard: IncomingShard) async {
        do {
            try cache.store(shard.buffer, sha256: shard.hash)
            tasks.transferCompleted(shard.hash)
            logger.info("shard \(shard.hash.prefix(12)) received and verified (\(shard.buffer.count) bytes)")
            await send(.shardAck(ShardAck(shardHash: shard.hash, have: true)))
        } catch {
            logger.error("shard \(shard.hash.prefix(12)) is unusable: \(error)")
            tasks.transferFailed(shard.hash, reason: "\(error)")
            await send(.shardAck(ShardAck(shardHash: shard.hash, have: false, error: "worker \(settings.name): \(error)")))
        }
    }

    private func requestNextWindow(_ hash: String) async {
        guard var shard = incoming[hash] else { return }
        guard let first = shard.received.firstIndex(of: false) else { return }
        shard.windowStart = UInt32(first)
        shard.windowEnd = min(shard.chunkCount, shard.windowStart + settings.shardWindow)
        shard.windowSentAt = clock.now()
        shard.tries = 0
        incoming[hash] = shard
        await send(.shardRequest(ShardRequest(shardHash: hash, firstChunk: shard.windowStart,
                                              chunkCount: shard.windowEnd - shard.windowStart)))
    }

    /// A window not complete within `shardWindowTimeout` is requested again; after
    /// `shardRetries` tries the transfer fails and the coordinator is told why.
    func checkShardWindows(_ now: ClockTime) async {
        for hash in incoming.keys.sorted() {
            guard var shard = incoming[hash], now - shard.windowSentAt >= settings.shardWindowTimeout else { continue }
            shard.tries += 1
            if shard.tries > settings.shardRetries {
                incoming[hash] = nil
                let error = "worker \(settings.name): chunks \(shard.windowStart)..<\(shard.windowEnd) of shard "
                    + "\(hash.prefix(12)) did not arrive after \(settings.shardRetries) requests of "
                    + "\(settings.shardWindowTimeout.shortDescription) each"
                logger.error("\(error)")
                tasks.transferFailed(hash, reason: error)
                await send(.shardAck(ShardAck(shardHash: hash, have: false, error: error)))
                continue
            }
            shard.windowSentAt = now
            incoming[hash] = shard
            let missing = (shard.windowStart..<shard.windowEnd).first { !shard.received[Int($0)] } ?? shard.windowStart
            await send(.shardRequest(ShardRequest(shardHash: hash, firstChunk: missing, chunkCount: shard.windowEnd - missing)))
        }
    }
}
