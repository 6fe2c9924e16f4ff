import DistilleryTestKit
import ONNX
import Testing

/// Every refusal says what, where and what to do.
@Suite struct ONNXRefusalTests {
    func refusal(_ body: () throws -> Void) -> String {
        do { try body() } catch { return "\(error)" }
        Issue.record("expected a refusal")
        return ""
    }

    @Test func unsupportedOpIsNamedWithTheSupportedList() throws {
        let model = try ONNXModel.load(path: "\(ONNXTestPaths.fixtures)/gelu_op13.onnx")
        var caught: ONNXError?
        do { _ = try ONNXProgram(model: model, sampleShape: [1, 28, 28]) } catch { caught = error }
        guard case let .unsupportedNodes(_, nodes)? = caught else { Issue.record("expected unsupportedNodes, got \(String(describing: caught))"); return }
        #expect(nodes.map(\.opType) == ["Erf"])
        let text = caught!.description
        #expect(text.contains("gelu_op13.onnx"))
        #expect(text.contains("(Erf)") && text.contains("op type Erf is not supported"))
        #expect(text.contains("Supported ops: Abs, Add, AveragePool"))
        #expect(text.contains("re-export"))
    }

    @Test func everyUnsupportedNodeIsCollected() throws {
        var tiny = TinyModel()
        tiny.nodes = [
            .init(op: "Erf", inputs: ["x"], outputs: ["a"], name: "erf"),
            .init(op: "Relu", inputs: ["a"], outputs: ["b"], name: "after_erf"),
            .init(op: "Softmax", inputs: ["x"], outputs: ["c"], name: "batch_softmax", ints: ["axis": 0]),
            .init(op: "Conv", inputs: ["x", "w"], outputs: ["d"], name: "conv1d"),
            .init(op: "Add", inputs: ["b", "c"], outputs: ["e"], name: "add"),
            .init(op: "Add", inputs: ["e", "d"], outputs: ["y"], name: "add2"),
        ]
        tiny.initializers = [("w", [2, 1, 3], [1, 2, 3, 4, 5, 6])]
        tiny.inputs = [("x", [1, 1, 4])]
        let text = refusal { _ = try ONNXProgram(model: try tiny.model(), sampleShape: [1, 4]) }
        #expect(text.contains("3 node(s)"))
        #expect(text.contains("node \"erf\" (Erf): op type Erf is not supported"))
        #expect(text.contains("node \"batch_softmax\" (Softmax): axis 0 normalises over the batch axis"))
        #expect(text.contains("node \"conv1d\" (Conv): only 2-D convolution"))
        #expect(!text.contains("after_erf"))
    }

    @Test func badOpsetIsRefused() {
        var tiny = TinyModel()
        tiny.opset = 11
        let text = refusal { _ = try tiny.model() }
        #expect(text.contains("tiny.onnx: the model uses opset 11 of the default domain"))
        #expect(text.contains("supported: 13…18") && text.contains("opset_version=17"))
    }

    @Test func externalDataIsRefused() {
        var tiny = TinyModel()
        tiny.initializers = [("w", [4], [1, 2, 3, 4])]
        tiny.externalInitializer = true
        let text = refusal { _ = try tiny.model() }
        #expect(text.contains("tensor \"w\" is stored in external data files; re-export with all weights inside"))
    }

    @Test func notAnOnnxFileIsRefused() {
        let text = refusal { _ = try ONNXModel(bytes: Array("name,label\n1,2\n".utf8), source: "data.csv") }
        #expect(text.contains("data.csv: not an ONNX model"))
        let missing = refusal { _ = try ONNXModel.load(path: "/nonexistent/teacher.onnx") }
        #expect(missing.contains("/nonexistent/teacher.onnx: cannot read the ONNX model"))
    }

    @Test func unknownFieldsAreNamed() {
        var tiny = TinyModel()
        var tail = ProtoWriter()
        tail.message(25) { f in f.string(1, "MyFunction") }  // ModelProto.functions
        tiny.modelTail = tail.bytes
        let text = refusal { _ = try tiny.model() }
        #expect(text.contains("the model uses ModelProto.functions, which Distillery does not read"))
    }

    @Test func twoDataInputsAreRefused() throws {
        var tiny = TinyModel()
        tiny.inputs = [("x", [1, 4]), ("x2", [1, 4])]
        tiny.nodes = [.init(op: "Add", inputs: ["x", "x2"], outputs: ["y"], name: "add")]
        let text = refusal { _ = try ONNXProgram(model: try tiny.model(), sampleShape: [4]) }
        #expect(text.contains("a teacher needs exactly one data input, the graph has 2: x: float32[1, 4]; x2: float32[1, 4]"))
        // The general executor takes both.
        let program = try ONNXProgram(model: try tiny.model(), inputShapes: ["x": [1, 4], "x2": [1, 4]])
        let y = try program.run(["x": .init(shape: [1, 4], values: [1, 2, 3, 4]), "x2": .init(shape: [1, 4], values: [10, 20, 30, 40])])
        #expect(y["y"]?.scalars == [11, 22, 33, 44])
    }

    @Test func sampleShapeMismatchNamesBoth() throws {
        let model = try ONNXModel.load(path: "\(ONNXTestPaths.fixtures)/mlp_op17.onnx")
        let text = refusal { _ = try ONNXProgram(model: model, sampleShape: [3, 32, 32]) }
        #expect(text.contains("input \"input\" is declared [batch_size, 1, 28, 28] but the run's samples are [3, 32, 32]"))
    }

    @Test func cyclesAndUndefinedValuesAreNamed() throws {
        var tiny = TinyModel()
        tiny.nodes = [
            .init(op: "Add", inputs: ["x", "b"], outputs: ["a"], name: "first"),
            .init(op: "Relu", inputs: ["a"], outputs: ["b"], name: "second"),
            .init(op: "Relu", inputs: ["b"], outputs: ["y"], name: "third"),
        ]
        #expect(refusal { _ = try ONNXProgram(model: try tiny.model(), sampleShape: [4]) }.contains("cycle through values \"a\", \"b\", \"y\""))
        tiny.nodes = [.init(op: "Add", inputs: ["x", "nowhere"], outputs: ["y"], name: "add")]
        #expect(refusal { _ = try ONNXProgram(model: try tiny.model(), sampleShape: [4]) }
            .contains("node \"add\" (Add) reads \"nowhere\", which no node, initializer or graph input defines"))
    }

    @Test func nodesInAnyOrderAndMixingTheBatchIsRefused() throws {
        var tiny = TinyModel()
        tiny.nodes = [
            .init(op: "Relu", inputs: ["a"], outputs: ["y"], name: "last"),
            .init(op: "Transpose", inputs: ["x"], outputs: ["t"], name: "swap"),
            .init(op: "Transpose", inputs: ["t"], outputs: ["a"], name: "back"),
        ]
        let text = refusal { _ = try ONNXProgram(model: try tiny.model(), sampleShape: [4]) }
        #expect(text.contains("node \"swap\" (Transpose): perm [1, 0] moves the batch axis"))
        tiny.nodes = [
            .init(op: "Relu", inputs: ["a"], outputs: ["y"], name: "last"),
            .init(op: "Neg", inputs: ["x"], outputs: ["a"], name: "first"),
        ]
        let program = try ONNXProgram(model: try tiny.model(), sampleShape: [4])
        #expect(program.predict(.init(shape: [2, 4], values: [1, -2, 3, -4, -5, 6, -7, 8])).scalars == [0, 2, 0, 4, 5, 0, 7, 0])
    }
}
