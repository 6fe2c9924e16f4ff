import ArgumentParser
import CLIOutput
import FileSupport
import Foundation
import ONNX

/// `distillery inspect FILE.onnx`: an ONNX model's producer, format, interface, op counts,
/// parameters, FLOPs per sample and whether every node can run in Distillery's executor.
enum InspectONNX {
    /// True when `path` should be read as ONNX: its extension is `.onnx`, or its first bytes
    /// are not a safetensors header (8-byte little-endian length, then `{`).
    static func isONNX(_ path: String) -> Bool {
        if (path as NSString).pathExtension.lowercased() == "onnx" { return true }
        guard let handle = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? handle.close() }
        let head = [UInt8]((try? handle.read(upToCount: 9)) ?? Data())
        return !(head.count == 9 && head[8] == UInt8(ascii: "{"))
    }

    /// `1x28x28` → `[1, 28, 28]`.
    static func parseShape(_ text: String) throws -> [Int] {
        let dims = text.split(separator: "x", omittingEmptySubsequences: false).map { Int($0) }
        guard !dims.isEmpty, dims.allSatisfy({ ($0 ?? 0) > 0 }) else {
            throw ValidationError("--sample-shape '\(text)' is not a shape: give positive sizes joined by 'x', batch excluded "
                + "(e.g. 1x28x28 for 28×28 grey images, 784 for flat features)")
        }
        return dims.compactMap { $0 }
    }

    /// The sample shape of the graph's first data input when every dimension but the batch is a
    /// number; nil otherwise.
    static func fixedSampleShape(_ model: ONNXModel) -> [Int]? {
        guard let shape = model.dataInputs.first?.shape, shape.count >= 2 else { return nil }
        var dims: [Int] = []
        for dim in shape.dropFirst() {
            guard case let .value(n) = dim, n > 0 else { return nil }
            dims.append(n)
        }
        return dims
    }

    /// Reads `path` and describes it; `byContent` says the file was taken for ONNX because it
    /// is no safetensors file (so a refusal names both formats).
    static func output(path: String, sampleShape: [Int]?, byContent: Bool) throws -> ONNXInspectOutput {
        let model: ONNXModel
        do {
            model = try ONNXModel.load(path: path)
        } catch {
            guard byContent, case .notONNX = error else { throw CLIError(error.description) }
            throw CLIError("\(path) is neither a checkpoint (safetensors) nor an ONNX model: \(error.description)")
        }
        let bytes = ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.intValue ?? 0
        let shape = sampleShape ?? fixedSampleShape(model)
        let summary = ONNXSummary(model: model, sampleShape: shape)
        func value(_ v: ONNXValueInfo) -> ONNXInspectOutput.Value {
            .init(name: v.name, type: v.elementType.description, shape: v.shape?.map(\.description))
        }
        func op(_ type: String, _ domain: String) -> String { domain.isEmpty || domain == "ai.onnx" ? type : "\(domain)::\(type)" }
        var counts: [String: Int] = [:]
        for node in model.nodes { counts[op(node.opType, node.domain), default: 0] += 1 }
        return ONNXInspectOutput(
            file: path, bytes: bytes, producer: summary.producerName, producerVersion: summary.producerVersion,
            irVersion: model.irVersion, opsets: Dictionary(summary.opsets.map { ($0.key.isEmpty ? "ai.onnx" : $0.key, $0.value) },
                                                           uniquingKeysWith: { max($0, $1) }),
            inputs: summary.inputs.map(value), outputs: summary.outputs.map(value),
            ops: counts.map { ONNXInspectOutput.OpCount(op: $0.key, count: $0.value) }, parameters: summary.parameterCount,
            sampleShape: shape, flopsPerSample: summary.flopsPerSample,
            unsupported: summary.unsupported.map { .init(name: $0.name.isEmpty ? "(unnamed)" : $0.name, op: op($0.opType, $0.domain),
                                                         reason: $0.reason) },
            planningError: summary.planningError, supportedOps: ONNXOps.supported)
    }

    /// Prints the description (text or JSON); exits with status 1 when a node cannot run.
    static func run(path: String, sampleShape: String?, json: Bool, byContent: Bool) throws {
        let out = try output(path: path, sampleShape: try sampleShape.map(parseShape), byContent: byContent)
        if json { printJSON(out) } else { print(out.text) }
        if !out.allSupported { throw ExitCode.failure }
    }
}
