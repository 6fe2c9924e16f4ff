internal import DistilleryProtoC

// Shard messages ↔ protobuf-c structs.

extension ShardOffer {
    init(c: Distillery__V1__ShardOffer) throws(WireError) {
        try self.init(
            shardHash: CRead.string(c.shard_hash, "shard_offer.shard_hash"),
            totalBytes: c.total_bytes,
            chunkCount: c.chunk_count,
            description: CRead.string(c.description, "shard_offer.description"))
    }

    func c(_ a: CArena) throws(WireError) -> UnsafeMutablePointer<Distillery__V1__ShardOffer> {
        let p = a.message(distillery__v1__shard_offer__init)
        p.pointee.shard_hash = try a.string(shardHash, "shard_offer.shard_hash")
        p.pointee.total_bytes = totalBytes
        p.pointee.chunk_count = chunkCount
        p.pointee.description = try a.string(description, "shard_offer.description")
        return p
    }
}

extension ShardRequest {
    init(c: Distillery__V1__ShardRequest) throws(WireError) {
        try self.init(
            shardHash: CRead.string(c.shard_hash, "shard_request.shard_hash"),
            firstChunk: c.first_chunk,
            chunkCount: c.chunk_count)
    }

    func c(_ a: CArena) throws(WireError) -> UnsafeMutablePointer<Distillery__V1__ShardRequest> {
        let p = a.message(distillery__v1__shard_request__init)
        p.pointee.shard_hash = try a.string(shardHash, "shard_request.shard_hash")
        p.pointee.first_chunk = firstChunk
        p.pointee.chunk_count = chunkCount
        return p
    }
}

extension ShardChunk {
    init(c: Distillery__V1__ShardChunk) throws(WireError) {
        try self.init(
            shardHash: CRead.string(c.shard_hash, "shard_chunk.shard_hash"),
            chunkIndex: c.chunk_index,
            offset: c.offset)
    }

    func c(_ a: CArena) throws(WireError) -> UnsafeMutablePointer<Distillery__V1__ShardChunk> {
        let p = a.message(distillery__v1__shard_chunk__init)
        p.pointee.shard_hash = try a.string(shardHash, "shard_chunk.shard_hash")
        p.pointee.chunk_index = chunkIndex
        p.pointee.offset = offset
        return p
    }
}

extension ShardAck {
    init(c: Distillery__V1__ShardAck) throws(WireError) {
        try self.init(
            shardHash: CRead.string(c.shard_hash, "shard_ack.shard_hash"),
            have: c.have != 0,
            error: CRead.string(c.error, "shard_ack.error"))
    }

    func c(_ a: CArena) throws(WireError) -> UnsafeMutablePointer<Distillery__V1__ShardAck> {
        let p = a.message(distillery__v1__shard_ack__init)
        p.pointee.shard_hash = try a.string(shardHash, "shard_ack.shard_hash")
        p.pointee.have = have ? 1 : 0
        p.pointee.error = try a.string(error, "shard_ack.error")
        return p
    }
}
