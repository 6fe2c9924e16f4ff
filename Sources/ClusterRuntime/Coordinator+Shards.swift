import Clocks
import ClusterCore
import ClusterStore
import Datasets
import FileSupport
import Foundation
import NN
import RunSpec
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

/// A data set selection: one shard per data set spec less its validation count
/// (``DatasetSpec/shardSelection``: format, path, arrays, classes, train limit, pre-processing).
struct ShardKey: Hashable, Sendable {
    var dataset: DatasetSpec

    init(_ dataset: DatasetSpec) { self.dataset = dataset.shardSelection }
}

/// Where the shard of a selection stands on the coordinator.
enum ShardState: Sendable {
    /// Being read and packed on a thread of its own; these workers of these runs wait for it.
    case packing(waiting: [(runID: String, worker: String)])
    case ready(hash: String)
    case failed(String)
}

extension Coordinator {
    /// `.sendShard(worker)`: offer the run's shard to the worker — once it is packed. Packing
    /// (reading the IDX files, ~1 s for Fashion-MNIST) runs off the coordinator's executor,
    /// so heartbeats keep being handled meanwhile; the lifecycle's shard-stall timeout bounds it.
    func offerShard(of runID: String, to worker: String) {
        guard let run = runs[runID] else { return }
        switch shardStates[run.shardKey] {
        case .ready(let hash)?:
            runs[runID]?.shardHash = hash
            guard let shard = shards[hash] else { return drive(runID, .shardFailed(worker: worker, reason: "the coordinator lost the data shard")) }
            let chunks = (shard.bytes.count + settings.shardChunkBytes - 1) / settings.shardChunkBytes
            let offer = ShardOffer(shardHash: hash, totalBytes: UInt64(shard.bytes.count), chunkCount: UInt32(chunks),
                                   description: "\(run.spec.dataset.name) for run \(runID)")
            if !send(.shardOffer(offer), toWorker: worker) {
                drive(runID, .shardFailed(worker: worker, reason: "worker \(worker) is not connected"))
            }
        case .failed(let reason)?:
            drive(runID, .shardFailed(worker: worker, reason: reason))
        case .packing(let waiting)?:
            if waiting.contains(where: { $0 == (runID, worker) }) { return }  // offered once it is packed
            shardStates[run.shardKey] = .packing(waiting: waiting + [(runID, worker)])
        case nil:
            shardStates[run.shardKey] = .packing(waiting: [(runID, worker)])
            startPacking(run.shardKey)
        }
    }

    private func startPacking(_ key: ShardKey) {
        let logger = self.logger
        let clock = self.clock
        let thread = Thread { [self] in
            let started = clock.instant()
            let result: Result<DatasetShard, DatasetError>
            do throws(DatasetError) {
                result = .success(try key.dataset.packShard())
            } catch {
                result = .failure(error)
            }
            let seconds = clock.elapsed(since: started).inSeconds
            if case .success(let shard) = result {
                logger.info("packed data shard \(shard.sha256.prefix(12)) (\(shard.bytes.count) bytes) from \(key.dataset.path) in \(String(format: "%.2f", seconds)) s")
            }
            Task { await self.shardPacked(key, result) }
        }
        thread.name = "distillery-pack"
        thread.start()
    }

    /// The packing thread is done: offer the shard to everyone waiting, or fail their runs.
    /// (The offers go out with the service's next tick.)
    func shardPacked(_ key: ShardKey, _ result: Result<DatasetShard, DatasetError>) {
        guard case .packing(let waiting)? = shardStates[key] else { return }
        switch result {
        case .success(let shard):
            shards[shard.sha256] = shard
            shardStates[key] = .ready(hash: shard.sha256)
        case .failure(let error):
            shardStates[key] = .failed("the coordinator cannot read the data set at \(key.dataset.path): \(error)")
        }
        for (runID, worker) in waiting { offerShard(of: runID, to: worker) }
    }

    /// Largest window a worker may request at once (docs/PROTOCOL.md "Shards": at most 8
    /// chunks in flight); larger requests are cut to this.
    static let maxShardWindow: UInt32 = 8

