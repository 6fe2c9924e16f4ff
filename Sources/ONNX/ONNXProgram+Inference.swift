import NN

/// An ONNX teacher serves logits exactly as a native teacher does: through ``InferenceModel``.
extension ONNXProgram: InferenceModel {
    /// Outputs per sample: the product of ``outputShape`` (the classes of a classifier).
    public var outputFeatures: Int { outputShape.reduce(1, *) }
    /// Float elements of the graph's initializers.
    public var parameterCount: Int {
        model.initializers.values.reduce(0) { $0 + ($1.dataType == .float ? $1.count : 0) }
    }
    /// ``forward(_:batch:)``.
    public func infer(_ x: UnsafePointer<Float>, batch: Int) -> UnsafePointer<Float> { forward(x, batch: batch) }

    /// Loads the model file at `path` and plans it for samples of `sampleShape`, checking that
    /// it gives `classes` outputs per sample (when given). Errors say what, where and what to do.
    public static func teacher(path: String, sampleShape: [Int], classes: Int? = nil) throws(ONNXError) -> ONNXProgram {
        let program = try ONNXProgram(model: try ONNXModel.load(path: path), sampleShape: sampleShape)
        if let classes, program.outputFeatures != classes || program.outputShape.count != 1 {
            throw .interface(source: path, reason: "its output gives \(program.outputShape) values per sample, but the data set has "
                + "\(classes) classes; a teacher must output one logit per class, shape [batch, \(classes)]")
        }
        return program
    }
}
