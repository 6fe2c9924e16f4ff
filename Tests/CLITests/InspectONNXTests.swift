import Foundation
import NN
import Testing

/// `distillery inspect FILE.onnx` on the real binary: a model `export` wrote, a PyTorch model
/// with an op our executor lacks, and bytes that are no model. Needs no data set: the
/// checkpoint is built here.
@Suite struct InspectONNXTests {
    /// The ONNX models the ONNX tests read (written by PyTorch; see their README).
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("ONNXTests/Fixtures")

    /// A fresh (untrained) checkpoint of `spec` in `dir`, with a normalisation as training writes it.
    func checkpoint(_ spec: String, in dir: URL) throws -> (path: String, parameters: Int) {
        let model = try ModelSpec(parsing: spec).build(seed: 7)
        let path = dir.appendingPathComponent("tiny.safetensors").path
        try ModelCheckpoint(model: model, spec: try ModelSpec(parsing: spec),
                            metadata: ["normalization.mean": "0.286", "normalization.std": "0.353", "preprocessing.scale": "0.00392156862745098"])
            .write(to: path)
        return (path, model.parameterCount)
    }

    @Test func anExportedCheckpointInspectsWithItsOpsParametersAndFullSupport() throws {
        let dir = try scratchDirectory()
        let (ckpt, parameters) = try checkpoint("mlp:784-32-10", in: dir)
        let onnx = dir.appendingPathComponent("tiny.onnx").path
        let export = try distillery(["export", ckpt, "--onnx", onnx])
        #expect(export.status == 0, "\(export.err)")

        let i = try distillery(["inspect", onnx])
        #expect(i.status == 0, "\(i.out)\n\(i.err)")
        let size = try #require(try FileManager.default.attributesOfItem(atPath: onnx)[.size] as? NSNumber).intValue
        #expect(i.out.contains("file \(onnx): ") && i.out.contains("(\(size) bytes)"), "\(i.out)")
        #expect(i.out.contains("producer distillery"))
        #expect(i.out.contains("format ONNX IR ") && i.out.contains("opsets ai.onnx 17"), "\(i.out)")
        // Interface, the batch dimension shown by its name.
        #expect(i.out.range(of: #"input\s+input\s+float32\s+\[batch, 784\]"#, options: .regularExpression) != nil, "\(i.out)")
        #expect(i.out.range(of: #"output\s+logits\s+float32\s+\[batch, 10\]"#, options: .regularExpression) != nil, "\(i.out)")
        // The op table: two Gemm, one Relu, three nodes.
        #expect(i.out.range(of: #"\nop\s+nodes\n-+\s+-+\nGemm\s+2\nRelu\s+1\ntotal\s+3\n"#, options: .regularExpression) != nil, "\(i.out)")
        // The same parameter count as the checkpoint's own inspect.
        #expect(i.out.contains("parameters \(parameters) ("), "\(i.out)")
        let native = try distillery(["inspect", ckpt])
        #expect(native.status == 0 && native.out.contains("parameters \(parameters) "), "\(native.out)")
        let flops = 2 * (784 * 32 + 32 * 10)
        #expect(i.out.contains("(\(flops)) for samples of 784"), "\(i.out)")
        #expect(i.out.contains("all 3 nodes supported"), "\(i.out)")
        #expect(!i.out.contains("supported ops:"))

        let j = try distillery(["inspect", onnx, "--json"])
        #expect(j.status == 0, "\(j.err)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(j.out.utf8)) as? [String: Any], "\(j.out)")
        #expect(json["parameters"] as? Int == parameters && json["flops_per_sample"] as? Int == flops)
        #expect(json["all_supported"] as? Bool == true && json["supported_ops"] == nil)
        #expect(json["bytes"] as? Int == size && json["sample_shape"] as? [Int] == [784])
        let ops = try #require(json["ops"] as? [[String: Any]])
        #expect(ops.map { "\($0["op"] ?? "")=\($0["count"] ?? "")" } == ["Gemm=2", "Relu=1"])
        let input = try #require((json["inputs"] as? [[String: Any]])?.first)
        #expect(input["shape"] as? [String] == ["batch", "784"] && input["type"] as? String == "float32")
    }

    @Test func aModelWithAnUnsupportedNodeNamesItListsTheSupportedOpsAndFails() throws {
        let gelu = Self.fixtures.appendingPathComponent("gelu_op13.onnx").path
        #expect(FileManager.default.fileExists(atPath: gelu), "fixture missing: \(gelu)")
        for args in [["inspect", gelu], ["inspect", gelu, "--sample-shape", "1x28x28"]] {
            let i = try distillery(args)
            #expect(i.status != 0, "\(args): \(i.out)")
            #expect(i.out.contains("producer pytorch"), "\(i.out)")
            #expect(i.out.range(of: #"\n/Erf\s+Erf\s+op type Erf is not supported"#, options: .regularExpression) != nil, "\(i.out)")
            #expect(i.out.contains("supported ops: Abs, Add, "), "\(i.out)")
            #expect(!i.out.contains("nodes supported"))
            #expect(i.out.contains("FLOPs/sample at least "), "the Gemm after the Erf is not counted: \(i.out)")
        }
        let j = try distillery(["inspect", gelu, "--json"])
        #expect(j.status != 0)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(j.out.utf8)) as? [String: Any], "\(j.out)")
        #expect(json["all_supported"] as? Bool == false)
        #expect((json["unsupported"] as? [[String: Any]])?.map { $0["op"] as? String } == ["Erf"])
        #expect((json["supported_ops"] as? [String])?.contains("Gemm") == true)
    }

    @Test func aPyTorchModelShowsItsNamedBatchDimensionAndItsFlops() throws {
        let mlp = Self.fixtures.appendingPathComponent("mlp_op17.onnx").path
        let i = try distillery(["inspect", mlp])
        #expect(i.status == 0, "\(i.out)\n\(i.err)")
        #expect(i.out.contains("[batch_size, 1, 28, 28]"), "\(i.out)")
        #expect(i.out.contains("(\(2 * (784 * 8 + 8 * 10))) for samples of 1x28x28"), "\(i.out)")
        // A sample shape that does not fit the graph is a planning failure, not a crash.
        let wrong = try distillery(["inspect", mlp, "--sample-shape", "3x5"])
        #expect(wrong.status != 0 && wrong.out.contains("cannot plan the graph for samples of 3x5"), "\(wrong.out)\n\(wrong.err)")
        let bad = try distillery(["inspect", mlp, "--sample-shape", "1xx28"])
        #expect(bad.status != 0 && bad.err.contains("is not a shape"), "\(bad.err)")
    }

    @Test func garbageIsNotAnONNXModel() throws {
        let dir = try scratchDirectory()
        // Text: its first byte, 'n', is a protobuf key of wire type 6, which does not exist.
        let bytes = Data(String(repeating: "not a model\n", count: 40).utf8)
        let named = dir.appendingPathComponent("garbage.onnx")
        try bytes.write(to: named)
        let i = try distillery(["inspect", named.path])
        #expect(i.status != 0)
        #expect(i.err.contains("not an ONNX model") && i.err.contains("garbage.onnx"), "\(i.out)\n\(i.err)")
        // Without the extension, the content decides: no safetensors header, so ONNX is tried.
        let unnamed = dir.appendingPathComponent("garbage.bin")
        try bytes.write(to: unnamed)
        let u = try distillery(["inspect", unnamed.path])
        #expect(u.status != 0)
        #expect(u.err.contains("neither a checkpoint (safetensors) nor an ONNX model"), "\(u.err)")
    }
}
