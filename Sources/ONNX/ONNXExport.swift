import NN

/// Writes a native model (the student) as an ONNX **inference** graph (opsets 13…18 of the
/// default domain, IR version ``ONNXFormat/writtenIRVersion``), packed with protobuf-c.
///
/// Graph: input `input` float32 `[batch, …model.inputShape]` (`batch` is the symbolic
/// dimension `dim_param "batch"`), output `logits` float32 `[batch, …model.outputShape]`
/// (unnormalised class scores). Layer `i` maps to one node named `<op>_<i>`; its parameters
/// become initializers named as in the checkpoint (`i.weight`, `i.bias`, `i.running_mean`,
/// `i.running_var` — PyTorch's `nn.Sequential` names), stored as little-endian float32
/// `raw_data`:
///
/// | layer        | ONNX node                                                                 |
/// |--------------|---------------------------------------------------------------------------|
/// | Linear       | `Gemm(x, i.weight [O, I], i.bias [O])`, `transB = 1`                       |
/// | Conv2D       | `Conv(x, i.weight [O, C, K, K], i.bias [O])`, `kernel_shape [K, K]`, `strides [S, S]`, `pads [P, P, P, P]`, `dilations [1, 1]`, `group 1` |
/// | MaxPool2D    | `MaxPool(x)`, `kernel_shape [K, K]`, `strides [S, S]` (no padding, `ceil_mode 0`) |
/// | BatchNorm    | `BatchNormalization(x, i.weight, i.bias, i.running_mean, i.running_var)`, `epsilon` = ours; on `[B, F]` (1-D, channel axis 1) or `[B, C, H, W]` |
/// | ReLU         | `Relu`                                                                    |
/// | Flatten      | `Flatten`, `axis = 1` (left out when its input is already `[B, F]`)        |
/// | Dropout      | nothing: the identity at inference                                        |
///
/// Pre-processing is **not** baked into the graph: a model trained on pre-processed data expects
/// `input = (x · scale − mean[c]) / std[c]` (`x` the stored value, `c` its channel or feature,
/// or one mean and std for all); `scale`, `mean` and `std` are written as the metadata
/// properties ``MetadataKey/scale``, ``MetadataKey/normalizationMean`` and
/// ``MetadataKey/normalizationStd`` (comma-separated when per channel) and in the model's and
/// the input's `doc_string`. The spec text goes to ``MetadataKey/model``.
public enum ONNXExport {
    /// Name of the graph's input.
    public static let inputName = "input"
    /// Name of the graph's output.
    public static let outputName = "logits"
    /// The symbolic (`dim_param`) name of the batch dimension of input and output.
    public static let batchDimension = "batch"
    /// Written as `producer_name`.
    public static let producerName = "distillery"

    /// Keys of the `metadata_props` the exporter writes.
    public enum MetadataKey {
        /// The model spec text, e.g. `cnn:1x28x28-c32-p2-fc10,bn`.
        public static let model = "distillery.model"
        /// The mean subtracted from every input value before the model (decimal float).
        public static let normalizationMean = "distillery.normalization.mean"
        /// The value every centred input value is divided by (decimal float).
        public static let normalizationStd = "distillery.normalization.std"
        /// The factor every stored input value is multiplied by first (decimal).
        public static let scale = "distillery.scale"
    }

    /// The input pre-processing a model was trained with: `(x · scale − mean[c]) / std[c]`.
    public struct InputPreprocessing: Sendable, Equatable {
        public var scale: Double?
        public var mean: [Float]
        public var std: [Float]

        public init(scale: Double?, mean: [Float], std: [Float]) {
            self.scale = scale; self.mean = mean; self.std = std
        }

        /// `0.286` or `0.5,0.2` (the text of a checkpoint's metadata).
        static func text(_ values: [Float]) -> String { values.map { "\($0)" }.joined(separator: ",") }
    }

