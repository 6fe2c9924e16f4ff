import CLIOutput
import ClusterRuntime
import Foundation
import Testing

/// The student's `student.onnx` line of the run report, and `inspect FILE.onnx`'s output.
@Suite struct ONNXOutputsTests {
    @Test func theReportShowsTheStudentsONNXSizeAndLatency() throws {
        let figures = JSONOutputTests.figures.merging(["student.onnx_bytes": 208_282, "student.onnx_latency_us": 21.6]) { $1 }
        let r = RunReport(runID: "run-1", name: "fashion", state: "completed", reason: "done", figures: figures)
        #expect(r.studentONNX == RunReport.StudentONNX(bytes: 208_282, latencyMicroseconds: 21.6))
        #expect(r.text.contains("\nstudent.onnx: 203.4 KiB, 0.02 ms per sample (our ONNX executor)\n"), "\(r.text)")
        let json = String(decoding: try r.json(), as: UTF8.self)
        #expect(json.contains("\"student_onnx\"") && json.contains("\"latency_us\" : 21.6"), "\(json)")
        #expect(try RunReport(json: r.json()) == r)
    }

    @Test func aFailedExportSaysSoAndAnOlderReportHasNoONNXLine() throws {
        let failed = RunReport(runID: "r", name: "n", state: "completed", reason: "", figures: ["student.onnx_export_failed": 1])
        #expect(failed.studentONNX?.exportFailed == true)
        #expect(failed.text.contains("student.onnx: not exported — the export failed (the reason is in artifact student.onnx-error.txt"))
        // A report.json written before student.onnx existed decodes, without it.
        let old = RunReport(runID: "r", name: "n", state: "completed", reason: "", figures: ["student.parameters": 5])
        #expect(old.studentONNX == nil && !old.text.contains("student.onnx"))
        var object = try #require(try JSONSerialization.jsonObject(with: old.json()) as? [String: Any])
        #expect(object["student_onnx"] == nil)
        object["student_onnx"] = nil
        let back = try RunReport(json: try JSONSerialization.data(withJSONObject: object))
        #expect(back == old)
    }

    static func output(unsupported: [ONNXInspectOutput.Node] = [], planningError: String? = nil,
                       sampleShape: [Int]? = [1, 28, 28]) -> ONNXInspectOutput {
        ONNXInspectOutput(
            file: "m.onnx", bytes: 2048, producer: "pytorch", producerVersion: "2.3.0", irVersion: 8, opsets: ["ai.onnx": 17],
            inputs: [.init(name: "input", type: "float32", shape: ["batch_size", "1", "28", "28"])],
            outputs: [.init(name: "logits", type: "float32", shape: nil)],
            ops: [.init(op: "Relu", count: 1), .init(op: "Gemm", count: 2), .init(op: "Flatten", count: 1)], parameters: 6442,
            sampleShape: sampleShape, flopsPerSample: planningError == nil && sampleShape != nil ? 12704 : nil,
            unsupported: unsupported, planningError: planningError, supportedOps: ["Add", "Gemm"])
    }

    @Test func inspectShowsTheInterfaceTheOpTableAndSupport() {
        let text = Self.output().text
        #expect(text.hasPrefix("file m.onnx: 2.0 KiB (2048 bytes)\nproducer pytorch 2.3.0\nformat ONNX IR 8, opsets ai.onnx 17\n"), "\(text)")
        #expect(text.contains("input   input   float32  [batch_size, 1, 28, 28]\noutput  logits  float32  ?"), "\(text)")
        #expect(text.contains("op       nodes\n-------  -----\nGemm         2\nFlatten      1\nRelu         1\ntotal        4\n"), "\(text)")
        #expect(text.contains("parameters 6442 (25.2 KiB of float32 initializers)\nFLOPs/sample 12.7K (12704) for samples of 1x28x28"))
        #expect(text.hasSuffix("all 4 nodes supported: Distillery's ONNX executor can run this model"))
        #expect(!text.contains("supported ops"))
        #expect(Self.output(sampleShape: nil).text.contains("pass --sample-shape"))
    }

    @Test func inspectListsUnsupportedNodesAndTheSupportedOps() throws {
        let out = Self.output(unsupported: [.init(name: "/Erf", op: "Erf", reason: "op type Erf is not supported")])
        #expect(!out.allSupported && out.supportedOps == ["Add", "Gemm"])
        #expect(out.text.contains("FLOPs/sample at least 12.7K (12704) for samples of 1x28x28: nodes fed by an unsupported node"))
        #expect(out.text.contains("1 of 4 nodes cannot run in Distillery's ONNX executor:\nnode  op   reason\n"), "\(out.text)")
        #expect(out.text.contains("/Erf  Erf  op type Erf is not supported\nsupported ops: Add, Gemm\nreplace"), "\(out.text)")
        let planned = Self.output(planningError: "node \"Gemm_1\" (Gemm): shapes do not fit")
        #expect(!planned.allSupported && planned.text.contains("cannot plan the graph for samples of 1x28x28 (check --sample-shape)"))
        let json = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(out)) as? [String: Any])
        #expect(Set(json.keys).isSuperset(of: ["file", "bytes", "producer", "producer_version", "ir_version", "opsets", "inputs",
                                               "outputs", "ops", "nodes", "parameters", "sample_shape", "flops_per_sample",
                                               "all_supported", "unsupported", "supported_ops"]))
    }
}
