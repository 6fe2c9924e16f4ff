import FileSupport

/// An ONNX model decoded into Swift values: the graph's inputs and outputs, its nodes with their
/// attributes, and its initializers as typed tensors. Nothing of protobuf-c survives decoding.
///
/// Loading checks the format (a ModelProto with a graph, opsets of the default domain in
/// ``ONNXFormat/supportedOpsets``, nodes of the default domain, no external data, none of the
/// parts Distillery does not read). Whether the graph fits a teacher (one float32 data input, one
/// output) and whether its ops can run is checked when an ``ONNXProgram`` is planned.
public struct ONNXModel: Sendable {
    /// Where the model came from (a path, or a name for in-memory models), used in every error.
    public let source: String
    public let irVersion: Int
    /// Imported operator sets: domain (`""` for the default domain) → version.
    public let opsets: [String: Int]
    public let producerName: String
    public let producerVersion: String
    public let graphName: String
    /// Every graph input, including those that are initializers (older exporters list them).
    public let inputs: [ONNXValueInfo]
    public let outputs: [ONNXValueInfo]
    /// The nodes in file order (not necessarily topological).
    public let nodes: [ONNXNode]
    /// Initializers by name.
    public let initializers: [String: ONNXTensor]

    /// Files larger than this are refused by ``load(path:)``.
    public static let byteLimit = 2 << 30

    /// The graph inputs that are not initializers: the data the caller feeds.
    public var dataInputs: [ONNXValueInfo] { inputs.filter { initializers[$0.name] == nil } }

    /// The default domain's opset version.
    public var opsetVersion: Int { opsets[""] ?? opsets["ai.onnx"] ?? 0 }

    /// Reads and decodes the `.onnx` file at `path` (at most ``byteLimit`` bytes).
    public static func load(path: String) throws(ONNXError) -> ONNXModel {
        let bytes: [UInt8]
        do { bytes = try FileBytes.read(path, limit: byteLimit) } catch { throw .unreadable(source: path, reason: error.reason) }
        return try ONNXModel(bytes: bytes, source: path)
    }

    /// Decodes a serialized ModelProto; `source` names it in errors.
    public init(bytes: [UInt8], source: String) throws(ONNXError) {
        let decoded = try ONNXDecoder(source: source).model(bytes)
        self = decoded
    }

    init(source: String, irVersion: Int, opsets: [String: Int], producerName: String, producerVersion: String,
         graphName: String, inputs: [ONNXValueInfo], outputs: [ONNXValueInfo], nodes: [ONNXNode],
         initializers: [String: ONNXTensor]) {
        self.source = source; self.irVersion = irVersion; self.opsets = opsets
        self.producerName = producerName; self.producerVersion = producerVersion; self.graphName = graphName
        self.inputs = inputs; self.outputs = outputs; self.nodes = nodes; self.initializers = initializers
    }
}

/// One dimension of a declared shape: a number, a named symbol (e.g. `batch_size`), or unknown.
public enum ONNXDim: Equatable, Sendable, CustomStringConvertible {
    case value(Int)
    case param(String)
    case unknown

    public var description: String {
        switch self {
        case let .value(v): return "\(v)"
        case let .param(p): return p
        case .unknown: return "?"
        }
    }
}

/// A graph input or output: name, element type (TensorProto.DataType) and declared shape
/// (nil when the graph declares none).
public struct ONNXValueInfo: Equatable, Sendable, CustomStringConvertible {
    public let name: String
    public let elementType: ONNXDataType
    public let shape: [ONNXDim]?

    public var description: String {
        "\(name): \(elementType)[\(shape.map { $0.map(\.description).joined(separator: ", ") } ?? "?")]"
    }
}

/// TensorProto.DataType values (field numbers of the reference's enum).
public struct ONNXDataType: RawRepresentable, Equatable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }
    public static let float = ONNXDataType(rawValue: 1)
    public static let uint8 = ONNXDataType(rawValue: 2)
    public static let int8 = ONNXDataType(rawValue: 3)
    public static let int32 = ONNXDataType(rawValue: 6)
    public static let int64 = ONNXDataType(rawValue: 7)
    public static let bool = ONNXDataType(rawValue: 9)
    public static let double = ONNXDataType(rawValue: 11)

    static let names: [Int32: String] = [
        0: "undefined", 1: "float32", 2: "uint8", 3: "int8", 4: "uint16", 5: "int16", 6: "int32", 7: "int64",
        8: "string", 9: "bool", 10: "float16", 11: "float64", 12: "uint32", 13: "uint64", 14: "complex64",
        15: "complex128", 16: "bfloat16",
    ]
    public var description: String { Self.names[rawValue] ?? "type \(rawValue)" }
}

/// A node: op type, its input and output value names (an empty input name is an omitted
/// optional input) and attributes by name.
public struct ONNXNode: Sendable {
    public let name: String
    public let opType: String
    public let domain: String
    public let inputs: [String]
    public let outputs: [String]
    public let attributes: [String: ONNXAttribute]

    public init(name: String, opType: String, domain: String = "", inputs: [String], outputs: [String],
                attributes: [String: ONNXAttribute] = [:]) {
        self.name = name; self.opType = opType; self.domain = domain
        self.inputs = inputs; self.outputs = outputs; self.attributes = attributes
    }
}

/// An attribute value (graph-valued attributes are refused at load).
public enum ONNXAttribute: Sendable, Equatable {
    case float(Float)
    case int(Int)
    case string(String)
    case tensor(ONNXTensor)
    case floats([Float])
    case ints([Int])
    case strings([String])
}

/// A constant tensor (initializer, Constant value or test datum): dims and elements.
/// Float32 elements are kept as Float; integer and boolean types widen to Int64 (the element
/// type is kept in `dataType`).
public struct ONNXTensor: Sendable, Equatable {
    public enum Elements: Sendable, Equatable {
        case float([Float])
        case int64([Int64])
    }
    public let name: String
    public let dataType: ONNXDataType
    public let shape: [Int]
    public let elements: Elements

    public init(name: String, shape: [Int], floats: [Float]) {
        precondition(shape.reduce(1, *) == floats.count, "ONNXTensor \(name): \(floats.count) floats for shape \(shape)")
        self.name = name; dataType = .float; self.shape = shape; elements = .float(floats)
    }

    public init(name: String, shape: [Int], int64s: [Int64], dataType: ONNXDataType = .int64) {
        precondition(shape.reduce(1, *) == int64s.count, "ONNXTensor \(name): \(int64s.count) integers for shape \(shape)")
        self.name = name; self.dataType = dataType; self.shape = shape; elements = .int64(int64s)
    }

    public var count: Int { shape.reduce(1, *) }

    /// The elements as floats (integers converted).
    public var floats: [Float] {
        switch elements {
        case let .float(v): return v
        case let .int64(v): return v.map { Float($0) }
        }
    }

    /// The elements as integers (nil for float tensors).
    public var int64s: [Int64]? {
        if case let .int64(v) = elements { return v }
        return nil
    }
}
