import Foundation
import NN
import ONNX
import OnnxProtoC
import Tensor
import Testing

/// `ONNXExport`: the graph read back with protobuf-c (no Python), and the exported models run
/// by onnxruntime against our `predict` (through `Scripts/onnx-check` in the venv of
/// `Scripts/onnx-venv`, which also runs `onnx.checker.check_model(full_check: true)`).
@Suite struct ONNXExportTests {
    static let mlp = "mlp:64-32-16-5,bn,dropout=0.2,in-dropout=0.1"
    static let cnn = "cnn:1x12x12-c4-p3s2-c6k3s2p1-fc16-fc5,bn,dropout=0.3"

    /// A model of `spec` with random weights and BatchNorm parameters and running statistics
    /// far from their defaults (γ, β, mean in ±1, variance in 0.3…2), so a mapping that
    /// drops or swaps any of them changes the outputs.
    static func model(_ spec: String, dataShape: [Int]? = nil, seed: UInt64 = 7) throws -> Sequential {
        let m = try ModelSpec(parsing: spec).build(dataShape: dataShape, seed: seed)
        var rng = SplitMix64(seed: seed &+ 100)
        for t in m.namedTensors {
            let p = m.pointer(to: t)
            switch t.name.split(separator: ".").last! {
            case "running_var": for i in 0..<t.count { p[i] = rng.uniform(0.3, 2) }
            case "running_mean": for i in 0..<t.count { p[i] = rng.uniform(-1, 1) }
            default:
                if m.layers[Int(t.name.split(separator: ".")[0])!] is BatchNorm {
                    for i in 0..<t.count { p[i] = rng.uniform(t.name.hasSuffix("weight") ? 0.5 : -1, 1.5) }
                }
            }
        }
        return m
    }

    static func input(_ m: Sequential, batch: Int, seed: UInt64 = 3) -> Tensor {
        var rng = SplitMix64(seed: seed)
        return Tensor(shape: [batch] + m.inputShape, values: (0..<(batch * m.inputFeatures)).map { _ in rng.uniform(-2, 2) })
    }

    // MARK: - The bytes read back (no Python)

