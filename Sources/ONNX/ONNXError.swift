/// Why an ONNX model cannot be loaded, planned or run. Every message says what is wrong, where
/// (the file, and the node's name and op type or the tensor's name) and what to do.
public enum ONNXError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The file could not be read (missing, too large, a directory).
    case unreadable(source: String, reason: String)
    /// The bytes are not a serialized ModelProto.
    case notONNX(source: String, reason: String)
    /// The ModelProto has no graph.
    case noGraph(source: String)
    /// An operator set of the default domain outside ``ONNXFormat/supportedOpsets``, or none.
    case opset(source: String, domain: String, version: Int?)
    /// A tensor whose bytes live in files beside the model.
    case externalData(source: String, tensor: String)
    /// Parts of the format Distillery does not read (training info, functions, sparse tensors,
    /// subgraphs, …), kept by protobuf-c as unknown fields or carried by a graph attribute.
    case unsupportedFeature(source: String, location: String, feature: String)
    /// A malformed part: a tensor whose data does not match its dims, an element type that is
    /// not read, an attribute of the wrong type.
    case invalid(source: String, location: String, reason: String)
    /// The graph's inputs or outputs do not fit a teacher (one float32 data input, one output)
    /// or the sample shape the run uses.
    case interface(source: String, reason: String)
    /// The graph is not a DAG over defined values.
    case graph(source: String, reason: String)
    /// Every node the executor cannot run, collected in one refusal.
    case unsupportedNodes(source: String, nodes: [ONNXUnsupportedNode])
    /// A node whose inputs' shapes do not fit its attributes (found while inferring shapes).
    case shape(source: String, node: String, opType: String, reason: String)

    public var description: String {
        switch self {
        case let .unreadable(source, reason):
            return "\(source): cannot read the ONNX model: \(reason)"
        case let .notONNX(source, reason):
            return "\(source): not an ONNX model (\(reason)); pass a .onnx file written by torch.onnx.export or onnx.save"
        case let .noGraph(source):
            return "\(source): the ONNX model has no graph; re-export the model with torch.onnx.export"
        case let .opset(source, domain, version):
            let which = domain.isEmpty ? "the default domain (ai.onnx)" : "domain \"\(domain)\""
            let range = "\(ONNXFormat.supportedOpsets.lowerBound)…\(ONNXFormat.supportedOpsets.upperBound)"
            guard let version else {
                return "\(source): the model imports no operator set of \(which); re-export with torch.onnx.export(..., opset_version=17)"
            }
            return "\(source): the model uses opset \(version) of \(which); supported: \(range). "
                + "Re-export with torch.onnx.export(..., opset_version=17)"
        case let .externalData(source, tensor):
            return "\(source): tensor \"\(tensor)\" is stored in external data files; re-export with all weights inside "
                + "(torch.onnx.export(...) writes them inside below 2 GB)"
        case let .unsupportedFeature(source, location, feature):
            return "\(source): \(location) uses \(feature), which Distillery does not read; "
                + "export the plain inference graph (torch.onnx.export of the model in eval mode)"
        case let .invalid(source, location, reason):
            return "\(source): \(location): \(reason)"
        case let .interface(source, reason):
            return "\(source): \(reason)"
        case let .graph(source, reason):
            return "\(source): invalid graph: \(reason)"
        case let .unsupportedNodes(source, nodes):
            let list = nodes.map { "  - \($0)" }.joined(separator: "\n")
            return "\(source): \(nodes.count) node(s) cannot run in Distillery's ONNX executor:\n\(list)\n"
                + "Supported ops: \(ONNXOps.supported.joined(separator: ", ")). "
                + "Replace these layers in the PyTorch model (or export a teacher without them) and re-export."
        case let .shape(source, node, opType, reason):
            return "\(source): node \"\(node)\" (\(opType)): \(reason)"
        }
    }
}

/// A node the executor cannot run and why (its op type, or an attribute value it does not support).
public struct ONNXUnsupportedNode: Equatable, Sendable, CustomStringConvertible {
    public let name: String
    public let opType: String
    public let domain: String
    public let reason: String

    public init(name: String, opType: String, domain: String, reason: String) {
        self.name = name; self.opType = opType; self.domain = domain; self.reason = reason
    }

    public var description: String {
        let op = domain.isEmpty || domain == "ai.onnx" ? opType : "\(domain)::\(opType)"
        return "node \"\(name)\" (\(op)): \(reason)"
    }
}
