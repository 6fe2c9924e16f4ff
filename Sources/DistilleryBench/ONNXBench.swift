import ArgumentParser
import Clocks
import CLIOutput
import Foundation
import ONNX
import Tensor

/// One line of `distillery-bench onnx`:
/// {"model": "cnn", "side": "distillery", "batch": 128, "samples_per_s": 12345.6, "checksum": -1.25}.
struct ONNXBenchResult: Codable, Equatable {
    var model: String
    var side: String
    var batch: Int
    var samples_per_s: Double
    /// Σ of the logits of the first timed batch: the two sides must agree (same input, same graph).
    var checksum: Double
}

/// Inference throughput of an ONNX teacher through our executor (``ONNXProgram``), the twin of
/// Scripts/bench_onnx.py (onnxruntime). Both feed the same deterministic input (``benchInput``).
/// Prints one JSON line per batch size (``ONNXBenchResult``).
struct ONNXBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "onnx",
        abstract: "Measure ONNX teacher inference (used by Scripts/bench, which runs onnxruntime on the same model and input).")

    @Argument(help: "The .onnx file (one float32 input [batch, C, H, W] or [batch, F], one output).") var model: String
    @Option(help: "Comma-separated batch sizes.") var batch: String = "128,1000"
    @Option(help: "Per-sample input shape, comma-separated.") var sampleShape: String = "1,28,28"
    @Option(help: "Seconds to measure each batch size (after warm-up).") var seconds: Double = 3

    func run() throws {
        let shape = sampleShape.split(separator: ",").compactMap { Int($0) }
        let batches = batch.split(separator: ",").compactMap { Int($0) }
        guard !shape.isEmpty, !batches.isEmpty, batches.allSatisfy({ $0 > 0 }) else {
            throw ValidationError("--batch and --sample-shape take comma-separated positive integers")
        }
        let program: ONNXProgram
        do { program = try ONNXProgram.teacher(path: model, sampleShape: shape) } catch { throw ValidationError("\(error)") }
        let name = URL(fileURLWithPath: model).deletingPathExtension().lastPathComponent
        let features = shape.reduce(1, *), outputs = program.outputFeatures
        var clock = EngineBench()  // its `timed`: 5 warm-up calls, then calls for `seconds`
        clock.seconds = seconds
        for B in batches {
            let x = benchInput(B * features)
            let (rate, checksum) = x.withUnsafeBufferPointer { xp -> (Double, Double) in
                let first = program.forward(xp.baseAddress!, batch: B)
                let sum = UnsafeBufferPointer(start: first, count: B * outputs).reduce(0.0) { $0 + Double($1) }
                return (clock.timed { _ = program.forward(xp.baseAddress!, batch: B) } * Double(B), sum)
            }
            printJSON(ONNXBenchResult(model: name, side: "distillery", batch: B, samples_per_s: rounded(rate, 1),
                                      checksum: rounded(checksum, 3)), lines: true)
            fflush(nil)
        }
    }
}

/// The benchmark input, identical in Scripts/bench_onnx.py:
/// x[i] = ((i · 2654435761) mod 2³²) / 2³² · 2 − 1, a deterministic spread over [−1, 1).
func benchInput(_ count: Int) -> [Float] {
    (0..<count).map { i in
        let h = (UInt64(i) &* 2_654_435_761) & 0xFFFF_FFFF
        return Float(Double(h) / 4_294_967_296.0 * 2 - 1)
    }
}
