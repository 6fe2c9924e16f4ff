import Tensor

/// Updates a flat parameter vector from its flat gradient (the model's arenas).
public protocol Optimizer: AnyObject {
    /// Short name and settings for reports, e.g. `sgd(momentum=0.9, nesterov)`.
    var summary: String { get }
    /// Number of completed steps.
    var stepCount: Int { get }
    /// One update of `parameters[0..<count]` from `gradients` at `learningRate`.
    func step(parameters: UnsafeMutablePointer<Float>, gradients: UnsafePointer<Float>, count: Int, learningRate: Float)
    /// Named optimizer state (momentum, moments) for checkpoints; each the size of the arena.
    var stateTensors: [(name: String, storage: FloatStorage)] { get }
    /// Restores the step counter after loading state tensors.
    func restore(stepCount: Int)
}

extension Sequential {
    /// Applies `optimizer` to the whole parameter arena.
    public func apply(_ optimizer: any Optimizer, learningRate: Float) {
        optimizer.step(parameters: parameters.pointer, gradients: gradients.pointer, count: parameterCount, learningRate: learningRate)
    }
}

/// Stochastic gradient descent with momentum, Nesterov momentum and L2 weight decay,
/// exactly as PyTorch's `torch.optim.SGD` (dampening 0):
///
///     g ← g + λ·θ;   b ← μ·b + g  (b = g on the first step);   d = nesterov ? g + μ·b : b;   θ ← θ − η·d
public final class SGD: Optimizer {
    public let momentum: Float
    public let nesterov: Bool
    public let weightDecay: Float
    private var buffer: FloatStorage
    public private(set) var stepCount = 0

    public init(parameterCount: Int, momentum: Float = 0, nesterov: Bool = false, weightDecay: Float = 0) {
        precondition(!nesterov || momentum > 0, "Nesterov momentum needs momentum > 0")
        self.momentum = momentum; self.nesterov = nesterov; self.weightDecay = weightDecay
        buffer = FloatStorage(count: momentum > 0 ? parameterCount : 0)
    }

    public var summary: String {
        var parts: [String] = []
        if momentum > 0 { parts.append("momentum=\(momentum)") }
        if nesterov { parts.append("nesterov") }
        if weightDecay > 0 { parts.append("weight_decay=\(weightDecay)") }
        return "sgd(\(parts.joined(separator: ", ")))"
    }

    public var stateTensors: [(name: String, storage: FloatStorage)] { momentum > 0 ? [("momentum_buffer", buffer)] : [] }
    public func restore(stepCount: Int) { self.stepCount = stepCount }

    public func step(parameters: UnsafeMutablePointer<Float>, gradients: UnsafePointer<Float>, count: Int, learningRate lr: Float) {
        let first = stepCount == 0
        stepCount += 1
        let mu = momentum, wd = weightDecay, nest = nesterov
        let p = SendablePointer(parameters), g = SendablePointer(gradients), b = SendablePointer(buffer.pointer)
        Parallel.chunks(count, minimumPerWorker: 1 << 16) { r in
            typealias V = SIMD16<Float>
            let vmu = V(repeating: mu), vwd = V(repeating: wd), vlr = V(repeating: lr)
            var i = r.lowerBound
            while i + 16 <= r.upperBound {
                let pi = UnsafeRawPointer(p.base + i).loadUnaligned(as: V.self)
                var d = UnsafeRawPointer(g.base + i).loadUnaligned(as: V.self) + vwd * pi
                if mu > 0 {
                    let buf = first ? d : vmu * UnsafeRawPointer(b.base + i).loadUnaligned(as: V.self) + d
                    UnsafeMutableRawPointer(b.base + i).storeBytes(of: buf, as: V.self)
                    d = nest ? d + vmu * buf : buf
                }
                UnsafeMutableRawPointer(p.base + i).storeBytes(of: pi - vlr * d, as: V.self)
                i += 16
            }
            while i < r.upperBound {
                var d = g.base[i] + wd * p.base[i]
                if mu > 0 {
                    let buf = first ? d : mu * b.base[i] + d
                    b.base[i] = buf
                    d = nest ? d + mu * buf : buf
                }
                p.base[i] -= lr * d
                i += 1
            }
        }
    }
}

