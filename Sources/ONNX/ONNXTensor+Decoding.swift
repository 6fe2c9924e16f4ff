internal import OnnxProtoC

extension ONNXTensor {
    /// Decodes a serialized TensorProto (e.g. the backend test data's `input_0.pb`).
    public init(tensorProtoBytes bytes: [UInt8], source: String) throws(ONNXError) {
        let unpacked = bytes.withUnsafeBufferPointer { onnx__tensor_proto__unpack(nil, $0.count, $0.baseAddress) }
        guard let proto = unpacked else {
            throw .notONNX(source: source, reason: "the bytes do not decode as an ONNX TensorProto")
        }
        defer { onnx__tensor_proto__free_unpacked(proto, nil) }
        self = try ONNXDecoder(source: source).tensor(proto, at: "tensor")
    }
}

extension ONNXDecoder {
    /// Element types read, with their byte size in `raw_data` (little-endian).
    static let rawSizes: [Int32: Int] = [1: 4, 2: 1, 3: 1, 4: 2, 5: 2, 6: 4, 7: 8, 9: 1]

    /// A TensorProto as a typed tensor: float32 from `raw_data` or `float_data`; integer and
    /// boolean types from `raw_data`, `int64_data` or `int32_data`, widened to Int64.
    func tensor(_ p: UnsafeMutablePointer<Onnx__TensorProto>, at role: String) throws(ONNXError) -> ONNXTensor {
        let t = p.pointee
        let name = string(t.name)
        let location = "\(role) \"\(name)\""
        try checkUnknown(t.base, "TensorProto", at: location)
        if (t.has_data_location != 0 && t.data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL) || t.n_external_data > 0 {
            throw .externalData(source: source, tensor: name)
        }
        let shape = (0..<t.n_dims).map { Int(t.dims[$0]) }
        guard shape.allSatisfy({ $0 >= 0 }) else {
            throw .invalid(source: source, location: location, reason: "negative dimension in \(shape)")
        }
        let count = shape.reduce(1, *)
        let type = ONNXDataType(rawValue: t.has_data_type != 0 ? t.data_type : 0)
        guard let size = Self.rawSizes[type.rawValue] else {
            throw .invalid(source: source, location: location,
                           reason: "element type \(type) is not supported (float32 and integer/bool tensors are); "
                               + "export the model in float32 (model.float())")
        }
        func mismatch(_ found: Int, _ field: String) -> ONNXError {
            .invalid(source: source, location: location, reason: "\(found) elements in \(field) for dims \(shape) (\(count) elements)")
        }
        if t.has_raw_data != 0 {
            let raw = UnsafeRawBufferPointer(start: t.raw_data.data, count: t.raw_data.len)
            guard raw.count == count * size else { throw mismatch(raw.count / size, "raw_data") }
            if type == .float {
                let floats = (0..<count).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) }
                return ONNXTensor(name: name, shape: shape, floats: floats)
            }
            let ints: [Int64] = (0..<count).map { i in
                switch type.rawValue {
                case 2, 9: return Int64(raw[i])
                case 3: return Int64(Int8(bitPattern: raw[i]))
                case 4: return Int64(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)))
                case 5: return Int64(Int16(littleEndian: raw.loadUnaligned(fromByteOffset: i * 2, as: Int16.self)))
                case 6: return Int64(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: i * 4, as: Int32.self)))
                default: return Int64(littleEndian: raw.loadUnaligned(fromByteOffset: i * 8, as: Int64.self))
                }
            }
            return ONNXTensor(name: name, shape: shape, int64s: ints, dataType: type)
        }
        if type == .float {
            guard t.n_float_data == count else { throw mismatch(t.n_float_data, "float_data") }
            return ONNXTensor(name: name, shape: shape, floats: Array(UnsafeBufferPointer(start: t.float_data, count: count)))
        }
        if type == .int64 {
            guard t.n_int64_data == count else { throw mismatch(t.n_int64_data, "int64_data") }
            return ONNXTensor(name: name, shape: shape, int64s: Array(UnsafeBufferPointer(start: t.int64_data, count: count)))
        }
        guard t.n_int32_data == count else { throw mismatch(t.n_int32_data, "int32_data") }
        return ONNXTensor(name: name, shape: shape, int64s: (0..<count).map { Int64(t.int32_data[$0]) }, dataType: type)
    }
}
