/// A model that maps a batch of samples to outputs, for inference only: a native
/// ``Sequential`` (in inference mode) or an ONNX teacher's graph (the ONNX target's program).
/// Teachers serve logits and evaluations run through it, whatever the model is.
///
/// Dimensions: B = batch, F = ``inputShape``'s product, K = ``outputFeatures``.
///
///     x[B × F] (row-major samples)  →  infer  →  y[B × K] (row-major outputs, e.g. logits)
public protocol InferenceModel: AnyObject {
    /// The shape of one sample, e.g. `[1, 28, 28]`.
    var inputShape: [Int] { get }
    /// Outputs per sample (the classes, for a classifier).
    var outputFeatures: Int { get }
    /// Trainable (or stored) parameters, for reports.
    var parameterCount: Int { get }
    /// The outputs of `batch` samples at `x`. The result lives in the model's own buffer, valid
    /// until the next call; a model is used by one thread at a time.
    func infer(_ x: UnsafePointer<Float>, batch: Int) -> UnsafePointer<Float>
}

extension Sequential: InferenceModel {
    /// ``forward(_:batch:mode:)`` in inference mode (dropout off, batch-norm running statistics).
    public func infer(_ x: UnsafePointer<Float>, batch: Int) -> UnsafePointer<Float> {
        forward(x, batch: batch, mode: .inference)
    }
}
