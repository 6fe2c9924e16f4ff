import ArgumentParser
import CLIOutput
import Foundation
import NN
import Training
import FileSupport

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Evaluate a checkpoint on the test split.")

    @Argument(help: "Checkpoint file (safetensors).") var model: String
    @OptionGroup var data: DataOptions
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        let ckpt = try readCheckpoint(model)
        let bundle = try data.load(seed: 1, normalization: normalization(of: ckpt))
        guard bundle.test.sampleShape.reduce(1, *) == ckpt.model.inputFeatures else {
            throw CLIError("\(model) expects inputs of shape \(ckpt.model.inputShape) but the data has \(bundle.test.sampleShape)")
        }
        let r = Evaluation.run(ckpt.model, on: bundle.test)
        if json {
            printJSON(EvalOutput(model: model, spec: ckpt.spec.description, accuracy: r.accuracy, loss: r.loss, count: r.count))
        } else {
            print("\(model)  \(ckpt.spec)\ntest loss \(Format.fixed(r.loss, 4))  test accuracy \(Format.percent(r.accuracy))  (\(r.count) images)")
        }
    }
}

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show a model's layers, parameters, bytes and FLOPs per sample.",
        discussion: """
            MODEL is a checkpoint file, a model spec (e.g. mlp:784-64-10) or an ONNX model (a .onnx file, or any
            file that is not a safetensors checkpoint). For ONNX: producer, IR version and opsets, the graph's
            inputs and outputs, op counts, parameters, FLOPs per sample and whether Distillery's ONNX executor
            runs every node — if not, the unsupported nodes and the supported ops, and exit status 1.
            """)

    @Argument(help: "Checkpoint file, model spec or ONNX file.") var model: String
    @Option(help: "ONNX only: the shape of one sample, batch excluded, e.g. 1x28x28 (default: the graph input's, when fixed).")
    var sampleShape: String?
    @Flag(help: "ONNX only: print JSON.") var json = false

    func run() throws {
        let net: Sequential
        let spec: ModelSpec
        var meta: [String: String] = [:]
        let exists = FileManager.default.fileExists(atPath: model)
        if exists && InspectONNX.isONNX(model) {
            let byContent = (model as NSString).pathExtension.lowercased() != "onnx"
            return try InspectONNX.run(path: model, sampleShape: sampleShape, json: json, byContent: byContent)
        }
        guard sampleShape == nil && !json else {
            throw ValidationError("--sample-shape and --json apply to ONNX models; '\(model)' is \(exists ? "a checkpoint" : "a model spec")")
        }
        if exists {
            let c = try readCheckpoint(model)
            net = c.model; spec = c.spec; meta = c.metadata
        } else if model.contains(":") {
            spec = try parseSpec(model)
            do { net = try spec.build(seed: 0) } catch { throw ValidationError(error.description) }
        } else {
            throw CLIError("'\(model)' is neither an existing checkpoint file nor a model spec (mlp:… or cnn:…)")
        }
        print("model \(spec)")
        let rows: [[String]] = net.layers.enumerated().map { i, l in
            [String(i), l.kind, l.details, l.outputShape.map(String.init).joined(separator: "×"),
             Format.count(l.parameterCount), Format.count(l.flopsPerSample)]
        }
        TextTable(header: ["#", "layer", "config", "output", "params", "FLOPs"], rows: rows,
                  alignments: [.right, .left, .left, .left, .right, .right], rule: true).print()
        let stateBytes = net.state.count * 4
        print("parameters \(net.parameterCount) (\(ByteCount.text(net.parameterCount * 4)) float32\(stateBytes > 0 ? " + \(ByteCount.text(stateBytes)) state" : ""))  forward FLOPs/sample \(Format.count(net.flopsPerSample))")
        for key in ["epoch", "complete", "test.accuracy", "seed", "optimizer", "schedule", "distilled_from"] {
            if let v = meta[key] { print("\(key): \(v)") }
        }
    }
}