    /// `ShardRequest{first_chunk, chunk_count}`: send those chunks, each as a U8 frame.
    /// Counts as progress of every run that waits for this worker's shard.
    /// Teacher checkpoints offered with `ShardOffer` are served the same way, by their hash.
    func shardRequest(_ m: ShardRequest, _ request: Request, frames: [Frame]) {
        let owner: ShardBytes
        if let shard = shards[m.shardHash] {
            owner = shardOwner(m.shardHash, shard)
        } else if let blob = checkpointBlobs[m.shardHash] {
            owner = blob.bytes
        } else {
            return refuse(.notFound, "no shard or checkpoint \(m.shardHash) here (it may belong to a run that ended)", to: request)
        }
        let chunkBytes = settings.shardChunkBytes
        let chunkCount = UInt32((owner.count + chunkBytes - 1) / chunkBytes)
        guard m.firstChunk < chunkCount else {
            return refuse(.invalid, "shard_request.first_chunk \(m.firstChunk) is beyond the shard's \(chunkCount) chunks",
                          to: request)
        }
        let last = min(chunkCount, m.firstChunk + min(m.chunkCount, Coordinator.maxShardWindow))
        for index in m.firstChunk..<last {
            let offset = Int(index) * chunkBytes
            let count = min(chunkBytes, owner.count - offset)
            let frame = Frame(owner: owner, base: UnsafeRawPointer(owner.base + offset), count: count)
            send(.shardChunk(ShardChunk(shardHash: m.shardHash, chunkIndex: index, offset: UInt64(offset))),
                 to: request.peer, frames: [frame], tensors: [TensorMeta(name: "bytes", dtype: .u8, shape: [UInt64(count)])])
        }
        forEachRun(waitingFor: m.shardHash, on: request.sender) { drive($0, .shardProgress(worker: request.sender)) }
    }

