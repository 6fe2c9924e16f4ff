import Foundation
import FileSupport

/// `distillery inspect FILE.onnx` (and its `--json`): what an ONNX model is and whether
/// Distillery's ONNX executor can run it. Plain values, filled by the CLI from the ONNX
/// target's `ONNXModel` and `ONNXSummary`; the JSON keys are snake_case and stable.
public struct ONNXInspectOutput: Codable, Sendable, Equatable {
    /// A graph input or output; `shape` holds each dimension as text: a number, a dim param's
    /// name (`batch`) or `?` (unknown); nil when the graph declares no shape.
    public struct Value: Codable, Sendable, Equatable {
        public var name: String
        public var type: String
        public var shape: [String]?

        public init(name: String, type: String, shape: [String]?) {
            self.name = name; self.type = type; self.shape = shape
        }
    }

    /// Nodes of one op type (`domain::Op` outside the default domain).
    public struct OpCount: Codable, Sendable, Equatable {
        public var op: String
        public var count: Int

        public init(op: String, count: Int) { self.op = op; self.count = count }
    }

    /// A node the executor cannot run, and why.
    public struct Node: Codable, Sendable, Equatable {
        public var name: String
        public var op: String
        public var reason: String

        public init(name: String, op: String, reason: String) { self.name = name; self.op = op; self.reason = reason }
    }

    public var file: String
    public var bytes: Int
    public var producer: String
    public var producerVersion: String
    public var irVersion: Int
    /// Imported operator sets by domain (`ai.onnx` for the default domain).
    public var opsets: [String: Int]
    public var inputs: [Value]
    public var outputs: [Value]
    /// By count, most frequent first, then by name.
    public var ops: [OpCount]
    public var nodes: Int
    /// Float elements of the initializers (weights and, for BatchNorm, running statistics).
    public var parameters: Int
    /// Per sample, batch excluded: given (`--sample-shape`) or read from the graph's input.
    public var sampleShape: [Int]?
    /// Multiply–adds ×2 of Gemm, MatMul and Conv for one sample; nil without a sample shape
    /// or when shapes could not be inferred; a lower bound when some nodes are unsupported
    /// (what they feed is not planned).
    public var flopsPerSample: Int?
    /// True when every node can run (and, with a sample shape, the graph was planned for it).
    public var allSupported: Bool
    public var unsupported: [Node]
    /// Why the graph could not be planned for the sample shape.
    public var planningError: String?
    /// The op types the executor runs; given when `all_supported` is false.
    public var supportedOps: [String]?

    public init(file: String, bytes: Int, producer: String, producerVersion: String, irVersion: Int, opsets: [String: Int],
                inputs: [Value], outputs: [Value], ops: [OpCount], parameters: Int, sampleShape: [Int]?, flopsPerSample: Int?,
                unsupported: [Node], planningError: String?, supportedOps: [String]) {
        self.file = file; self.bytes = bytes; self.producer = producer; self.producerVersion = producerVersion
        self.irVersion = irVersion; self.opsets = opsets; self.inputs = inputs; self.outputs = outputs
        self.ops = ops.sorted { ($0.count, $1.op) > ($1.count, $0.op) }
        self.nodes = ops.reduce(0) { $0 + $1.count }
        self.parameters = parameters; self.sampleShape = sampleShape; self.flopsPerSample = flopsPerSample
        self.unsupported = unsupported; self.planningError = planningError
        allSupported = unsupported.isEmpty && planningError == nil
        self.supportedOps = allSupported ? nil : supportedOps
    }

    enum CodingKeys: String, CodingKey {
        case file, bytes, producer, opsets, inputs, outputs, ops, nodes, parameters, unsupported
        case producerVersion = "producer_version"
        case irVersion = "ir_version"
        case sampleShape = "sample_shape"
        case flopsPerSample = "flops_per_sample"
        case allSupported = "all_supported"
        case planningError = "planning_error"
        case supportedOps = "supported_ops"
    }

    /// What `inspect` prints: file, producer, format, interface, the op table, parameters,
    /// FLOPs and support (with the unsupported nodes and the supported ops when some are not).
    public var text: String {
        let opsetText = opsets.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        var lines = ["file \(file): \(ByteCount.text(bytes)) (\(bytes) bytes)",
                     "producer \(producer.isEmpty ? "(none)" : producer)\(producerVersion.isEmpty ? "" : " " + producerVersion)",
                     "format ONNX IR \(irVersion), opsets \(opsetText.isEmpty ? "(none)" : opsetText)", ""]
        let interface = inputs.map { ["input", $0.name, $0.type, Self.shapeText($0.shape)] }
            + outputs.map { ["output", $0.name, $0.type, Self.shapeText($0.shape)] }
        lines.append(TextTable(header: ["", "name", "type", "shape"], rows: interface, rule: true).render())
        lines.append("")
        lines.append(TextTable(header: ["op", "nodes"], rows: ops.map { [$0.op, String($0.count)] } + [["total", String(nodes)]],
                               alignments: [.left, .right], rule: true).render())
        lines.append("")
        lines.append("parameters \(parameters) (\(ByteCount.text(parameters * 4)) of float32 initializers)")
        let shape = sampleShape.map { $0.map(String.init).joined(separator: "x") }
        switch (flopsPerSample, shape) {
        case let (flops?, shape?) where !unsupported.isEmpty:
            lines.append("FLOPs/sample at least \(Format.count(flops)) (\(flops)) for samples of \(shape): "
                + "nodes fed by an unsupported node are not counted")
        case let (flops?, shape?): lines.append("FLOPs/sample \(Format.count(flops)) (\(flops)) for samples of \(shape)")
        case let (nil, shape?): lines.append("FLOPs/sample unknown: the graph could not be planned for samples of \(shape)")
        default: lines.append("FLOPs/sample unknown: the input's shape is not fixed; pass --sample-shape (e.g. 1x28x28)")
        }
        if allSupported {
            lines.append(sampleShape == nil
                ? "all \(nodes) nodes' op types are supported (attributes are checked only with a sample shape: pass --sample-shape)"
                : "all \(nodes) nodes supported: Distillery's ONNX executor can run this model")
            return lines.joined(separator: "\n")
        }
        if !unsupported.isEmpty {
            lines.append("\(unsupported.count) of \(nodes) nodes cannot run in Distillery's ONNX executor:")
            lines.append(TextTable(header: ["node", "op", "reason"], rows: unsupported.map { [$0.name, $0.op, $0.reason] },
                                   rule: true).render())
        }
        if let planningError {
            lines.append("cannot plan the graph for samples of \(shape ?? "?") (check --sample-shape): \(planningError)")
        }
        lines.append("supported ops: \((supportedOps ?? []).joined(separator: ", "))")
        if !unsupported.isEmpty {
            lines.append("replace the unsupported layers in the original model (or export it without them) and re-export")
        }
        return lines.joined(separator: "\n")
    }

    /// `[batch, 1, 28, 28]`, or `?` when no shape is declared.
    static func shapeText(_ shape: [String]?) -> String { shape.map { "[" + $0.joined(separator: ", ") + "]" } ?? "?" }
}