    @Test func cnnGraphHasTheMappedNodesInitializersAndMetadata() throws {
        let m = try Self.model(Self.cnn)
        let bytes = try ONNXExport.model(m, spec: Self.cnn, normalization: .init(scale: nil, mean: [0.286], std: [0.353]), opset: 13, producerVersion: "9.9.9")
        let proto = try #require(ExportUnpacked(bytes))
        defer { proto.free() }
        let model = proto.model
        #expect(model.ir_version == Int64(ONNXFormat.writtenIRVersion))
        #expect(proto.opsets == ["": 13])
        #expect(ExportUnpacked.string(model.producer_name) == "distillery" && ExportUnpacked.string(model.producer_version) == "9.9.9")
        #expect(proto.metadata == ["distillery.model": Self.cnn, "distillery.normalization.mean": "0.286",
                                   "distillery.normalization.std": "0.353"])
        #expect(ExportUnpacked.string(model.doc_string).contains("(x - mean) / std with mean 0.286, std 0.353"))

        let nodes = proto.nodes
        #expect(nodes.map(\.op) == ["Conv", "BatchNormalization", "Relu", "MaxPool", "Conv", "BatchNormalization", "Relu",
                                    "Flatten", "Gemm", "BatchNormalization", "Relu", "Gemm"])
        // A chain from `input` to `logits`.
        var current = "input"
        for node in nodes {
            #expect(node.inputs.first == current, "\(node.name) reads \(node.inputs), expected \(current) first")
            current = node.outputs.first ?? ""
        }
        #expect(current == "logits")
        let conv2 = nodes[4]
        #expect(conv2.ints["kernel_shape"] == [3, 3] && conv2.ints["strides"] == [2, 2] && conv2.ints["pads"] == [1, 1, 1, 1])
        #expect(nodes[3].ints["kernel_shape"] == [3, 3] && nodes[3].ints["strides"] == [2, 2])
        #expect(nodes[1].floats["epsilon"] == 1e-5)
        #expect(nodes[7].ints["axis"] == [1])
        #expect(nodes[8].ints["transB"] == [1])
        #expect(nodes[1].inputs.dropFirst() == ["1.weight", "1.bias", "1.running_mean", "1.running_var"])

        // Every named tensor of the model is an initializer with its shape and exact values.
        let initializers = proto.initializers
        #expect(initializers.map(\.name) == m.namedTensors.map(\.name))
        for (t, i) in zip(m.namedTensors, initializers) {
            #expect(i.dims == t.shape && i.dataType == 1, "\(t.name)")
            #expect(i.values == Array(UnsafeBufferPointer(start: m.pointer(to: t), count: t.count)), "\(t.name) values")
        }
        #expect(proto.input == ["batch", "1", "12", "12"])
        #expect(proto.output == ["batch", "5"])
    }

    @Test func mlpLeavesOutDropoutAndFlattensOnlyImageInputs() throws {
        let image = try Self.model(Self.mlp, dataShape: [1, 8, 8])
        let flat = try Self.model(Self.mlp)
        let imageProto = try #require(ExportUnpacked(try ONNXExport.model(image, spec: nil, normalization: nil, producerVersion: "t")))
        let flatProto = try #require(ExportUnpacked(try ONNXExport.model(flat, spec: nil, normalization: nil, producerVersion: "t")))
        defer { imageProto.free(); flatProto.free() }
        let dense = ["Gemm", "BatchNormalization", "Relu", "Gemm", "BatchNormalization", "Relu", "Gemm"]
        #expect(imageProto.nodes.map(\.op) == ["Flatten"] + dense)
        #expect(flatProto.nodes.map(\.op) == dense)
        #expect(imageProto.opsets == ["": 17])
        #expect(imageProto.input == ["batch", "1", "8", "8"] && flatProto.input == ["batch", "64"])
        #expect(imageProto.metadata.isEmpty)
        #expect(imageProto.nodes.last?.outputs == ["logits"])
    }

    @Test func unsupportedOpsetLayerAndTextAreExplained() throws {
        let m = try Self.model(Self.mlp)
        for opset in [12, 19] {
            #expect(throws: ONNXExportError.unsupportedOpset(opset)) {
                try ONNXExport.model(m, spec: nil, normalization: nil, opset: opset, producerVersion: "t")
            }
        }
        #expect(ONNXExportError.unsupportedOpset(12).description.contains("13…18"))
        let odd = Sequential(layers: [Flatten(shape: [4]), Square(shape: [4]), Linear(4, 2)], inputShape: [4], seed: 1)
        #expect(throws: ONNXExportError.unsupportedLayer(index: 1, kind: "Square")) {
            try ONNXExport.model(odd, spec: nil, normalization: nil, producerVersion: "t")
        }
        #expect(ONNXExportError.unsupportedLayer(index: 1, kind: "Square").description.contains("layer 1 (Square)"))
        #expect(throws: ONNXExportError.invalidText(field: "metadata distillery.model")) {
            try ONNXExport.model(m, spec: "mlp\u{0}", normalization: nil, producerVersion: "t")
        }
    }

    // MARK: - onnxruntime against predict

    struct Case: Sendable, CustomTestStringConvertible {
        var spec: String
        var dataShape: [Int]?
        var opset: Int
        var testDescription: String { "\(spec.prefix(3)) \(dataShape.map { "\($0)" } ?? "") opset \(opset)" }
    }

    static let runtimeCases = [
        Case(spec: mlp, dataShape: [1, 8, 8], opset: 13), Case(spec: mlp, dataShape: nil, opset: 17),
        Case(spec: cnn, dataShape: nil, opset: 13), Case(spec: cnn, dataShape: nil, opset: 17),
    ]

    /// Same fixed batch through `predict` and onnxruntime: max |ours − ort| ≤ 1e-5 · max(1, max |ours|)
    /// (absolute for logits of order 1, relative to the largest logit beyond), and the checker passes.
    @Test(.serialized, arguments: runtimeCases)
    func onnxruntimeMatchesPredict(_ c: Case) throws {
        let python = try #require(ExportCheck.find(), Comment(rawValue: ExportCheck.missing))
        let m = try Self.model(c.spec, dataShape: c.dataShape)
        let x = Self.input(m, batch: 9)
        let ours = m.predict(x).scalars
        let bytes = try ONNXExport.model(m, spec: c.spec, normalization: nil, opset: c.opset, producerVersion: "test")
        let result = try ExportCheck.check(python: python, model: bytes, input: x.scalars)
        try #require(result.status == 0, "Scripts/onnx-check failed (status \(result.status)): \(result.log)")
        #expect(result.outputs.count == ours.count)
        let largest = ours.map(abs).max() ?? 0, scale = max(1, largest)
        let diff = zip(ours, result.outputs).map { abs($0 - $1) }.max() ?? .infinity
        print("ONNXExportTests \(c.testDescription): max |ours − onnxruntime| \(diff) (max |logit| \(largest), bound 1e-5 · \(scale)); \(result.summary)")
        #expect(diff <= 1e-5 * scale, "max |diff| \(diff) over \(ours.count) logits")
        #expect(result.summary.contains("opset \(c.opset)"))
    }
}

/// A layer with no ONNX form.
private final class Square: ParameterlessLayer {
    let inputShape: [Int]
    init(shape: [Int]) { inputShape = shape }
    var kind: String { "Square" }
    var details: String { "" }
    var outputShape: [Int] { inputShape }
    var flopsPerSample: Int { inputFeatures }
    func forward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, batch: Int, mode: Mode) {
        for i in 0..<(batch * inputFeatures) { y[i] = x[i] * x[i] }
    }
    func backward(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
                  _ dx: UnsafeMutablePointer<Float>?, batch: Int) {}
}
