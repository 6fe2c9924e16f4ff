import Tensor

/// A model saved as safetensors: every named tensor of the Sequential (`1.weight`, …,
/// running statistics), optionally the optimizer's state (`optimizer.<name>`, flat), and in
/// the metadata the model spec, the input shape and the training state.
///
/// Required metadata: `distillery.format` = "1", `spec` (a model spec string),
/// `input_shape` (e.g. "1x28x28"). Everything else (epoch, seed, accuracy, normalisation…)
/// is free-form training state kept for reports and resumption.
public struct ModelCheckpoint {
    public static let formatVersion = "1"
    public var model: Sequential
    public var spec: ModelSpec
    public var metadata: [String: String]

    public init(model: Sequential, spec: ModelSpec, metadata: [String: String] = [:]) {
        self.model = model; self.spec = spec; self.metadata = metadata
    }

    /// Encodes the model (and optimizer state, when given) as safetensors.
    public func encoded(optimizer: (any Optimizer)? = nil) -> SafeTensors {
        var meta = metadata
        meta["distillery.format"] = ModelCheckpoint.formatVersion
        meta["spec"] = spec.description
        meta["input_shape"] = model.inputShape.map(String.init).joined(separator: "x")
        var tensors = model.namedTensors.map { t in
            SafeTensors.Tensor(name: t.name, shape: t.shape, floats: Array(UnsafeBufferPointer(start: model.pointer(to: t), count: t.count)))
        }
        if let optimizer {
            meta["optimizer"] = optimizer.summary
            meta["optimizer.steps"] = String(optimizer.stepCount)
            for (name, storage) in optimizer.stateTensors {
                tensors.append(SafeTensors.Tensor(name: "optimizer.\(name)", shape: [storage.count],
                                                  floats: Array(UnsafeBufferPointer(start: storage.pointer, count: storage.count))))
            }
        }
        return SafeTensors(tensors: tensors, metadata: meta)
    }

    /// Writes atomically (temp file, fsync, rename).
    public func write(to path: String, optimizer: (any Optimizer)? = nil) throws(CheckpointError) {
        try encoded(optimizer: optimizer).write(to: path)
    }

    /// Reads and validates a checkpoint: format version, spec, input shape, and every tensor
    /// the spec's model needs with the right shape. Errors name the file and the problem.
    public static func read(from path: String) throws(CheckpointError) -> ModelCheckpoint {
        let file = try SafeTensors.read(from: path)
        return try decode(file, source: path)
    }

    public static func decode(_ file: SafeTensors, source: String) throws(CheckpointError) -> ModelCheckpoint {
        func need(_ key: String) throws(CheckpointError) -> String {
            guard let v = file.metadata[key] else { throw .missingMetadata(source: source, key: key) }
            return v
        }
        let version = try need("distillery.format")
        guard version == formatVersion else {
            throw .invalidMetadata(source: source, key: "distillery.format", value: version,
                                   reason: "this build reads format \(formatVersion); re-export the model with a matching distillery")
        }
        let specText = try need("spec")
        let spec: ModelSpec
        do { spec = try ModelSpec(parsing: specText) } catch {
            throw .invalidMetadata(source: source, key: "spec", value: specText, reason: error.description)
        }
        let shapeText = try need("input_shape")
        let dims = shapeText.split(separator: "x").compactMap { Int($0) }
        guard !dims.isEmpty, dims.count == shapeText.split(separator: "x").count, dims.allSatisfy({ $0 > 0 }) else {
            throw .invalidMetadata(source: source, key: "input_shape", value: shapeText, reason: "expected dimensions like 1x28x28")
        }
        let model: Sequential
        do { model = try spec.build(dataShape: dims, seed: 0) } catch {
            throw .invalidMetadata(source: source, key: "input_shape", value: shapeText, reason: error.description)
        }
        for t in model.namedTensors {
            guard let stored = file[name: t.name] else { throw .missingTensor(source: source, name: t.name) }
            guard stored.shape == t.shape else { throw .shapeMismatch(source: source, name: t.name, expected: t.shape, found: stored.shape) }
            let values = try stored.floats()
            values.withUnsafeBufferPointer { model.pointer(to: t).update(from: $0.baseAddress!, count: t.count) }
        }
        return ModelCheckpoint(model: model, spec: spec, metadata: file.metadata)
    }
}
