internal import OnnxProtoC

/// Memory for the protobuf-c structs of one model being packed: every struct, string and
/// array lives until the arena is released, after `pack`, which frees them together.
/// protobuf-c's `pack` only reads them, so nothing here is handed to `free_unpacked`.
final class ExportArena {
    private var blocks: [UnsafeMutableRawPointer] = []

    deinit {
        for block in blocks { block.deallocate() }
    }

    /// Zeroed memory for `count` (at least one) values of the trivial C type `T`.
    func allocate<T>(_: T.Type, count: Int) -> UnsafeMutablePointer<T> {
        let bytes = max(1, count) * MemoryLayout<T>.stride
        let raw = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: max(16, MemoryLayout<T>.alignment))
        raw.initializeMemory(as: UInt8.self, repeating: 0, count: bytes)
        blocks.append(raw)
        return raw.bindMemory(to: T.self, capacity: max(1, count))
    }

    /// A C message struct set up by its protobuf-c `__init` function (descriptor, defaults).
    func message<T>(_ initialize: (UnsafeMutablePointer<T>?) -> Void) -> UnsafeMutablePointer<T> {
        let p = allocate(T.self, count: 1)
        initialize(p)
        return p
    }

    /// A NUL-terminated copy of `text`; a NUL inside it is refused (protobuf-c would cut there).
    func string(_ text: String, _ field: @autoclosure () -> String) throws(ONNXExportError) -> UnsafeMutablePointer<CChar> {
        let utf8 = Array(text.utf8)
        guard !utf8.contains(0) else { throw .invalidText(field: field()) }
        let p = allocate(CChar.self, count: utf8.count + 1)
        for (i, byte) in utf8.enumerated() { p[i] = CChar(bitPattern: byte) }
        return p
    }

    /// A count and a copy of `values` (nil when empty), as protobuf-c's repeated fields want.
    func list<T>(_ values: [T]) -> (Int, UnsafeMutablePointer<T>?) {
        guard !values.isEmpty else { return (0, nil) }
        let p = allocate(T.self, count: values.count)
        for (i, v) in values.enumerated() { p[i] = v }
        return (values.count, p)
    }

    /// A repeated message or string field: a count and an array of the pointers.
    func pointers<T>(_ items: [UnsafeMutablePointer<T>]) -> (Int, UnsafeMutablePointer<UnsafeMutablePointer<T>?>?) {
        list(items.map { Optional($0) })
    }
}

/// Builds an `Onnx__ModelProto` from an ``ExportGraph`` in an ``ExportArena`` and packs it.
enum ExportProto {
    static func pack(_ graph: ExportGraph, _ header: ExportHeader) throws(ONNXExportError) -> [UInt8] {
        let arena = ExportArena()
        let model: UnsafeMutablePointer<Onnx__ModelProto> = arena.message(onnx__model_proto__init)
        model.pointee.has_ir_version = 1
        model.pointee.ir_version = Int64(ONNXFormat.writtenIRVersion)
        let opset: UnsafeMutablePointer<Onnx__OperatorSetIdProto> = arena.message(onnx__operator_set_id_proto__init)
        opset.pointee.domain = try arena.string("", "opset domain")
        opset.pointee.has_version = 1
        opset.pointee.version = Int64(header.opset)
        (model.pointee.n_opset_import, model.pointee.opset_import) = arena.pointers([opset])
        model.pointee.producer_name = try arena.string(ONNXExport.producerName, "producer name")
        model.pointee.producer_version = try arena.string(header.producerVersion, "producer version")
        var entries: [UnsafeMutablePointer<Onnx__StringStringEntryProto>] = []
        for (key, value) in header.metadata {
            let entry: UnsafeMutablePointer<Onnx__StringStringEntryProto> = arena.message(onnx__string_string_entry_proto__init)
            entry.pointee.key = try arena.string(key, "metadata key \(key)")
            entry.pointee.value = try arena.string(value, "metadata \(key)")
            entries.append(entry)
        }
        (model.pointee.n_metadata_props, model.pointee.metadata_props) = arena.pointers(entries)
        model.pointee.doc_string = try arena.string(header.doc, "the model's doc_string (it quotes the spec)")
        model.pointee.graph = try self.graph(graph, arena)

        let size = onnx__model_proto__get_packed_size(model)
        guard size < Int(Int32.max) else { throw .tooLarge(bytes: size) }
        var bytes = [UInt8](repeating: 0, count: size)
        let written = bytes.withUnsafeMutableBufferPointer { onnx__model_proto__pack(model, $0.baseAddress) }
        precondition(written == size, "protobuf-c packed \(written) bytes of \(size)")
        return bytes
    }

    private static func graph(_ g: ExportGraph, _ arena: ExportArena) throws(ONNXExportError) -> UnsafeMutablePointer<Onnx__GraphProto> {
        let graph: UnsafeMutablePointer<Onnx__GraphProto> = arena.message(onnx__graph_proto__init)
        graph.pointee.name = try arena.string(ONNXExport.producerName, "graph name")
        var nodes: [UnsafeMutablePointer<Onnx__NodeProto>] = []
        for n in g.nodes { nodes.append(try node(n, arena)) }
        (graph.pointee.n_node, graph.pointee.node) = arena.pointers(nodes)
        var tensors: [UnsafeMutablePointer<Onnx__TensorProto>] = []
        for t in g.initializers { tensors.append(try tensor(t, arena)) }
        (graph.pointee.n_initializer, graph.pointee.initializer) = arena.pointers(tensors)
        let input = try valueInfo(ONNXExport.inputName, g.inputShape, doc: g.inputDoc, arena)
        (graph.pointee.n_input, graph.pointee.input) = arena.pointers([input])
        let output = try valueInfo(ONNXExport.outputName, g.outputShape, doc: "Unnormalised class scores.", arena)
        (graph.pointee.n_output, graph.pointee.output) = arena.pointers([output])
        return graph
    }