    /// Encodes `model` as an ONNX `ModelProto`.
    /// - Parameters:
    ///   - spec: the model spec text, written as metadata (nil: not written).
    ///   - normalization: the input pre-processing the model was trained with, written as
    ///     metadata and documentation (nil: the model takes raw inputs).
    ///   - opset: version of the default operator set, one of ``ONNXFormat/supportedOpsets``.
    ///   - producerVersion: written as `producer_version` (e.g. Distillery's version).
    /// - Throws: ``ONNXExportError`` for an unsupported opset, a layer with no ONNX form, a
    ///   text with a NUL character, or a model of 2 GiB or more (protobuf's limit).
    public static func model(_ model: Sequential, spec: String?, normalization: InputPreprocessing?,
                             opset: Int = 17, producerVersion: String) throws(ONNXExportError) -> [UInt8] {
        guard ONNXFormat.supportedOpsets.contains(opset) else { throw .unsupportedOpset(opset) }
        var graph = try ExportGraph(model)
        var metadata: [(key: String, value: String)] = []
        var doc = "Distillery model"
        if let spec {
            metadata.append((MetadataKey.model, spec))
            doc += " \(spec)"
        }
        doc += ". Input '\(inputName)': float32 \(shapeText(graph.inputShape)); output '\(outputName)': float32 "
            + "\(shapeText(graph.outputShape)), unnormalised class scores (softmax gives probabilities)."
        if let normalization {
            let mean = InputPreprocessing.text(normalization.mean), std = InputPreprocessing.text(normalization.std)
            metadata.append((MetadataKey.normalizationMean, mean))
            metadata.append((MetadataKey.normalizationStd, std))
            var scaled = "x"
            if let scale = normalization.scale {
                metadata.append((MetadataKey.scale, "\(scale)"))
                scaled = "x * \(scale)"
            }
            let perChannel = normalization.mean.count > 1 ? " per channel (or feature)" : ""
            let rule = "inputs must be pre-processed as (\(scaled) - mean) / std\(perChannel) with mean \(mean), std \(std), "
                + "x being the stored values (metadata \(MetadataKey.normalizationMean), "
                + "\(MetadataKey.normalizationStd)\(normalization.scale == nil ? "" : ", \(MetadataKey.scale)")); the graph does not normalise"
            doc += " The \(rule)."
            graph.inputDoc = "Samples; \(rule)."
        } else {
            graph.inputDoc = "Samples, as the model was trained on them (no normalisation recorded)."
        }
        let header = ExportHeader(opset: opset, producerVersion: producerVersion, doc: doc, metadata: metadata)
        return try withExtendedLifetime(model) { () throws(ONNXExportError) in try ExportProto.pack(graph, header) }
    }

    /// `[batch, 1, 28, 28]`.
    static func shapeText(_ dims: [ExportDim]) -> String {
        "[" + dims.map { d in
            switch d {
            case .value(let n): String(n)
            case .param(let p): p
            }
        }.joined(separator: ", ") + "]"
    }
}

/// Why a model cannot be written as ONNX: what, where, and what to do.
public enum ONNXExportError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The requested opset is outside ``ONNXFormat/supportedOpsets``.
    case unsupportedOpset(Int)
    /// Layer `index` (of kind `kind`) has no ONNX form in this exporter.
    case unsupportedLayer(index: Int, kind: String)
    /// A text written into the model (named by `field`) contains a NUL character.
    case invalidText(field: String)
    /// The encoded model would be `bytes` long, beyond protobuf's 2 GiB limit.
    case tooLarge(bytes: Int)

    public var description: String {
        let opsets = "\(ONNXFormat.supportedOpsets.lowerBound)…\(ONNXFormat.supportedOpsets.upperBound)"
        switch self {
        case .unsupportedOpset(let v):
            return "ONNX export: opset \(v) is not supported; choose one of \(opsets) (17 is the default, what most runtimes expect)"
        case .unsupportedLayer(let index, let kind):
            return "ONNX export: layer \(index) (\(kind)) has no ONNX form; exportable layers are Linear, Conv2D, "
                + "MaxPool2D, BatchNorm, ReLU, Flatten and Dropout — rebuild the model from a spec (mlp:… or cnn:…)"
        case .invalidText(let field):
            return "ONNX export: \(field) contains a NUL character, which protobuf strings cannot carry; remove it"
        case .tooLarge(let bytes):
            return "ONNX export: the model would take \(bytes) bytes, beyond protobuf's 2 GiB limit for one "
                + "ONNX file; export a smaller model"
        }
    }
}