/// Adam with decoupled weight decay (Loshchilov & Hutter 2019), as PyTorch's `torch.optim.AdamW`:
///
///     θ ← θ·(1 − η·λ);   m ← β₁m + (1−β₁)g;   v ← β₂v + (1−β₂)g²
///     θ ← θ − (η / (1−β₁ᵗ)) · m / (√v / √(1−β₂ᵗ) + ε)
public final class AdamW: Optimizer {
    public let beta1, beta2, epsilon, weightDecay: Float
    private var m: FloatStorage
    private var v: FloatStorage
    public private(set) var stepCount = 0

    public init(parameterCount: Int, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8, weightDecay: Float = 0.01) {
        self.beta1 = beta1; self.beta2 = beta2; self.epsilon = epsilon; self.weightDecay = weightDecay
        m = FloatStorage(count: parameterCount); v = FloatStorage(count: parameterCount)
    }

    public var summary: String { "adamw(betas=(\(beta1), \(beta2)), eps=\(epsilon), weight_decay=\(weightDecay))" }
    public var stateTensors: [(name: String, storage: FloatStorage)] { [("exp_avg", m), ("exp_avg_sq", v)] }
    public func restore(stepCount: Int) { self.stepCount = stepCount }

    public func step(parameters: UnsafeMutablePointer<Float>, gradients: UnsafePointer<Float>, count: Int, learningRate lr: Float) {
        stepCount += 1
        let t = Double(stepCount)
        let bc1 = Float(1 - pow(Double(beta1), t)), bc2Sqrt = Float((1 - pow(Double(beta2), t)).squareRoot())
        let b1 = beta1, b2 = beta2, eps = epsilon, decay = 1 - lr * weightDecay, stepSize = lr / bc1
        let p = SendablePointer(parameters), g = SendablePointer(gradients)
        let mp = SendablePointer(m.pointer), vp = SendablePointer(v.pointer)
        Parallel.chunks(count, minimumPerWorker: 1 << 16) { r in
            typealias V = SIMD16<Float>
            let vb1 = V(repeating: b1), vb1c = V(repeating: 1 - b1), vb2 = V(repeating: b2), vb2c = V(repeating: 1 - b2)
            let veps = V(repeating: eps), vdecay = V(repeating: decay), vstep = V(repeating: stepSize), vbc2 = V(repeating: bc2Sqrt)
            var i = r.lowerBound
            while i + 16 <= r.upperBound {
                let gi = UnsafeRawPointer(g.base + i).loadUnaligned(as: V.self)
                let mi = vb1 * UnsafeRawPointer(mp.base + i).loadUnaligned(as: V.self) + vb1c * gi
                let vi = vb2 * UnsafeRawPointer(vp.base + i).loadUnaligned(as: V.self) + vb2c * gi * gi
                UnsafeMutableRawPointer(mp.base + i).storeBytes(of: mi, as: V.self)
                UnsafeMutableRawPointer(vp.base + i).storeBytes(of: vi, as: V.self)
                let pi = UnsafeRawPointer(p.base + i).loadUnaligned(as: V.self)
                UnsafeMutableRawPointer(p.base + i).storeBytes(of: pi * vdecay - vstep * mi / (vi.squareRoot() / vbc2 + veps), as: V.self)
                i += 16
            }
            while i < r.upperBound {
                let gi = g.base[i]
                let mi = b1 * mp.base[i] + (1 - b1) * gi
                let vi = b2 * vp.base[i] + (1 - b2) * gi * gi
                mp.base[i] = mi; vp.base[i] = vi
                p.base[i] = p.base[i] * decay - stepSize * mi / (vi.squareRoot() / bc2Sqrt + eps)
                i += 1
            }
        }
    }
}
#if canImport(Glibc)
import Glibc
#endif
