import Tensor

/// A chain of layers whose parameters and gradients each live in **one contiguous buffer**
/// (the arenas), so optimizers, all-reduce and checkpoints work on a single flat vector.
///
/// Arena layout: layer 0's slots in order, then layer 1's, … Tensor `i.name` (e.g.
/// `1.weight`) is layer `i`'s slot `name`, numbered by position in `layers` (PyTorch's
/// `nn.Sequential` naming, so PyTorch state dicts map one-to-one).
public final class Sequential {
    public let layers: [any Layer]
    /// Per-sample input shape, e.g. `[1, 28, 28]`.
    public let inputShape: [Int]
    public let parameters: FloatStorage
    public let gradients: FloatStorage
    /// Non-trainable state (BatchNorm running statistics), also checkpointed.
    public let state: FloatStorage
    /// Every named tensor with its place in the parameter or state arena.
    public let namedTensors: [NamedTensor]

    private var activations: [FloatBuffer]
    /// Where each layer's input (index i) and the model's output (last) live for the current batch.
    private var outputs: [UnsafeMutablePointer<Float>]
    private var lastMode: Mode = .inference
    private var gradientBuffers = [FloatBuffer(), FloatBuffer()]
    private var lastBatch = 0

    /// Where a named tensor lives.
    public struct NamedTensor: Sendable, Equatable {
        public enum Arena: Sendable { case parameters, state }
        public let name: String
        public let shape: [Int]
        public let arena: Arena
        public let offset: Int
        public var count: Int { shape.reduce(1, *) }
    }

    /// Builds the arenas, binds every layer to its slices and initialises parameters from
    /// `seed` (layer i draws from the independent stream `SplitMix64(seed, i)`).
    public init(layers: [any Layer], inputShape: [Int], seed: UInt64) {
        precondition(!layers.isEmpty, "a model needs at least one layer")
        self.layers = layers
        self.inputShape = inputShape
        var named: [NamedTensor] = []
        var pOffset = 0, sOffset = 0
        for (i, layer) in layers.enumerated() {
            for slot in layer.parameterSlots {
                named.append(NamedTensor(name: "\(i).\(slot.name)", shape: slot.shape, arena: .parameters, offset: pOffset))
                pOffset += slot.count
            }
            for slot in layer.stateSlots {
                named.append(NamedTensor(name: "\(i).\(slot.name)", shape: slot.shape, arena: .state, offset: sOffset))
                sOffset += slot.count
            }
        }
        namedTensors = named
        parameters = FloatStorage(count: pOffset)
        gradients = FloatStorage(count: pOffset)
        state = FloatStorage(count: sOffset)
        activations = Array(repeating: FloatBuffer(), count: layers.count + 1)
        outputs = Array(repeating: activations[0].pointer, count: layers.count + 1)
        var p = 0, s = 0
        for (i, layer) in layers.enumerated() {
            layer.bind(LayerBinding(parameters: parameters.pointer + p, gradients: gradients.pointer + p, state: state.pointer + s))
            var rng = SplitMix64(seed: seed, stream: UInt64(i))
            layer.resetParameters(using: &rng)
            p += layer.parameterCount; s += layer.stateCount
        }
    }

    public var parameterCount: Int { parameters.count }
    public var outputShape: [Int] { layers.last!.outputShape }
    public var inputFeatures: Int { inputShape.reduce(1, *) }
    public var outputFeatures: Int { outputShape.reduce(1, *) }
    /// Forward FLOPs for one sample (2 per multiply–add).
    public var flopsPerSample: Int { layers.reduce(0) { $0 + $1.flopsPerSample } }

    /// Runs the layers on `batch` samples at `x`. The returned output stays valid until the
    /// next `forward`. `x` itself is not copied: it must stay valid and unchanged until the
    /// matching `backward` has run. Identity layers (Flatten, Dropout at inference) pass their
    /// input buffer through instead of copying it.
    @discardableResult
    public func forward(_ x: UnsafePointer<Float>, batch: Int, mode: Mode) -> UnsafePointer<Float> {
        lastBatch = batch
        lastMode = mode
        outputs[0] = UnsafeMutablePointer(mutating: x)
        for (i, layer) in layers.enumerated() {
            if layer.isIdentity(in: mode) {
                outputs[i + 1] = outputs[i]
            } else {
                let out = activations[i + 1].reserve(batch * layer.outputFeatures)
                layer.forward(outputs[i], out, batch: batch, mode: mode)
                outputs[i + 1] = out
            }
        }
        return UnsafePointer(outputs[layers.count])
    }

