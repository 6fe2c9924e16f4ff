import ArgumentParser
import Clocks
import CLIOutput
import Distillation
import Foundation
import NN
import Tensor

/// One line of `distillery-bench bench`: {"case": "mlp-train", "unit": "samples/s", "value": 12345}.
struct EngineBenchResult: Codable, Equatable {
    var `case`: String
    var unit: String
    var value: Int
}

/// Engine throughput on synthetic data, the same workloads as Scripts/bench_torch.py.
/// Prints one JSON line per case (``EngineBenchResult``).
struct EngineBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure engine throughput (used by Scripts/bench, which runs PyTorch on the same workloads).")

    @Option(help: "Comma-separated cases: mlp-train, student-kd, ensemble-infer, cnn-train.")
    var cases: String = "mlp-train,student-kd,ensemble-infer,cnn-train"
    @Option(help: "Seconds to measure each case (after warm-up).") var seconds: Double = 5

    func run() throws {
        for c in cases.split(separator: ",").map(String.init) {
            let value: Double
            let unit: String
            switch c {
            case "mlp-train":
                value = try trainThroughput(spec: "mlp:784-1200-1200-10,dropout=0.2", shape: [1, 28, 28]); unit = "samples/s"
            case "cnn-train":
                value = try trainThroughput(spec: "cnn:1x28x28-c32-p2-c64-p2-fc256-fc10,bn,dropout=0.3", shape: [1, 28, 28]); unit = "samples/s"
            case "student-kd":
                value = try studentKDThroughput(); unit = "samples/s"
            case "ensemble-infer":
                value = try ensembleInferenceThroughput(); unit = "rows/s"
            default:
                throw ValidationError("unknown bench case '\(c)'; allowed: mlp-train, student-kd, ensemble-infer, cnn-train")
            }
            printJSON(EngineBenchResult(case: c, unit: unit, value: Int(value)), lines: true)
            fflush(nil)
        }
    }

    /// Runs `step` for a warm-up, then for `seconds`; returns steps per second.
    func timed(_ step: () -> Void) -> Double {
        for _ in 0..<5 { step() }
        var n = 0
        let clock = SystemRuntimeClock()
        let t0 = clock.instant()
        var elapsed = 0.0
        repeat {
            step(); n += 1
            elapsed = clock.elapsed(since: t0).inSeconds
        } while elapsed < seconds
        return Double(n) / elapsed
    }

    func randomBatch(_ count: Int, seed: UInt64) -> [Float] {
        var rng = SplitMix64(seed: seed)
        return (0..<count).map { _ in rng.uniform(-1, 1) }
    }

    /// One training step = forward, loss (cross-entropy), backward, AdamW, batch 128.
    func trainThroughput(spec: String, shape: [Int]) throws -> Double {
        let m = try ModelSpec(parsing: spec).build(dataShape: shape, seed: 1)
        return stepThroughput(m) { out, y, dz in
            _ = CrossEntropy.loss(logits: out, labels: y, batch: 128, classes: 10, gradient: dz)
        }
    }

    /// Student 784-64-10 trained with the KD loss toward precomputed teacher probabilities.
    func studentKDThroughput() throws -> Double {
        let m = try ModelSpec(parsing: "mlp:784-64-10").build(dataShape: [1, 28, 28], seed: 1)
        var target = [Float](repeating: 0, count: 128 * 10)
        Rows.softmax(randomBatch(128 * 10, seed: 3), &target, rows: 128, cols: 10, temperature: 4)
        let kd = KDLoss(temperature: 4, alpha: 0.9)
        return stepThroughput(m) { out, y, dz in
            kd.evaluate(student: out, target: target, labels: y, batch: 128, classes: 10, gradient: dz)
        }
    }

    /// Samples/s of full training steps (forward, `loss` writing ∂L/∂logits, backward, AdamW)
    /// on one synthetic batch of 128 with labels 0…9 repeated.
    func stepThroughput(_ m: Sequential,
                        loss: (UnsafePointer<Float>, [Int32], UnsafeMutablePointer<Float>) -> Void) -> Double {
        let B = 128
        let x = randomBatch(B * m.inputFeatures, seed: 2)
        let y = (0..<B).map { Int32($0 % 10) }
        var dz = [Float](repeating: 0, count: B * m.outputFeatures)
        let opt = AdamW(parameterCount: m.parameterCount, weightDecay: 0)
        // The input must outlive forward and backward: keep one pointer for both.
        return x.withUnsafeBufferPointer { xp in timed {
            let out = m.forward(xp.baseAddress!, batch: B, mode: .training)
            dz.withUnsafeMutableBufferPointer { d in
                loss(out, y, d.baseAddress!)
                m.zeroGradients()
                m.backward(d.baseAddress!)
            }
            m.apply(opt, learningRate: 1e-3)
        } } * Double(B)
    }

    /// Three MLP teachers, batch 2000, inference, mean of probabilities at T = 4.
    func ensembleInferenceThroughput() throws -> Double {
        let B = 2000
        let spec = try ModelSpec(parsing: "mlp:784-1200-1200-10,dropout=0.2")
        let teachers = try (1...3).map { try spec.build(dataShape: [1, 28, 28], seed: UInt64($0)) }
        let x = randomBatch(B * 784, seed: 2)
        var logits = [[Float]](repeating: [Float](repeating: 0, count: B * 10), count: 3)
        var target = [Float](repeating: 0, count: B * 10)
        return timed {
            for k in 0..<3 {
                let out = teachers[k].forward(x, batch: B, mode: .inference)
                logits[k].withUnsafeMutableBufferPointer { $0.baseAddress!.update(from: out, count: B * 10) }
            }
            logits[0].withUnsafeBufferPointer { a in logits[1].withUnsafeBufferPointer { b in logits[2].withUnsafeBufferPointer { c in
                target.withUnsafeMutableBufferPointer { t in
                    EnsembleRule.meanProbabilities.target(teachers: [a.baseAddress!, b.baseAddress!, c.baseAddress!], labels: nil,
                                                          batch: B, classes: 10, temperature: 4, into: t.baseAddress!)
                }
            } } }
        } * Double(B)
    }
}
