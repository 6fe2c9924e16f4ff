import Datasets
import NN
import Tensor

/// Loss and accuracy of a model on a data set (inference mode).
public struct Evaluation: Sendable, Equatable {
    public var loss: Float
    public var accuracy: Float
    public var count: Int

    /// Runs `model` over `data` in batches of `batchSize`; when `logits` is given it receives
    /// all outputs `[N × classes]` in data order.
    public static func run(_ model: any InferenceModel, on data: LabeledImages, batchSize: Int = 1000,
                           logits: UnsafeMutablePointer<Float>? = nil) -> Evaluation {
        let classes = model.outputFeatures
        var pixels = [Float](repeating: 0, count: batchSize * data.features)
        var labels = [Int32](repeating: 0, count: batchSize)
        var lossSum: Double = 0, correct = 0
        var start = 0
        while start < data.count {
            let n = min(batchSize, data.count - start)
            let indices = Array(start..<(start + n))[...]
            pixels.withUnsafeMutableBufferPointer { px in
                labels.withUnsafeMutableBufferPointer { lb in
                    data.gather(indices: indices, into: px.baseAddress!, labels: lb.baseAddress!)
                    let out = model.infer(px.baseAddress!, batch: n)
                    lossSum += Double(CrossEntropy.loss(logits: out, labels: lb.baseAddress!, batch: n, classes: classes)) * Double(n)
                    correct += CrossEntropy.correctCount(logits: out, labels: lb.baseAddress!, batch: n, classes: classes)
                    logits?.advanced(by: start * classes).update(from: out, count: n * classes)
                }
            }
            start += n
        }
        let count = max(1, data.count)
        return Evaluation(loss: Float(lossSum / Double(count)), accuracy: Float(correct) / Float(count), count: data.count)
    }

    /// All logits of `model` on `data`, `[N × classes]`.
    public static func logits(_ model: any InferenceModel, on data: LabeledImages, batchSize: Int = 1000) -> [Float] {
        var out = [Float](repeating: 0, count: data.count * model.outputFeatures)
        _ = out.withUnsafeMutableBufferPointer { run(model, on: data, batchSize: batchSize, logits: $0.baseAddress!) }
        return out
    }

    /// Accuracy of precomputed logits `[N × classes]` against `labels`.
    public static func accuracy(logits: [Float], labels: [Int32], classes: Int) -> Float {
        accuracy(predicted: logits.withUnsafeBufferPointer { Rows.argmax($0.baseAddress!, rows: labels.count, cols: classes) },
                 labels: labels)
    }

    /// Accuracy of predicted classes against `labels`.
    public static func accuracy(predicted: [Int], labels: [Int32]) -> Float {
        var correct = 0
        for (p, y) in zip(predicted, labels) where p == Int(y) { correct += 1 }
        return Float(correct) / Float(max(1, labels.count))
    }
}
