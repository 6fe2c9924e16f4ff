import ClusterCore
import ClusterStore
import Datasets
import FileSupport
import Foundation
import NN
import RunSpec
import Wire

/// Where a resumed run starts (docs/PROTOCOL.md "Resume"): the ended run it continues and the
/// step of its last resume checkpoint, copied to `path` (relative to the state directory)
/// under the new run's artifacts as `resume.safetensors`. `sha256` is "" when the ended run
/// left no checkpoint: the new run starts from step 0 (its trained teachers are reused).
struct ResumePoint: Codable, Sendable, Equatable {
    var fromRun: String
    var step: Int
    var totalSteps: Int
    var sha256: String
    var path: String
}

/// An ended run's last resume checkpoint as read off the actor: its bytes and header, or
/// why it cannot be used.
struct ResumeSource: Sendable {
    var fromRun: String
    var bytes: [UInt8]?
    var summary: ResumeCheckpoint.Summary?
    var problem: String?

    /// Reads `stored` (the run's `checkpoint.safetensors`, else its own `resume.safetensors`)
    /// and checks it against its recorded SHA-256 and format.
    static func read(_ stored: ArtifactRecord?, of run: String, stateDirectory: String) -> ResumeSource {
        var source = ResumeSource(fromRun: run)
        guard let stored else { return source }
        let path = stateDirectory + "/" + stored.path
        guard let data = FileManager.default.contents(atPath: path) else {
            source.problem = "the checkpoint of run \(run) at \(path) cannot be read; put it back, or resubmit the run's spec "
                + "to start again from the beginning"
            return source
        }
        let bytes = [UInt8](data)
        guard SHA256.hex(bytes) == stored.sha256 else {
            source.problem = "the checkpoint of run \(run) at \(path) is not the one stored (its SHA-256 differs): it was "
                + "changed on disk; resubmit the run's spec to start again from the beginning"
            return source
        }
        do {
            source.summary = try ResumeCheckpoint.summary(of: bytes, source: path)
            source.bytes = bytes
        } catch {
            source.problem = "the checkpoint of run \(run): \(error)"
        }
        return source
    }
}

/// A resume checkpoint refused on arrival.
struct CheckpointRefusal: Error {
    var text: String
}

extension Coordinator {
    /// `SubmitRun{resume_run_id}` (docs/PROTOCOL.md "Resume"), after its idempotency key was
    /// checked: the run must exist and have ended without completing; its spec is checked again
    /// (data, placement, memory) and its last checkpoint read off the actor, then ``admit``
    /// records the new run. Refusals name the field `resume_run_id`.
    func resume(_ id: String, key: String, request: Request) {
        func refuse(_ text: String) {
            admit(CheckedSpec(problems: [FieldError(field: "resume_run_id", message: text)]), key: key, request: request)
        }
        let record: RunRecord?
        do { record = try store.run(id: id) } catch {
            return refuse("could not look up run \(id): \(error)")
        }
        guard let record else { return refuse("there is no run '\(id)' (`distillery runs` lists them)") }
        let phase = RunPhase(rawValue: record.state)
        if phase == .completed {
            return refuse("run \(id) completed; its student is stored (`distillery report \(id)`): nothing to resume")
        }
        if runs[id] != nil || phase.map({ !$0.isTerminal }) == true {
            return refuse("run \(id) is \(record.state.replacingOccurrences(of: "-", with: " ")): it has not ended; "
                + "cancel it first (`distillery cancel \(id)`) to continue it from its last checkpoint")
        }
        let artifacts = (try? store.artifacts(runID: id)) ?? []
        let stored = artifacts.first { $0.name == ResumeCheckpoint.artifactName }
            ?? artifacts.first { $0.name == ResumeCheckpoint.resumeArtifactName }
        let directory = database.directory
        Task.detached(executorPreference: Coordinator.specChecker) { [self] in
            var checked = CheckedSpec(yaml: record.specYAML, fileName: "run \(id)")
            checked.resume = ResumeSource.read(stored, of: id, stateDirectory: directory)
            await admit(checked, key: key, request: request)
        }
    }

    /// Problems that refuse a checked resumption before it is recorded.
    func resumeProblems(_ checked: CheckedSpec) -> [FieldError] {
        guard let source = checked.resume, checked.spec != nil else { return [] }
        if let problem = source.problem { return [FieldError(field: "resume_run_id", message: problem)] }
        return []
    }

