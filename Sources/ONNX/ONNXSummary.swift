/// What `distillery inspect FILE.onnx` shows about an ONNX model: its interface, op counts,
/// size, cost and whether Distillery can run it.
///
/// FLOPs per sample count multiply–adds ×2 of Gemm, MatMul and Conv (the usual convention;
/// element-wise ops, pooling and normalisation are not counted). They need the sample shape.
public struct ONNXSummary: Sendable {
    public let source: String
    public let inputs: [ONNXValueInfo]
    public let outputs: [ONNXValueInfo]
    /// Nodes by op type.
    public let opCounts: [String: Int]
    /// Float elements of the initializers.
    public let parameterCount: Int
    /// Multiply–adds ×2 of one sample (nil without a sample shape or when planning failed).
    public let flopsPerSample: Int?
    /// Imported operator sets (domain `""` is the default domain).
    public let opsets: [String: Int]
    public let producerName: String
    public let producerVersion: String
    /// Nodes the executor cannot run (empty when every node is supported).
    public let unsupported: [ONNXUnsupportedNode]
    /// Why shapes could not be inferred for the sample shape, if they could not.
    public let planningError: String?

    /// Summarises `model`; with `sampleShape` (per sample, batch excluded) shapes are inferred
    /// for FLOPs and attribute-level support.
    public init(model: ONNXModel, sampleShape: [Int]? = nil) {
        source = model.source
        inputs = model.dataInputs
        outputs = model.outputs
        opCounts = model.nodes.reduce(into: [:]) { $0[$1.opType, default: 0] += 1 }
        parameterCount = model.initializers.values.reduce(0) { $0 + ($1.dataType == .float ? $1.count : 0) }
        opsets = model.opsets
        producerName = model.producerName
        producerVersion = model.producerVersion
        let supported = Set(ONNXOps.supported)
        let byType = model.nodes.filter { !supported.contains($0.opType) }.map {
            ONNXUnsupportedNode(name: $0.name, opType: $0.opType, domain: $0.domain, reason: "op type \($0.opType) is not supported")
        }
        guard let sampleShape, let input = model.dataInputs.first else {
            unsupported = byType; flopsPerSample = nil; planningError = nil
            return
        }
        do {
            let plan = try ONNXPlanner(model: model, runtimeInputs: [(input.name, [1] + sampleShape)], constants: [:], probe: nil, fixedBatch: nil)
            unsupported = plan.unsupported
            flopsPerSample = model.nodes.reduce(0) { $0 + Self.flops($1, plan) }
            planningError = nil
        } catch {
            unsupported = byType; flopsPerSample = nil; planningError = error.description
        }
    }

    /// Multiply–adds ×2 of one node at batch 1.
    static func flops(_ node: ONNXNode, _ plan: ONNXPlanner) -> Int {
        guard let out = node.outputs.first.flatMap({ name -> [Int]? in
            if case let .runtime(v)? = plan.entries[name] { return plan.values[v].shape }
            return nil
        }) else { return 0 }  // folded or not planned
        let outCount = out.reduce(1, *)
        switch node.opType {
        case "Gemm":
            guard let a = plan.shape(node, 0), a.count == 2 else { return 0 }
            return 2 * outCount * (plan.attrInt(node, "transA", 0) != 0 ? a[0] : a[1])
        case "MatMul":
            guard let a = plan.shape(node, 0), let k = a.last else { return 0 }
            return 2 * outCount * k
        case "Conv":
            guard let w = plan.shape(node, 1) else { return 0 }
            return 2 * outCount * w.dropFirst().reduce(1, *)
        default:
            return 0
        }
    }
}
