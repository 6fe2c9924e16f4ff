/// What a model costs in memory, computed from its spec alone: nothing is allocated, so a spec
/// such as `mlp:784-1000000-1000000-10` (10¹² parameters) can be refused at submission before
/// any worker tries to build it.
///
/// Counts, per sample of the model's input shape, mirroring ``ModelSpec/build(dataShape:seed:)``:
///
///     parameters  P = Σ Linear (in·out + out) + Σ Conv (C·K·K·O + O) + Σ BatchNorm 2·width
///     activations A = Σ every layer's output + Σ Conv its im2col columns (C·K·K · OH·OW)
///                     + Σ BatchNorm its normalised copy + Σ Dropout its mask + Σ MaxPool its argmax
///
/// and then, for a batch of B samples (4-byte floats; BatchNorm's running mean and variance are
/// 2·width more floats of state):
///
///     training   4·(P·(2 + S) + state + 2·B·A)   parameters, gradients, S optimizer slots per
///                                                parameter (AdamW 2, momentum 1, SGD 0), and the
///                                                activations with their gradients
///     inference  4·(P + state + B·A)
///
/// An estimate: buffers the layers keep for their backward pass are counted once each, and
/// the data shard, the soft-label cache and the process itself come on top.
extension ModelSpec {
    public struct Footprint: Sendable, Equatable {
        /// Trainable parameters (`build(…).parameterCount`).
        public var parameters: Double
        /// Floats of non-trained state (BatchNorm's running statistics).
        public var state: Double
        /// Floats kept per sample in a forward pass (see the type's formula).
        public var activationsPerSample: Double

        /// Bytes to train on `batch` samples per step with `optimizerSlots` floats of optimizer
        /// state per parameter.
        public func trainingBytes(batch: Int, optimizerSlots: Int) -> Double {
            4 * (parameters * Double(2 + optimizerSlots) + state + 2 * Double(batch) * activationsPerSample)
        }

        /// Bytes to run `batch` samples through the model.
        public func inferenceBytes(batch: Int) -> Double {
            4 * (parameters + state + Double(batch) * activationsPerSample)
        }
    }

    /// The spec's footprint; nil when a layer does not fit its input (the validator says why).
    public var footprint: Footprint? {
        var p = 0.0, state = 0.0, a = 0.0
        var shape = family == .mlp ? [inputShape.reduce(1, *)] : inputShape
        func size(_ s: [Int]) -> Double { s.reduce(1.0) { $0 * Double($1) } }
        if family == .mlp, inputDropout > 0 { a += 2 * size(shape) }
        for (i, block) in blocks.enumerated() {
            let isLast = i == blocks.count - 1
            switch block {
            case let .conv(c, k, s, pad):
                guard shape.count == 3, c > 0, k > 0, s > 0, pad >= 0,
                      shape[1] + 2 * pad >= k, shape[2] + 2 * pad >= k else { return nil }
                let oh = (shape[1] + 2 * pad - k) / s + 1, ow = (shape[2] + 2 * pad - k) / s + 1
                let patch = Double(shape[0] * k * k)
                p += patch * Double(c) + Double(c)
                shape = [c, oh, ow]
                a += size(shape) + patch * Double(oh * ow)  // output and im2col columns
                if batchNorm { p += 2 * Double(c); state += 2 * Double(c); a += 2 * size(shape) }
                a += size(shape)  // ReLU
            case let .pool(w, s):
                guard shape.count == 3, w > 0, s > 0, shape[1] >= w, shape[2] >= w else { return nil }
                shape = [shape[0], (shape[1] - w) / s + 1, (shape[2] - w) / s + 1]
                a += 2 * size(shape)  // output and argmax
            case let .dense(n):
                guard n > 0 else { return nil }
                let inputs = size(shape)
                p += inputs * Double(n) + Double(n)
                shape = [n]
                a += Double(n)
                if !isLast {
                    if batchNorm { p += 2 * Double(n); state += 2 * Double(n); a += 2 * Double(n) }
                    a += Double(n)  // ReLU
                    if dropout > 0 { a += 2 * Double(n) }
                }
            }
        }
        return Footprint(parameters: p, state: state, activationsPerSample: a)
    }
}