/// One dimension of a graph input or output.
enum ExportDim: Equatable {
    case value(Int)
    case param(String)
}

/// One ONNX node attribute.
enum ExportAttribute {
    case int(String, Int)
    case ints(String, [Int])
    case float(String, Float)
}

/// One node of the chain: `op(inputs) → outputs`.
struct ExportNode {
    var op: String
    var name: String
    var inputs: [String]
    var outputs: [String]
    var attributes: [ExportAttribute]
}

/// An initializer whose values are read in place from the model's arenas while packing.
struct ExportInitializer {
    var name: String
    var shape: [Int]
    var values: UnsafePointer<Float>
    var count: Int { shape.reduce(1, *) }
}

/// Model-level fields: opset, producer, documentation, metadata properties.
struct ExportHeader {
    var opset: Int
    var producerVersion: String
    var doc: String
    var metadata: [(key: String, value: String)]
}

/// The inference graph of a `Sequential` as plain Swift values (see ``ONNXExport`` for the
/// mapping). Initializers point into `model`'s arenas: the model must outlive the packing.
struct ExportGraph {
    var nodes: [ExportNode] = []
    var initializers: [ExportInitializer] = []
    var inputShape: [ExportDim]
    var outputShape: [ExportDim]
    var inputDoc = ""

    init(_ model: Sequential) throws(ONNXExportError) {
        let batch = ExportDim.param(ONNXExport.batchDimension)
        inputShape = [batch] + model.inputShape.map { .value($0) }
        outputShape = [batch] + model.outputShape.map { .value($0) }
        var current = ONNXExport.inputName
        for (i, layer) in model.layers.enumerated() {
            guard let (op, attributes, parameters) = try Self.node(for: layer, index: i) else { continue }
            var inputs = [current]
            for slot in parameters {
                let name = "\(i).\(slot)"
                guard let t = model.tensor(named: name) else { throw .unsupportedLayer(index: i, kind: layer.kind) }
                initializers.append(ExportInitializer(name: name, shape: t.shape, values: UnsafePointer(model.pointer(to: t))))
                inputs.append(name)
            }
            current = "\(i).\(op.lowercased())"
            nodes.append(ExportNode(op: op, name: "\(op)_\(i)", inputs: inputs, outputs: [current], attributes: attributes))
        }
        if nodes.isEmpty {
            nodes.append(ExportNode(op: "Identity", name: "Identity", inputs: [current], outputs: [], attributes: []))
        }
        nodes[nodes.count - 1].outputs = [ONNXExport.outputName]
    }

    /// The node for `layer`: op type, attributes and the layer's tensors in ONNX input order;
    /// nil for a layer that is the identity at inference.
    private static func node(for layer: any Layer, index: Int) throws(ONNXExportError)
        -> (op: String, attributes: [ExportAttribute], parameters: [String])? {
        switch layer {
        case is Linear:
            return ("Gemm", [.int("transB", 1)], ["weight", "bias"])
        case let conv as Conv2D:
            let k = conv.kernel, s = conv.stride, p = conv.padding
            return ("Conv", [.ints("kernel_shape", [k, k]), .ints("strides", [s, s]), .ints("pads", [p, p, p, p]),
                             .ints("dilations", [1, 1]), .int("group", 1)], ["weight", "bias"])
        case let pool as MaxPool2D:
            return ("MaxPool", [.ints("kernel_shape", [pool.kernel, pool.kernel]), .ints("strides", [pool.stride, pool.stride])], [])
        case let bn as BatchNorm:
            return ("BatchNormalization", [.float("epsilon", bn.epsilon)], ["weight", "bias", "running_mean", "running_var"])
        case is ReLU:
            return ("Relu", [], [])
        case let flatten as Flatten:
            return flatten.inputShape.count > 1 ? ("Flatten", [.int("axis", 1)], []) : nil
        case is Dropout:
            return nil
        default:
            throw .unsupportedLayer(index: index, kind: layer.kind)
        }
    }
}
