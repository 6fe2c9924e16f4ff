internal import OnnxProtoC

/// protoc-c structs → ONNX value types, with the format checks of ``ONNXModel/init(bytes:source:)``.
/// Unknown fields protobuf-c kept on a message name the part of the format Distillery does not
/// read; metadata_props (annotations only) are ignored.
struct ONNXDecoder {
    let source: String

    /// Field numbers of the reference onnx.proto left out of Protos/onnx.proto, by message.
    static let unknownFieldNames: [String: [UInt32: String]] = [
        "ModelProto": [20: "training_info", 25: "functions", 26: "configuration"],
        "GraphProto": [14: "quantization_annotation", 15: "sparse_initializer"],
        "NodeProto": [8: "overload", 10: "device_configurations"],
        "AttributeProto": [14: "tp (type proto)", 15: "type_protos", 22: "sparse_tensor", 23: "sparse_tensors"],
        "TensorProto": [3: "segment (split tensors)"],
        "TypeProto": [4: "sequence_type", 5: "map_type", 8: "sparse_tensor_type", 9: "optional_type"],
    ]
    /// metadata_props fields: annotations that do not change what the graph computes.
    static let ignoredFields: [String: Set<UInt32>] = [
        "GraphProto": [16], "NodeProto": [9], "TensorProto": [16], "ValueInfoProto": [4],
    ]

    func model(_ bytes: [UInt8]) throws(ONNXError) -> ONNXModel {
        let unpacked = bytes.withUnsafeBufferPointer { onnx__model_proto__unpack(nil, $0.count, $0.baseAddress) }
        guard let proto = unpacked else {
            throw .notONNX(source: source, reason: "the bytes do not decode as an ONNX ModelProto")
        }
        defer { onnx__model_proto__free_unpacked(proto, nil) }
        let m = proto.pointee
        try checkUnknown(m.base, "ModelProto", at: "the model")
        guard let g = m.graph?.pointee else { throw .noGraph(source: source) }
        var opsets: [String: Int] = [:]
        for i in 0..<m.n_opset_import {
            let o = m.opset_import[i]!.pointee
            opsets[string(o.domain)] = o.has_version != 0 ? Int(o.version) : 1
        }
        let defaultVersion = opsets[""] ?? opsets["ai.onnx"]
        guard let defaultVersion, ONNXFormat.supportedOpsets.contains(defaultVersion) else {
            throw .opset(source: source, domain: "", version: defaultVersion)
        }
        try checkUnknown(g.base, "GraphProto", at: "the graph")
        var initializers: [String: ONNXTensor] = [:]
        for i in 0..<g.n_initializer {
            let t = try tensor(g.initializer[i]!, at: "initializer")
            initializers[t.name] = t
        }
        let nodes = try (0..<g.n_node).map { (i) throws(ONNXError) in try node(g.node[i]!.pointee, index: i) }
        let inputs = try (0..<g.n_input).map { (i) throws(ONNXError) in try valueInfo(g.input[i]!.pointee, "graph input") }
        let outputs = try (0..<g.n_output).map { (i) throws(ONNXError) in try valueInfo(g.output[i]!.pointee, "graph output") }
        return ONNXModel(
            source: source, irVersion: m.has_ir_version != 0 ? Int(m.ir_version) : 0, opsets: opsets,
            producerName: string(m.producer_name), producerVersion: string(m.producer_version),
            graphName: string(g.name), inputs: inputs, outputs: outputs, nodes: nodes, initializers: initializers)
    }

    func node(_ n: Onnx__NodeProto, index: Int) throws(ONNXError) -> ONNXNode {
        let opType = string(n.op_type)
        let name = n.name.map { String(cString: $0) } ?? "#\(index) \(opType)"
        let location = "node \"\(name)\" (\(opType))"
        try checkUnknown(n.base, "NodeProto", at: location)
        let domain = string(n.domain)
        guard domain.isEmpty || domain == "ai.onnx" else {
            throw .unsupportedNodes(source: source, nodes: [ONNXUnsupportedNode(
                name: name, opType: opType, domain: domain,
                reason: "domain \"\(domain)\" is not supported (only the default domain ai.onnx)")])
        }
        var attributes: [String: ONNXAttribute] = [:]
        for i in 0..<n.n_attribute {
            let a = n.attribute[i]!.pointee
            let attributeName = string(a.name)
            attributes[attributeName] = try attribute(a, at: "\(location), attribute \"\(attributeName)\"")
        }
        return ONNXNode(name: name, opType: opType, domain: "",
                        inputs: (0..<n.n_input).map { string(n.input[$0]) },
                        outputs: (0..<n.n_output).map { string(n.output[$0]) }, attributes: attributes)
    }

