// A student replica's whole training state at a step boundary, as rank 0 sends it to the
// coordinator every `elastic.checkpoint-every` steps and `distillery resume` ships it to the
// replicas of the new run (docs/PROTOCOL.md "Resume"). A safetensors file:
//
//   "state" F32 [S]   the replica's packed state: parameters, running statistics, optimizer
//                     state tensors, then the global step, the optimizer's step count and each
//                     random stream as three exact 22-bit pieces (`Trainer.packState`)
//   "cache" F32 [K]   the soft-label cache, packed (`SoftLabelCache.packed`: presence flags,
//                     then targets); absent when the run keeps none (K = 0)
//   __metadata__      format "distillery.resume", version "1", run, step, epoch,
//                     steps_per_epoch, total_steps, replicas (the ring's size when taken),
//                     student (the model spec)
//
// Everything in it is exact: loading it gives the replica the bits it had when it was taken,
// so a resumed run is the uninterrupted one, bit for bit.

/// A resume checkpoint: the packed state and soft-label cache of a replica after `step`
/// global steps, with what identifies them.
public struct ResumeCheckpoint: Sendable, Equatable {
    public static let format = "distillery.resume"
    public static let version = "1"
    /// The artifact name rank 0 sends it under (the latest replaces the one before).
    public static let artifactName = "checkpoint.safetensors"
    /// The artifact name of the checkpoint a resumed run starts from (a copy of the ended run's).
    public static let resumeArtifactName = "resume.safetensors"

    public var runID: String
    /// Global steps done: the resumed run trains from this step.
    public var step: Int
    public var stepsPerEpoch: Int
    public var totalSteps: Int
    /// The ring's size when it was taken (for the log; a resumed run uses its spec's replicas).
    public var replicas: Int
    /// The student's model spec (a resumed run's must be the same).
    public var student: String
    public var state: [Float]
    /// The packed soft-label cache (empty: none).
    public var cache: [Float]

    public init(runID: String, step: Int, stepsPerEpoch: Int, totalSteps: Int, replicas: Int, student: String,
                state: [Float], cache: [Float]) {
        self.runID = runID
        self.step = step
        self.stepsPerEpoch = stepsPerEpoch
        self.totalSteps = totalSteps
        self.replicas = replicas
        self.student = student
        self.state = state
        self.cache = cache
    }

    /// The epoch the step falls in (the first epoch still to train).
    public var epoch: Int { stepsPerEpoch > 0 ? step / stepsPerEpoch : 0 }

    /// The file's bytes.
    public func encoded() -> [UInt8] {
        var tensors = [SafeTensors.Tensor(name: "state", shape: [state.count], floats: state)]
        if !cache.isEmpty { tensors.append(SafeTensors.Tensor(name: "cache", shape: [cache.count], floats: cache)) }
        return SafeTensors(tensors: tensors, metadata: [
            "format": Self.format, "version": Self.version, "run": runID, "step": String(step), "epoch": String(epoch),
            "steps_per_epoch": String(stepsPerEpoch), "total_steps": String(totalSteps), "replicas": String(replicas),
            "student": student,
        ]).encoded()
    }

    /// What a resume checkpoint's header says (read without its tensors).
    public struct Summary: Sendable, Equatable {
        public var runID: String
        public var step: Int
        public var epoch: Int
        public var totalSteps: Int
        public var replicas: Int
    }

    /// The header of the resume checkpoint at `path`, or why it is not one.
    public static func summary(at path: String) throws(CheckpointError) -> Summary {
        try summary(of: SafeTensors.readHeader(from: path).metadata, source: path)
    }

    /// The header of the resume checkpoint in `bytes`, or why it is not one.
    public static func summary(of bytes: [UInt8], source: String) throws(CheckpointError) -> Summary {
        try summary(of: SafeTensors.decodeHeader(bytes, fileSize: bytes.count, source: source).metadata, source: source)
    }

    private static func summary(of m: [String: String], source: String) throws(CheckpointError) -> Summary {
        guard m["format"] == format, m["version"] == version else {
            throw .invalidMetadata(source: source, key: "format", value: "\(m["format"] ?? "") version \(m["version"] ?? "")",
                                   reason: "not a Distillery resume checkpoint ('\(format)' version \(version))")
        }
        func int(_ key: String) throws(CheckpointError) -> Int {
            guard let text = m[key], let value = Int(text), value >= 0 else {
                throw .invalidMetadata(source: source, key: key, value: m[key] ?? "", reason: "not a count")
            }
            return value
        }
        return Summary(runID: m["run"] ?? "", step: try int("step"), epoch: try int("epoch"), totalSteps: try int("total_steps"),
                       replicas: try int("replicas"))
    }

    /// Decodes a resume checkpoint's bytes (`source` names it in errors).
    public init(bytes: [UInt8], source: String) throws(CheckpointError) {
        let file = try SafeTensors.decode(bytes, source: source)
        let summary = try Self.summary(of: file.metadata, source: source)
        guard let state = file[name: "state"] else { throw .missingTensor(source: source, name: "state") }
        self.init(runID: summary.runID, step: summary.step, stepsPerEpoch: Int(file.metadata["steps_per_epoch"] ?? "") ?? 0,
                  totalSteps: summary.totalSteps, replicas: summary.replicas, student: file.metadata["student"] ?? "",
                  state: try state.floats(), cache: try file[name: "cache"]?.floats() ?? [])
    }
}
