import ArgumentParser
import CLIOutput
import ClusterRuntime
import FileSupport
import Foundation
import NN
import ONNX

/// `distillery export CHECKPOINT --onnx OUT [--opset N]`: the checkpoint's model as an ONNX
/// inference graph (see `ONNXExport` for the layer mapping), written atomically.
struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a checkpoint's model as ONNX (an inference graph for onnxruntime and other runtimes).",
        discussion: """
            The graph takes 'input' float32 [batch, …sample shape] and gives 'logits' float32 [batch, classes].
            Dropout is left out (inference); BatchNorm uses the running statistics. The input normalisation
            the model was trained with is NOT part of the graph: feed (x − mean) / std, x being pixels in
            [0, 1]; mean and std are printed here and stored as the metadata properties
            distillery.normalization.mean / .std (the spec as distillery.model).
            """)

    @Argument(help: "Checkpoint file (safetensors) written by train or distill.") var checkpoint: String
    @Option(name: .customLong("onnx"), help: "ONNX file to write (replaced atomically).") var output: String
    @Option(help: "ONNX operator-set version of the default domain (\(ONNXFormat.supportedOpsets.lowerBound)…\(ONNXFormat.supportedOpsets.upperBound)).")
    var opset: Int = 17

    func validate() throws {
        guard ONNXFormat.supportedOpsets.contains(opset) else {
            throw ValidationError(ONNXExportError.unsupportedOpset(opset).description)
        }
        guard !output.isEmpty else { throw ValidationError("--onnx needs a file path") }
        guard URL(fileURLWithPath: output).standardizedFileURL != URL(fileURLWithPath: checkpoint).standardizedFileURL else {
            throw ValidationError("--onnx \(output) is the checkpoint itself; choose another file name (e.g. model.onnx)")
        }
    }

    func run() throws {
        let ckpt = try readCheckpoint(checkpoint)
        let norm = normalization(of: ckpt)
        let scale = ckpt.metadata["preprocessing.scale"].flatMap(Double.init)
        let bytes: [UInt8]
        do {
            bytes = try ONNXExport.model(ckpt.model, spec: ckpt.spec.description, normalization: norm.map { .init(scale: scale, mean: $0.mean, std: $0.std) },
                                         opset: opset, producerVersion: DistilleryVersion.current)
        } catch {
            throw CLIError("\(checkpoint): \(error.description)")
        }
        do {
            try AtomicFile.write(bytes, to: output)
        } catch {
            throw CLIError("cannot write the ONNX model: \(error.description)")
        }
        func dims(_ shape: [Int]) -> String { "[" + (["batch"] + shape.map(String.init)).joined(separator: ", ") + "]" }
        print("wrote \(output): \(ByteCount.text(bytes.count)) (\(bytes.count) bytes), ONNX opset \(opset), IR \(ONNXFormat.writtenIRVersion)")
        print("model  \(ckpt.spec)")
        print("input  '\(ONNXExport.inputName)' float32 \(dims(ckpt.model.inputShape))")
        print("output '\(ONNXExport.outputName)' float32 \(dims(ckpt.model.outputShape))")
        if let norm {
            let text = norm.metadataText
            print("feed pre-processed input: (x\(scale.map { " · \($0)" } ?? "") − \(text.mean)) / \(text.std), x = the stored values (metadata "
                  + "\(ONNXExport.MetadataKey.normalizationMean), \(ONNXExport.MetadataKey.normalizationStd)); the graph does not normalise")
        } else {
            print("no normalisation recorded in the checkpoint: feed inputs as the model was trained on them")
        }
    }
}