    /// `ShardAck`: the worker has the shard (verified), or failed to get it.
    func shardAck(_ m: ShardAck, _ request: Request) {
        // Acks of a teacher checkpoint's transfer need nothing more (the task waits for it).
        var awaited = checkpointBlobs[m.shardHash] != nil
        defer {
            if !awaited {
                ignored.record("shard-ack-unawaited", detail: "ShardAck for \(m.shardHash.prefix(12)) from \(request.sender): "
                    + "no run in flight waits for it from this worker")
            }
        }
        forEachRun(waitingFor: m.shardHash, on: request.sender) { id in
            awaited = true
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
            $0.shardHash == hash && $0.lifecycle.awaitsShard(from: worker)
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

/// An artifact being received, chunk by chunk, in order.
struct IncomingArtifact: Sendable {
    var bytes: [UInt8]
    var sha256: String
    var total: Int
}

extension Coordinator {
    /// Largest artifact accepted (a bound on memory for a hostile or buggy sender).
    static let maxArtifactBytes: UInt64 = 256 << 20

    /// `ArtifactChunk`: chunks in order; after the last, the SHA-256 is checked and the file is
    /// written atomically under `<state-dir>/artifacts/<run>/<name>` and recorded; the worker
    /// gets `ArtifactAck{stored}` (or `{stored: false, error}`). A refused artifact of an active
    /// run is remembered, until the same name is stored after all (a worker retries the student):
    /// a run with a refusal left fails instead of completing (``resultProblem(_:)``).
    func artifactChunk(_ m: ArtifactChunk, _ request: Request, frames: [Frame]) {
        let key = "\(m.runID)/\(m.name)"
        func fail(_ error: String) {
            incomingArtifacts[key] = nil
            logger.warning("artifact \(key) from \(request.sender) refused: \(error)")
            // A resume checkpoint or teacher state refused is replaced by the next one; it is no
            // result of the run.
            if runs[m.runID] != nil && m.name != ResumeCheckpoint.artifactName && !Self.isTeacherState(m.name) {
                artifactRefusals[m.runID, default: [:]][m.name] = error
                event(m.runID, "artifact", "could not store \(m.name) from \(request.sender): \(error)")
            }
            reply(.artifactAck(ArtifactAck(runID: m.runID, name: m.name, stored: false, error: error)), to: request)
        }
        guard m.name.allSatisfy({ $0.isLetter || $0.isNumber || "._-".contains($0) }), !m.name.hasPrefix(".") else {
            return fail("artifact name '\(m.name)' may contain only letters, digits, '.', '_' and '-'")
        }
        guard (try? store.run(id: m.runID)) != nil else {
            // Counted and logged once, not per chunk: a flood for no run must not flood the log.
            let error = "there is no run '\(Registration.short(m.runID))'"
            ignored.record("artifact-unknown-run", detail: "\(Registration.short(key)) from \(request.sender): \(error)")
            return reply(.artifactAck(ArtifactAck(runID: m.runID, name: m.name, stored: false, error: error)), to: request)
        }
        guard isMember(request.sender, of: m.runID) else {
            // Not the run's result: a stranger's upload must not fail the run either.
            let error = "\(request.sender) holds no task of run '\(m.runID)' in flight; only its workers upload its artifacts"
            ignored.record("artifact-not-member", detail: "\(key): \(error)")
            return reply(.artifactAck(ArtifactAck(runID: m.runID, name: m.name, stored: false, error: error)), to: request)
        }
        guard m.totalBytes <= Coordinator.maxArtifactBytes, frames.count == 1 else {
            return fail("artifacts are limited to \(Coordinator.maxArtifactBytes) bytes, one frame per chunk")
        }
        var artifact = incomingArtifacts[key] ?? IncomingArtifact(bytes: [], sha256: m.sha256, total: Int(m.totalBytes))
        if m.offset == 0 { artifact = IncomingArtifact(bytes: [], sha256: m.sha256, total: Int(m.totalBytes)) }
        guard m.offset == UInt64(artifact.bytes.count), artifact.sha256 == m.sha256,
              artifact.bytes.count + frames[0].count <= artifact.total else {
            return fail("chunk at offset \(m.offset) does not continue the \(artifact.bytes.count) bytes received")
        }
        artifact.bytes += frames[0].bytes
        guard m.last else {
            incomingArtifacts[key] = artifact
            return
        }
        incomingArtifacts[key] = nil
        guard artifact.bytes.count == artifact.total, SHA256.hex(artifact.bytes) == artifact.sha256 else {
            return fail("the \(artifact.bytes.count) bytes received do not hash to \(artifact.sha256.prefix(12))")
        }
        var checkpoint: ResumeCheckpoint.Summary?, teacherState: ResumeCheckpoint.Summary?
        if m.name == ResumeCheckpoint.artifactName {
            switch checkResumeCheckpoint(artifact.bytes, runID: m.runID) {
            case .success(let summary): checkpoint = summary
            case .failure(let why): return fail(why.text)
            }
        } else if Self.isTeacherState(m.name) {
            switch checkTeacherState(artifact.bytes, runID: m.runID, name: m.name) {
            case .success(let summary): teacherState = summary
            case .failure(let why): return fail(why.text)
            }
        }
        let relative = "artifacts/\(m.runID)/\(m.name)"
        let path = database.directory + "/" + relative
        do {
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try AtomicFile.write(artifact.bytes, to: path)
            try store.saveArtifact(ArtifactRecord(runID: m.runID, name: m.name, sha256: artifact.sha256,
                                                  bytes: Int64(artifact.bytes.count), path: relative, atMs: clock.wallMs()))
        } catch {
            return fail("could not write \(path): \(error)")
        }
        if StoredTeachers.isTrainedTeacher(m.name) {
            var index = storedTeachers()
            index.record(metadata: StoredTeachers.metadata(of: artifact.bytes), path: path)
            storedTeachersIndex = index
        }
        artifactRefusals[m.runID]?[m.name] = nil  // stored after all: a retry succeeded
        if let s = checkpoint {
            storedCheckpointSteps[m.runID] = s.step
            event(m.runID, "checkpoint", "resume checkpoint at step \(s.step) of \(s.totalSteps) (epoch \(s.epoch)) stored "
                + "(\(artifact.bytes.count) bytes, from \(request.sender)): `distillery resume \(m.runID)` continues from it if the run ends")
        } else if let s = teacherState {
            storedTeacherStateSteps[key] = s.step
            teacherProgress(in: m.runID)
            event(m.runID, "checkpoint", "\(m.name) at step \(s.step) (epoch \(s.epoch)) stored (\(artifact.bytes.count) bytes, "
                + "from \(request.sender)): a teacher placed again goes on from it")
        } else {
            event(m.runID, "artifact", "stored \(m.name) (\(artifact.bytes.count) bytes, sha256 \(artifact.sha256.prefix(12))) at \(path)")
        }
        reply(.artifactAck(ArtifactAck(runID: m.runID, name: m.name, stored: true)), to: request)
        artifactStored(in: m.runID)
    }
}

/// A teacher checkpoint the coordinator offers to workers, and the runs that need it (it is
/// dropped when the last of them ends).
struct CheckpointBlob: Sendable {
    var bytes: ShardBytes
    var runs: Set<String>
}

extension Coordinator {
    /// The index of trained teachers in the state directory (scanned on first use).
    func storedTeachers() -> StoredTeachers {
        if let index = storedTeachersIndex { return index }
        let index = StoredTeachers.scan(artifactsDirectory: database.directory + "/artifacts")
        storedTeachersIndex = index
        return index
    }

    /// What teacher `index` of a run should start from: the stored checkpoint of a trained
    /// teacher with the same recipe key (a worker that has it acknowledges the offer at once),
    /// or the file a `checkpoint:` or `onnx:` teacher names (shipped the same way). Returns its bytes' SHA-256
    /// after registering the bytes for `ShardRequest`s, or nil (train from the recipe).
    /// A checkpoint the coordinator cannot read gives "unreadable": the worker fails the task.
    func teacherCheckpoint(_ teacher: TeacherSpec, runID: String, shardHash: String, spec: RunSpec) -> String? {
        let path: String
        switch teacher.source {
        case .checkpoint(let file), .onnx(let file):
            path = file
        case .train(let recipe):
            guard let model = teacher.model else { return nil }
            let key = TrainedTeacherKey.of(model: model, recipe: recipe, shardHash: shardHash,
                                           validation: spec.dataset.validation, splitSeed: spec.training.seed)
            guard let stored = storedTeachers().byKey[key] else { return nil }
            path = stored
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            if case .train = teacher.source {} else { return "unreadable" }
            logger.warning("stored teacher \(path) is unreadable; the worker trains it")
            return nil
        }
        let bytes = [UInt8](data)
        let hash = SHA256.hex(bytes)
        var blob = checkpointBlobs[hash] ?? CheckpointBlob(bytes: ShardBytes(bytes), runs: [])
        blob.runs.insert(runID)
        checkpointBlobs[hash] = blob
        return hash
    }

    /// Offers checkpoint `hash` (registered by `teacherCheckpoint`) to `worker`, which fetches
    /// it into its cache like a shard (or acknowledges at once if it has it).
    /// `what` names it ("teacher 1 checkpoint", "resume checkpoint").
    func offerCheckpoint(_ hash: String, what: String, of runID: String, to worker: String) {
        guard let blob = checkpointBlobs[hash] else { return }
        let chunks = (blob.bytes.count + settings.shardChunkBytes - 1) / settings.shardChunkBytes
        let offer = ShardOffer(shardHash: hash, totalBytes: UInt64(blob.bytes.count), chunkCount: UInt32(max(1, chunks)),
                               description: "\(what) for run \(runID)")
        event(runID, "checkpoint", "\(what) \(hash.prefix(12)) (\(blob.bytes.count) bytes) offered to \(worker)")
        _ = send(.shardOffer(offer), toWorker: worker)
    }

    /// Drops the checkpoints no run in flight needs any more.
    func releaseCheckpoints(of runID: String) {
        for (hash, var blob) in checkpointBlobs where blob.runs.contains(runID) {
            blob.runs.remove(runID)
            checkpointBlobs[hash] = blob.runs.isEmpty ? nil : blob
        }
    }
}

extension Coordinator {
    /// The headers of the data shards this coordinator holds for runs (what `status` and
    /// tests can see of them: name, value type, sample shape, classes, counts, pre-processing).
    public func heldShardHeaders() -> [DatasetShard.Header] {
        shards.values.compactMap { try? DatasetShard.header(of: $0.bytes) }
    }
}

extension Coordinator {
    /// Why a run whose tasks all completed cannot be called completed: artifacts of it that
    /// were refused (a worker's reports arrive in order, so every artifact of its task has been
    /// stored or refused by the time its completion arrives). Nil when there were none.
    func resultProblem(_ id: String) -> String? {
        let missing = missingOnlineTeachers(id)
        if !missing.isEmpty {
            return "the student was distilled, but \(missing.joined(separator: ", ")) (what the online teachers became) "
                + "\(missing.count == 1 ? "was" : "were") not stored within \(Coordinator.onlineResultsWait.shortDescription): "
                + "look in `distillery logs \(id)` for the teachers' errors and resubmit"
        }
        guard let refused = artifactRefusals[id], !refused.isEmpty else { return nil }
        return "the student was distilled, but the coordinator could not store "
            + refused.sorted { $0.key < $1.key }.map { "\($0.key) (\($0.value))" }.joined(separator: "; ") + ", so the run's results are incomplete: make room or fix the permissions of "
            + "\(database.directory)/artifacts (or keep artifacts under \(ByteCount.text(Coordinator.maxArtifactBytes))) and resubmit"
    }
}