    private static func node(_ n: ExportNode, _ arena: ExportArena) throws(ONNXExportError) -> UnsafeMutablePointer<Onnx__NodeProto> {
        let node: UnsafeMutablePointer<Onnx__NodeProto> = arena.message(onnx__node_proto__init)
        node.pointee.name = try arena.string(n.name, "node name")
        node.pointee.op_type = try arena.string(n.op, "op type")
        var inputs: [UnsafeMutablePointer<CChar>] = []
        for name in n.inputs { inputs.append(try arena.string(name, "input of node \(n.name)")) }
        (node.pointee.n_input, node.pointee.input) = arena.pointers(inputs)
        var outputs: [UnsafeMutablePointer<CChar>] = []
        for name in n.outputs { outputs.append(try arena.string(name, "output of node \(n.name)")) }
        (node.pointee.n_output, node.pointee.output) = arena.pointers(outputs)
        var attributes: [UnsafeMutablePointer<Onnx__AttributeProto>] = []
        for a in n.attributes { attributes.append(try attribute(a, arena)) }
        (node.pointee.n_attribute, node.pointee.attribute) = arena.pointers(attributes)
        return node
    }

    private static func attribute(_ a: ExportAttribute, _ arena: ExportArena) throws(ONNXExportError)
        -> UnsafeMutablePointer<Onnx__AttributeProto> {
        let attr: UnsafeMutablePointer<Onnx__AttributeProto> = arena.message(onnx__attribute_proto__init)
        attr.pointee.has_type = 1
        switch a {
        case .int(let name, let value):
            attr.pointee.name = try arena.string(name, "attribute name")
            attr.pointee.type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT
            attr.pointee.has_i = 1
            attr.pointee.i = Int64(value)
        case .ints(let name, let values):
            attr.pointee.name = try arena.string(name, "attribute name")
            attr.pointee.type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS
            (attr.pointee.n_ints, attr.pointee.ints) = arena.list(values.map(Int64.init))
        case .float(let name, let value):
            attr.pointee.name = try arena.string(name, "attribute name")
            attr.pointee.type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT
            attr.pointee.has_f = 1
            attr.pointee.f = value
        }
        return attr
    }

    /// A float32 initializer; `raw_data` holds the values little-endian (copied into the arena).
    private static func tensor(_ t: ExportInitializer, _ arena: ExportArena) throws(ONNXExportError)
        -> UnsafeMutablePointer<Onnx__TensorProto> {
        let tensor: UnsafeMutablePointer<Onnx__TensorProto> = arena.message(onnx__tensor_proto__init)
        tensor.pointee.name = try arena.string(t.name, "initializer name")
        (tensor.pointee.n_dims, tensor.pointee.dims) = arena.list(t.shape.map(Int64.init))
        tensor.pointee.has_data_type = 1
        tensor.pointee.data_type = Int32(ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT.rawValue)
        let words = arena.allocate(UInt32.self, count: t.count)
        for i in 0..<t.count { words[i] = t.values[i].bitPattern.littleEndian }
        tensor.pointee.has_raw_data = 1
        tensor.pointee.raw_data = ProtobufCBinaryData(
            len: t.count * 4, data: UnsafeMutableRawPointer(words).assumingMemoryBound(to: UInt8.self))
        return tensor
    }

    /// A float32 tensor value: its name, shape (`dim_value` or `dim_param` per dimension) and doc.
    private static func valueInfo(_ name: String, _ dims: [ExportDim], doc: String, _ arena: ExportArena) throws(ONNXExportError)
        -> UnsafeMutablePointer<Onnx__ValueInfoProto> {
        var dimensions: [UnsafeMutablePointer<Onnx__TensorShapeProto__Dimension>] = []
        for d in dims {
            let dim: UnsafeMutablePointer<Onnx__TensorShapeProto__Dimension> = arena.message(onnx__tensor_shape_proto__dimension__init)
            switch d {
            case .value(let n):
                dim.pointee.value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE
                dim.pointee.dim_value = Int64(n)
            case .param(let p):
                dim.pointee.value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM
                dim.pointee.dim_param = try arena.string(p, "dimension name")
            }
            dimensions.append(dim)
        }
        let shape: UnsafeMutablePointer<Onnx__TensorShapeProto> = arena.message(onnx__tensor_shape_proto__init)
        (shape.pointee.n_dim, shape.pointee.dim) = arena.pointers(dimensions)
        let tensorType: UnsafeMutablePointer<Onnx__TypeProto__Tensor> = arena.message(onnx__type_proto__tensor__init)
        tensorType.pointee.has_elem_type = 1
        tensorType.pointee.elem_type = Int32(ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT.rawValue)
        tensorType.pointee.shape = shape
        let type: UnsafeMutablePointer<Onnx__TypeProto> = arena.message(onnx__type_proto__init)
        type.pointee.value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE
        type.pointee.tensor_type = tensorType
        let info: UnsafeMutablePointer<Onnx__ValueInfoProto> = arena.message(onnx__value_info_proto__init)
        info.pointee.name = try arena.string(name, "value name")
        info.pointee.type = type
        info.pointee.doc_string = try arena.string(doc, "documentation of \(name)")
        return info
    }
}
