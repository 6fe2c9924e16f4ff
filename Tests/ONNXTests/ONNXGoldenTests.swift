import DistilleryTestKit
import ONNX
import Tensor
import Testing

/// Models exported by torch 1.13 (Scripts/fixtures-onnx) against onnxruntime's logits.
@Suite struct ONNXGoldenTests {
    static let models = [
        "mlp_op13", "mlp_op17", "cnn_bn_folded_op13", "cnn_bn_folded_op17", "cnn_bn_kept_op13", "cnn_bn_kept_op17",
        "resnet_op13", "resnet_op17", "resnet_fixed_op13",
        // Opset 18 (current PyTorch's default): the opset-17 exports through onnx.version_converter.
        "mlp_op18", "cnn_bn_kept_op18", "resnet_op18",
    ]

    func load(_ name: String) throws -> (ONNXModel, ONNXProgram, Tensor) {
        let model = try ONNXModel.load(path: "\(ONNXTestPaths.fixtures)/\(name).onnx")
        let program = try ONNXProgram(model: model, sampleShape: [1, 28, 28])
        let input = try loadTensor("\(ONNXTestPaths.fixtures)/input.pb")
        return (model, program, Tensor(shape: input.shape, values: input.floats))
    }

    @Test(arguments: models)
    func matchesOnnxRuntime(_ name: String) throws {
        let (model, program, x) = try load(name)
        let expected = try loadTensor("\(ONNXTestPaths.fixtures)/\(name).output.pb")
        #expect(program.outputShape == [10])
        #expect(model.opsets[""] == Int(name.suffix(2)))
        let y = program.predict(x)
        #expect(y.shape == expected.shape)
        assertClose(y.scalars, expected.floats, rtol: 1e-4, atol: 1e-4, name)
    }

    @Test(arguments: models)
    func everyBatchSizeAgrees(_ name: String) throws {
        let (_, program, x) = try load(name)
        let all = program.predict(x).scalars
        // One sample at a time, then the batch again (buffers shrink and grow).
        for i in 0..<4 {
            let one = Tensor(shape: [1, 1, 28, 28], values: Array(x.scalars[(i * 784)..<((i + 1) * 784)]))
            assertClose(program.predict(one).scalars, Array(all[(i * 10)..<((i + 1) * 10)]), rtol: 1e-5, atol: 1e-6, "\(name) sample \(i)")
        }
        let twice = Tensor(shape: [8, 1, 28, 28], values: x.scalars + x.scalars)
        assertClose(program.predict(twice).scalars, all + all, rtol: 1e-5, atol: 1e-6, "\(name) batch 8")
    }

    /// A batch large enough to be split into lanes (one per core, 32 samples at a time through
    /// convolutional graphs) gives, sample for sample, exactly what one sample alone gives: the
    /// microkernels compute each sample (and each row of a product) the same way whatever its
    /// neighbours.
    @Test(arguments: ["mlp_op17", "cnn_bn_kept_op17", "resnet_op17"])
    func lanesAgreeWithSingleSamples(_ name: String) throws {
        let (_, program, x) = try load(name)
        let batch = 2 * ONNXProgram.laneChunk + 37
        var values: [Float] = []
        for i in 0..<batch {
            let sample = x.scalars[((i % 4) * 784)..<((i % 4 + 1) * 784)]
            values += sample.map { $0 * (1 + Float(i) / Float(batch)) }
        }
        let all = program.predict(Tensor(shape: [batch, 1, 28, 28], values: values)).scalars
        for i in 0..<batch {
            let one = program.predict(Tensor(shape: [1, 1, 28, 28], values: Array(values[(i * 784)..<((i + 1) * 784)]))).scalars
            if System.simd.hasMicrokernels {
                #expect(one == Array(all[(i * 10)..<((i + 1) * 10)]), "\(name) sample \(i) of \(batch)")
            } else {
                assertClose(one, Array(all[(i * 10)..<((i + 1) * 10)]), rtol: 1e-5, atol: 1e-6, "\(name) sample \(i) of \(batch)")
            }
        }
    }

    @Test func exportsContainTheExpectedOps() throws {
        func ops(_ name: String) throws -> Set<String> {
            Set(try ONNXModel.load(path: "\(ONNXTestPaths.fixtures)/\(name).onnx").nodes.map(\.opType))
        }
        for opset in [13, 17] {
            #expect(try !ops("cnn_bn_folded_op\(opset)").contains("BatchNormalization"))
            #expect(try ops("cnn_bn_kept_op\(opset)").contains("BatchNormalization"))
            #expect(try ops("resnet_op\(opset)").isSuperset(of: ["Shape", "Gather", "Unsqueeze", "Concat", "Reshape", "GlobalAveragePool", "Add"]))
            #expect(try ops("mlp_op\(opset)") == ["Flatten", "Gemm", "Relu"])
        }
        #expect(try !ops("resnet_fixed_op13").contains("Shape"))
    }

    @Test func shapeChainIsFoldedAndBatchNormRuns() throws {
        let (_, resnet, _) = try load("resnet_op17")
        for folded in ["Shape", "Gather", "Unsqueeze", "Concat", "Constant", "Reshape"] {
            #expect(!resnet.stepOpTypes.contains(folded), "\(folded) should be folded at plan time")
        }
        #expect(resnet.stepOpTypes.filter { $0 == "Conv" }.count == 6)
        // Each residual Add (identity and projection) runs inside the conv before it, with the Relu after it.
        let residual = resnet.steps.filter { $0.contains("Add") }
        #expect(residual.count == 2 && residual.allSatisfy { $0.first == "Conv" && $0.last == "Relu" }, "\(resnet.steps)")
        let (_, kept, _) = try load("cnn_bn_kept_op13")
        #expect(kept.stepOpTypes.filter { $0 == "BatchNormalization" }.count == 2)
    }

    @Test func summaryCountsParametersAndFlops() throws {
        let model = try ONNXModel.load(path: "\(ONNXTestPaths.fixtures)/mlp_op17.onnx")
        let summary = ONNXSummary(model: model, sampleShape: [1, 28, 28])
        #expect(summary.parameterCount == 784 * 8 + 8 + 8 * 10 + 10)
        #expect(summary.flopsPerSample == 2 * (784 * 8 + 8 * 10))
        #expect(summary.opCounts == ["Flatten": 1, "Gemm": 2, "Relu": 1])
        #expect(summary.unsupported.isEmpty)
        #expect(summary.inputs.first?.shape == [.param("batch_size"), .value(1), .value(28), .value(28)])
        #expect(summary.outputs.map(\.name) == ["logits"])
        #expect(summary.opsets[""] == 17)
        #expect(summary.producerName == "pytorch")
        let gelu = ONNXSummary(model: try ONNXModel.load(path: "\(ONNXTestPaths.fixtures)/gelu_op13.onnx"), sampleShape: [1, 28, 28])
        #expect(gelu.unsupported.map(\.opType) == ["Erf"])
    }
}
