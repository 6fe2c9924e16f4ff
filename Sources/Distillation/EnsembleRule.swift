#if canImport(Glibc)
import Glibc
#endif
import Tensor

/// How K teachers' logits become one soft target distribution at temperature T.
///
/// With `p_k = softmax(z_k / T)` for teacher k:
/// - `meanProbabilities`:  p = (1/K) Σ_k p_k — the classic ensemble average (Hinton et al. 2015).
/// - `meanLogits`:         p = softmax((1/K) Σ_k z_k / T) — averages in logit space (sharper).
/// - `weighted(w)`:        p = Σ_k w̃_k p_k, w̃ = w / Σw — fixed per-teacher weights.
/// - `entropyWeighted`:    EBKD (Kwon et al. 2020, "Adaptive Knowledge Distillation Based on
///                         Entropy"): per sample, H_k = −Σ_c p_k log p_k (nats) and
///                         w_k = (1 − H_k / Σ_j H_j) / (K − 1), so confident teachers weigh more.
/// - `confidenceWeighted`: CA-MKD (Zhang, Chen & Wang 2022, "Confidence-Aware Multi-Teacher
///                         Knowledge Distillation"): per sample, CE_k = cross-entropy of z_k
///                         (T = 1) on the true label and w_k = (1 − softmax_k(CE_k)) / (K − 1),
///                         so teachers that are right about this sample weigh more.
///                         The paper weighs K separate KL terms; we form the weighted mixture
///                         target instead, so every rule feeds the same single KD loss.
///
/// With K = 1 every rule returns that teacher's softened distribution. All rules depend only
/// on the teachers' logits (and labels), so every replica computes identical weights.
public enum EnsembleRule: Sendable, Equatable, CustomStringConvertible {
    case meanProbabilities
    case meanLogits
    case weighted([Float])
    case entropyWeighted
    case confidenceWeighted

    public static let allowed = "mean-probs, mean-logits, weighted:W1/W2/…, ebkd, camkd"

    /// Parses `mean-probs` (alias `mean`), `mean-logits`, `weighted:0.5/0.3/0.2`, `ebkd`, `camkd`.
    public init(parsing text: String) throws(EnsembleRuleError) {
        switch text {
        case "mean", "mean-probs": self = .meanProbabilities
        case "mean-logits": self = .meanLogits
        case "ebkd", "entropy": self = .entropyWeighted
        case "camkd", "confidence": self = .confidenceWeighted
        default:
            guard text.hasPrefix("weighted:") else { throw .init(message: "unknown ensemble rule '\(text)'; allowed: \(EnsembleRule.allowed)") }
            let parts = text.dropFirst("weighted:".count).split(separator: "/", omittingEmptySubsequences: false)
            var w: [Float] = []
            for p in parts {
                guard let v = Float(p), v >= 0, v.isFinite else {
                    throw .init(message: "ensemble weight '\(p)' in '\(text)' must be a non-negative number")
                }
                w.append(v)
            }
            guard w.reduce(0, +) > 0 else { throw .init(message: "ensemble weights in '\(text)' must not all be zero") }
            self = .weighted(w)
        }
    }

    public var description: String {
        switch self {
        case .meanProbabilities: return "mean-probs"
        case .meanLogits: return "mean-logits"
        case .weighted(let w): return "weighted:" + w.map { "\($0)" }.joined(separator: "/")
        case .entropyWeighted: return "ebkd"
        case .confidenceWeighted: return "camkd"
        }
    }

    /// Whether the rule needs the true labels (CA-MKD).
    public var needsLabels: Bool { self == .confidenceWeighted }

    /// Checks the rule against the number of teachers.
    public func validate(teacherCount k: Int) throws(EnsembleRuleError) {
        guard k >= 1 else { throw .init(message: "an ensemble needs at least one teacher") }
        if case .weighted(let w) = self, w.count != k {
            throw .init(message: "ensemble rule '\(self)' gives \(w.count) weights for \(k) teachers")
        }
    }

    /// Writes the target distribution `target[B×C]` and, when `weights` is given, the
    /// per-sample teacher weights `weights[K×B]` (row k = teacher k).
    /// `teachers[k]` points at teacher k's logits `[B×C]`.
    public func target(
        teachers: [UnsafePointer<Float>], labels: UnsafePointer<Int32>?, batch: Int, classes: Int,
        temperature T: Float, into target: UnsafeMutablePointer<Float>, weights: UnsafeMutablePointer<Float>? = nil
    ) {
        let K = teachers.count
        precondition(K >= 1, "an ensemble needs at least one teacher")
        precondition(!needsLabels || labels != nil, "\(self) needs the true labels")
        if case .meanLogits = self {
            var mean = [Float](repeating: 0, count: classes)
            for b in 0..<batch {
                for c in 0..<classes { mean[c] = 0 }
                for t in teachers { for c in 0..<classes { mean[c] += t[b * classes + c] } }
                for c in 0..<classes { mean[c] /= Float(K) }
                Rows.softmax(mean, target + b * classes, rows: 1, cols: classes, temperature: T)
            }
            if let weights { weights.update(repeating: 1 / Float(K), count: K * batch) }
            return
        }
        var probs = [Float](repeating: 0, count: K * classes)
        var w = [Float](repeating: 0, count: K)
        for b in 0..<batch {
            for k in 0..<K {
                probs.withUnsafeMutableBufferPointer { p in
                    Rows.softmax(teachers[k] + b * classes, p.baseAddress! + k * classes, rows: 1, cols: classes, temperature: T)
                }
            }
            sampleWeights(b, probs: probs, teachers: teachers, labels: labels, classes: classes, into: &w)
            let out = target + b * classes
            for c in 0..<classes {
                var s: Float = 0
                for k in 0..<K { s += w[k] * probs[k * classes + c] }
                out[c] = s
            }
            if let weights { for k in 0..<K { weights[k * batch + b] = w[k] } }
        }
    }

    private func sampleWeights(_ b: Int, probs: [Float], teachers: [UnsafePointer<Float>], labels: UnsafePointer<Int32>?,
                               classes: Int, into w: inout [Float]) {
        let K = teachers.count
        if K == 1 { w[0] = 1; return }
        switch self {
        case .meanProbabilities, .meanLogits:
            for k in 0..<K { w[k] = 1 / Float(K) }
        case .weighted(let raw):
            let total = raw.reduce(0, +)
            for k in 0..<K { w[k] = raw[k] / total }
        case .entropyWeighted:
            var h = [Double](repeating: 0, count: K)
            for k in 0..<K {
                for c in 0..<classes {
                    let p = Double(probs[k * classes + c])
                    if p > 0 { h[k] -= p * log(p) }
                }
            }
            let total = h.reduce(0, +)
            for k in 0..<K { w[k] = total > 0 ? Float((1 - h[k] / total) / Double(K - 1)) : 1 / Float(K) }
        case .confidenceWeighted:
            let y = Int(labels![b])
            var ce = [Double](repeating: 0, count: K)
            for k in 0..<K {
                let z = teachers[k] + b * classes
                var m = -Float.infinity
                for c in 0..<classes { m = max(m, z[c]) }
                var s: Double = 0
                for c in 0..<classes { s += exp(Double(z[c] - m)) }
                ce[k] = Double(m) + log(s) - Double(z[y])
            }
            let mx = ce.max()!
            let e = ce.map { exp($0 - mx) }
            let total = e.reduce(0, +)
            for k in 0..<K { w[k] = Float((1 - e[k] / total) / Double(K - 1)) }
        }
    }
}

/// A bad ensemble rule, with what is allowed.
public struct EnsembleRuleError: Error, Equatable, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}