    /// Back-propagates `dOutput[batch × outputFeatures]` of the last `forward`, **accumulating**
    /// into `gradients` (call `zeroGradients()` first), and writes the input gradient to
    /// `inputGradient` when given. Without it, back-propagation stops at the first layer
    /// with parameters: nothing below it needs a gradient (e.g. the MLP's first Linear does
    /// not compute `dx` for the Flatten in front of it). Identity layers pass `dy` through.
    public func backward(_ dOutput: UnsafePointer<Float>, inputGradient: UnsafeMutablePointer<Float>? = nil) {
        let batch = lastBatch
        let widest = layers.map { max($0.inputFeatures, $0.outputFeatures) }.max()!
        let g0 = gradientBuffers[0].reserve(batch * widest)
        let g1 = gradientBuffers[1].reserve(batch * widest)
        g0.update(from: dOutput, count: batch * outputFeatures)
        var dy = g0, dx = g1
        let stopAt = inputGradient == nil ? firstTrainableLayer : 0
        for i in stride(from: layers.count - 1, through: stopAt, by: -1) {
            let layer = layers[i]
            if layer.isIdentity(in: lastMode) {
                if i == 0, let inputGradient { inputGradient.update(from: dy, count: batch * layer.inputFeatures) }
                continue
            }
            let target: UnsafeMutablePointer<Float>? = i > stopAt ? dx : inputGradient
            layer.backward(outputs[i], outputs[i + 1], dy, target, batch: batch)
            swap(&dy, &dx)
        }
    }

    /// Index of the first layer with parameters (0 if none has any).
    private lazy var firstTrainableLayer: Int = layers.firstIndex { $0.parameterCount > 0 } ?? 0

    /// Data parallelism: the next training forwards cover rows `offset..<offset+batch` of a
    /// global batch of `total` rows (nil: the whole batch), so random layers (Dropout) draw for
    /// those rows exactly what one process running the global batch would.
    public func setRowWindow(offset: Int, total: Int) {
        for case let dropout as Dropout in layers { dropout.rowWindow = (offset, total) }
    }

    /// The positions of the random layers' streams (each Dropout's SplitMix64 counter), in
    /// layer order: a replica snapshots them before a step it may have to abort, and a replica
    /// taking over another's state sets them to its values.
    public var randomStreams: [UInt64] {
        get { layers.compactMap { ($0 as? Dropout)?.streamState } }
        set {
            var values = newValue.makeIterator()
            for case let dropout as Dropout in layers { if let v = values.next() { dropout.streamState = v } }
        }
    }

    public func zeroGradients() { gradients.pointer.update(repeating: 0, count: gradients.count) }

    /// Convenience: forward a `[B, inputShape…]` tensor, returning `[B, outputShape…]` logits.
    public func predict(_ x: Tensor, mode: Mode = .inference) -> Tensor {
        let batch = x.count / inputFeatures
        precondition(batch * inputFeatures == x.count, "input of \(x.count) values is not a whole number of \(inputShape) samples")
        let out = x.withUnsafeBufferPointer { forward($0.baseAddress!, batch: batch, mode: mode) }
        return Tensor(shape: [batch] + outputShape, values: Array(UnsafeBufferPointer(start: out, count: batch * outputFeatures)))
    }

    /// Pointer to the named tensor's values (parameters or state).
    public func pointer(to t: NamedTensor) -> UnsafeMutablePointer<Float> {
        (t.arena == .parameters ? parameters.pointer : state.pointer) + t.offset
    }

    /// Gradient slice of a parameter tensor.
    public func gradientPointer(to t: NamedTensor) -> UnsafeMutablePointer<Float> {
        precondition(t.arena == .parameters, "\(t.name) is state, it has no gradient")
        return gradients.pointer + t.offset
    }

    public func tensor(named name: String) -> NamedTensor? { namedTensors.first { $0.name == name } }

    /// FNV-1a over the raw bytes of parameters and state: equal hashes ⇔ (almost surely)
    /// bit-identical models. Replicas compare it to prove they stayed in step.
    public var parameterHash: UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for arena in [parameters, state] {
            let raw = UnsafeRawBufferPointer(start: arena.pointer, count: arena.count * 4)
            for byte in raw { h = (h ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
        }
        return h
    }
}