    func attribute(_ a: Onnx__AttributeProto, at location: String) throws(ONNXError) -> ONNXAttribute {
        try checkUnknown(a.base, "AttributeProto", at: location)
        if a.g != nil || a.n_graphs > 0 {
            throw .unsupportedFeature(source: source, location: location, feature: "a subgraph (control flow: If, Loop, Scan)")
        }
        if a.ref_attr_name != nil {
            throw .unsupportedFeature(source: source, location: location, feature: "a reference to a function attribute")
        }
        let type = a.has_type != 0 ? Int(a.type.rawValue) : -1
        switch type {
        case 1: return .float(a.f)
        case 2: return .int(Int(a.i))
        case 3: return .string(bytesString(a.s))
        case 4:
            guard let t = a.t else { throw .invalid(source: source, location: location, reason: "a TENSOR attribute without a tensor") }
            return .tensor(try tensor(t, at: location))
        case 6: return .floats(Array(UnsafeBufferPointer(start: a.floats, count: a.n_floats)))
        case 7: return .ints(UnsafeBufferPointer(start: a.ints, count: a.n_ints).map { Int($0) })
        case 8: return .strings((0..<a.n_strings).map { bytesString(a.strings[$0]) })
        default:
            // Untyped attributes (very old exporters): infer from the field that is set.
            if a.has_f != 0 { return .float(a.f) }
            if a.has_i != 0 { return .int(Int(a.i)) }
            if a.n_ints > 0 { return .ints(UnsafeBufferPointer(start: a.ints, count: a.n_ints).map { Int($0) }) }
            if a.n_floats > 0 { return .floats(Array(UnsafeBufferPointer(start: a.floats, count: a.n_floats))) }
            throw .invalid(source: source, location: location,
                           reason: "attribute type \(type) is not read (float, int, string, tensor, floats, ints, strings are)")
        }
    }

    func valueInfo(_ v: Onnx__ValueInfoProto, _ role: String) throws(ONNXError) -> ONNXValueInfo {
        let name = string(v.name)
        let location = "\(role) \"\(name)\""
        try checkUnknown(v.base, "ValueInfoProto", at: location)
        guard let type = v.type else { return ONNXValueInfo(name: name, elementType: ONNXDataType(rawValue: 0), shape: nil) }
        try checkUnknown(type.pointee.base, "TypeProto", at: location)
        guard type.pointee.value_case == ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE, let t = type.pointee.tensor_type?.pointee else {
            throw .unsupportedFeature(source: source, location: location, feature: "a value that is not a tensor")
        }
        let elementType = ONNXDataType(rawValue: t.has_elem_type != 0 ? t.elem_type : 0)
        guard let shape = t.shape?.pointee else { return ONNXValueInfo(name: name, elementType: elementType, shape: nil) }
        let dims: [ONNXDim] = (0..<shape.n_dim).map { i in
            let d = shape.dim[i]!.pointee
            switch d.value_case {
            case ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE: return .value(Int(d.dim_value))
            case ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM: return .param(string(d.dim_param))
            default: return .unknown
            }
        }
        return ONNXValueInfo(name: name, elementType: elementType, shape: dims)
    }

    /// Refuses unknown fields protobuf-c kept, naming the reference's field when known.
    func checkUnknown(_ base: ProtobufCMessage, _ message: String, at location: String) throws(ONNXError) {
        guard base.n_unknown_fields > 0 else { return }
        let ignored = Self.ignoredFields[message] ?? []
        let tags = (0..<Int(base.n_unknown_fields)).map { base.unknown_fields[$0].tag }.filter { !ignored.contains($0) }
        guard let tag = tags.first else { return }
        let name = Self.unknownFieldNames[message]?[tag] ?? "field \(tag)"
        throw .unsupportedFeature(source: source, location: location, feature: "\(message).\(name)")
    }

    func string(_ p: UnsafeMutablePointer<CChar>?) -> String { p.map { String(cString: $0) } ?? "" }

    func bytesString(_ b: ProtobufCBinaryData) -> String {
        String(decoding: UnsafeBufferPointer(start: b.data, count: b.len), as: UTF8.self)
    }
}