    /// Records where the new run `id` starts: a copy of the ended run's checkpoint under its own
    /// artifacts (so that it outlives the ended run's), and events on both runs.
    func recordResume(_ source: ResumeSource, into id: String) throws -> ResumePoint {
        guard let bytes = source.bytes, let summary = source.summary else {
            event(id, "state", "resumes run \(source.fromRun) from the beginning: it left no resume checkpoint (it ended before "
                + "its first); trained teachers are reused")
            event(source.fromRun, "state", "resumed as \(id) from the beginning (no checkpoint)")
            return ResumePoint(fromRun: source.fromRun, step: 0, totalSteps: 0, sha256: "", path: "")
        }
        let relative = "artifacts/\(id)/\(ResumeCheckpoint.resumeArtifactName)"
        let path = database.directory + "/" + relative
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try AtomicFile.write(bytes, to: path)
        let hash = SHA256.hex(bytes)
        try store.saveArtifact(ArtifactRecord(runID: id, name: ResumeCheckpoint.resumeArtifactName, sha256: hash,
                                              bytes: Int64(bytes.count), path: relative, atMs: clock.wallMs()))
        event(id, "state", "resumes run \(source.fromRun) from its checkpoint at step \(summary.step) of \(summary.totalSteps) "
            + "(epoch \(summary.epoch)): the replicas load it and train on from there; the teachers stream from that step"
            + (runs[id]?.spec.distillation.mode == .online ? " (online teachers first train again through the steps before it)" : ""))
        event(source.fromRun, "state", "resumed as \(id) from its checkpoint at step \(summary.step)")
        return ResumePoint(fromRun: source.fromRun, step: summary.step, totalSteps: summary.totalSteps, sha256: hash, path: relative)
    }

    /// Offers a resumed run's checkpoint to `worker` just before a replica's assignment (like a
    /// teacher's checkpoint: fetched into the worker's cache by its hash).
    func offerResumeCheckpoint(of runID: String, to worker: String) {
        guard let resume = runs[runID]?.resume, !resume.sha256.isEmpty else { return }
        guard offerStoredFile(resume.path, sha256: resume.sha256, what: "resume checkpoint (step \(resume.step))", of: runID,
                              to: worker) else {
            let path = database.directory + "/" + resume.path
            logger.error("run \(runID): its resume checkpoint \(path) is missing or changed; its replicas cannot start")
            event(runID, "checkpoint", "the resume checkpoint \(path) is missing or changed on disk: the replicas cannot load it")
            return
        }
    }

    /// Offers the state directory's file `relative` (SHA-256 `sha256`) to `worker` for run
    /// `runID`, reading it into ``checkpointBlobs`` first if needed; false when the file is
    /// missing or changed.
    func offerStoredFile(_ relative: String, sha256: String, what: String, of runID: String, to worker: String) -> Bool {
        if checkpointBlobs[sha256] == nil {
            guard let data = FileManager.default.contents(atPath: database.directory + "/" + relative),
                  SHA256.hex([UInt8](data)) == sha256 else { return false }
            checkpointBlobs[sha256] = CheckpointBlob(bytes: ShardBytes([UInt8](data)), runs: [])
        }
        checkpointBlobs[sha256]?.runs.insert(runID)
        offerCheckpoint(sha256, what: what, of: runID, to: worker)
        return true
    }

    /// Whether `bytes`, arriving as a run's `checkpoint.safetensors`, may replace the stored
    /// one: the run is in flight, the bytes are a resume checkpoint, and not older than it.
    func checkResumeCheckpoint(_ bytes: [UInt8], runID: String) -> Result<ResumeCheckpoint.Summary, CheckpointRefusal> {
        guard runs[runID] != nil else {
            return .failure(CheckpointRefusal(text: "run \(runID) is not in flight: its checkpoints are no longer taken"))
        }
        let summary: ResumeCheckpoint.Summary
        do { summary = try ResumeCheckpoint.summary(of: bytes, source: ResumeCheckpoint.artifactName) } catch {
            return .failure(CheckpointRefusal(text: "\(error)"))
        }
        if let stored = storedCheckpointSteps[runID], stored > summary.step {
            return .failure(CheckpointRefusal(text: "its step \(summary.step) is older than the checkpoint stored (step \(stored))"))
        }
        return .success(summary)
    }
}
