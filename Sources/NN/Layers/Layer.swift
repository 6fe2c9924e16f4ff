import Tensor

/// Whether a forward pass trains (dropout active, batch statistics) or infers.
public enum Mode: Sendable { case training, inference }

/// Name and per-layer shape of one parameter or state tensor, e.g. `("weight", [O, I])`.
public struct TensorSlot: Sendable, Equatable {
    public let name: String
    public let shape: [Int]
    public var count: Int { shape.reduce(1, *) }
    public init(_ name: String, _ shape: [Int]) { self.name = name; self.shape = shape }
}

/// Where a layer's tensors live inside the model's flat arenas.
///
/// `parameters` and `gradients` point at the layer's slice of the model-wide parameter and
/// gradient buffers (same layout), `state` at its slice of the non-trainable state buffer
/// (e.g. BatchNorm running statistics).
public struct LayerBinding {
    public let parameters: UnsafeMutablePointer<Float>
    public let gradients: UnsafeMutablePointer<Float>
    public let state: UnsafeMutablePointer<Float>
}

/// A layer is a forward/backward pair over raw row-major buffers (llm.c style).
///
/// Shapes are per sample (no batch dimension); every buffer holds `batch` samples.
/// - `forward` reads `x[batch × inputShape]` and writes `y[batch × outputShape]`.
/// - `backward` receives the same `x`, `y` and the upstream gradient `dy`, **accumulates**
///   parameter gradients into the bound gradient slice (callers zero it once per step), and
///   writes the input gradient `dx` when it is not nil.
/// A layer may keep per-batch workspaces (masks, im2col columns, normalised inputs) between
/// its `forward` and the matching `backward`.
public protocol Layer: AnyObject {
    /// Human-readable kind, e.g. `Linear`, `Conv2D`.
    var kind: String { get }
    /// Configuration shown in tables, e.g. `784→1200` or `1→32 k3 s1 p1`.
    var details: String { get }
    var inputShape: [Int] { get }
    var outputShape: [Int] { get }
    /// Trainable tensors, in arena order.
    var parameterSlots: [TensorSlot] { get }
    /// Non-trainable tensors that belong in checkpoints (running statistics).
    var stateSlots: [TensorSlot] { get }
    /// Multiply–adds ×2 (plus element-wise work) of one sample's forward pass.
    var flopsPerSample: Int { get }

    func bind(_ binding: LayerBinding)
    /// True when `forward` in `mode` would copy its input unchanged (Flatten always, Dropout
    /// at inference): the model then passes the input buffer through instead of copying.
    func isIdentity(in mode: Mode) -> Bool
    /// Fills parameters and state with their initial values (PyTorch's defaults).
    func resetParameters(using rng: inout SplitMix64)
    func forward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, batch: Int, mode: Mode)
    func backward(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
                  _ dx: UnsafeMutablePointer<Float>?, batch: Int)
}

extension Layer {
    public var stateSlots: [TensorSlot] { [] }
    public func isIdentity(in mode: Mode) -> Bool { false }
    public var inputFeatures: Int { inputShape.reduce(1, *) }
    public var outputFeatures: Int { outputShape.reduce(1, *) }
    public var parameterCount: Int { parameterSlots.reduce(0) { $0 + $1.count } }
    public var stateCount: Int { stateSlots.reduce(0) { $0 + $1.count } }
}

/// A parameterless layer binds nothing.
public protocol ParameterlessLayer: Layer {}
extension ParameterlessLayer {
    public var parameterSlots: [TensorSlot] { [] }
    public func bind(_ binding: LayerBinding) {}
    public func resetParameters(using rng: inout SplitMix64) {}
}
