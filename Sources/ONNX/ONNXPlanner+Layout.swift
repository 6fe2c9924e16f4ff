extension ONNXPlanner {
    /// Constant, Identity, Dropout, Cast, Shape and the ops that move data without arithmetic.
    mutating func planLayout(_ node: ONNXNode, _ index: Int, _ x: [Int]) throws(ONNXError) {
        switch node.opType {
        case "Constant":
            define(node, try constantValue(node))
        case "Identity":
            try alias(node, shape: x)
        case "Dropout":
            if node.outputs.count > 1 && !node.outputs[1].isEmpty { throw unsupported(node, "the mask output is not supported") }
            if shape(node, 2) != nil {
                guard let mode = constant(node, 2) else { throw unsupported(node, "training_mode must be a constant") }
                if mode.floats.contains(where: { $0 != 0 }) { throw unsupported(node, "training_mode=true is not supported; export in eval mode") }
            }
            try alias(node, shape: x)
        case "Cast":
            let to = ONNXDataType(rawValue: Int32(attrInt(node, "to", 0)))
            if let t = constant(node, 0) {
                switch to {
                case .float: define(node, ONNXTensor(name: node.outputs[0], shape: t.shape, floats: t.floats))
                case .int64, .int32, .int8, .uint8, .bool:
                    let ints = t.int64s ?? t.floats.map { Int64($0) }
                    define(node, ONNXTensor(name: node.outputs[0], shape: t.shape, int64s: to == .bool ? ints.map { $0 != 0 ? 1 : 0 } : ints, dataType: to))
                default: throw unsupported(node, "cast to \(to) is not supported")
                }
            } else {
                guard to == .float else { throw unsupported(node, "cast of a run-time value to \(to) (only float32 runs)") }
                try alias(node, shape: x)
            }
        case "Shape":
            let rank = x.count
            func clamp(_ v: Int) -> Int { min(max(v < 0 ? v + rank : v, 0), rank) }
            let start = clamp(attrInt(node, "start", 0)), end = clamp(attrInt(node, "end", rank))
            let dims = start < end ? Array(x[start..<end]) : []
            define(node, ONNXTensor(name: node.outputs[0], shape: [dims.count], int64s: dims.map { Int64($0) }))
        case "Reshape":
            try alias(node, shape: try reshaped(node, x))
        case "Flatten":
            let a = attrInt(node, "axis", 1), r = a < 0 ? a + x.count : a
            guard r >= 0 && r <= x.count else { throw shapeError(node, "axis \(a) is out of range for rank \(x.count)") }
            try alias(node, shape: [x[..<r].reduce(1, *), x[r...].reduce(1, *)])
        case "Squeeze":
            let axes = try constantInts(node, 1, "axes")
            var out: [Int] = []
            let normalized = try (axes ?? []).map { (a) throws(ONNXError) in try axis(node, a, rank: x.count) }
            for (i, d) in x.enumerated() {
                if axes == nil ? d == 1 : normalized.contains(i) {
                    guard d == 1 else { throw shapeError(node, "axis \(i) has size \(d), not 1") }
                    continue
                }
                out.append(d)
            }
            try alias(node, shape: out)
        case "Unsqueeze":
            guard let axes = try constantInts(node, 1, "axes") else { throw shapeError(node, "axes input is missing") }
            let rank = x.count + axes.count
            let normalized = try axes.map { (a) throws(ONNXError) in try axis(node, a, rank: rank) }
            var out: [Int] = [], rest = x[...]
            for i in 0..<rank { out.append(normalized.contains(i) ? 1 : rest.popFirst() ?? 1) }
            try alias(node, shape: out)
        case "Concat":
            let shapes = (0..<node.inputs.count).compactMap { shape(node, $0) }
            let a = try axis(node, attrInt(node, "axis", 0), rank: x.count)
            for s in shapes where s.count != x.count || (0..<x.count).contains(where: { $0 != a && s[$0] != x[$0] }) {
                throw shapeError(node, "input shapes \(shapes) differ outside axis \(a)")
            }
            var out = x
            out[a] = shapes.reduce(0) { $0 + $1[a] }
            try emit(node, index, .concat(axis: a), inputs: Array(0..<node.inputs.count), shape: out)
        case "Gather":
            let a = try axis(node, attrInt(node, "axis", 0), rank: x.count)
            guard let indices = try constantInts(node, 1, "indices"), let indexShape = shape(node, 1) else {
                throw shapeError(node, "indices input is missing")
            }
            let normalized = indices.map { $0 < 0 ? $0 + x[a] : $0 }
            if let bad = normalized.first(where: { $0 < 0 || $0 >= x[a] }) {
                throw shapeError(node, "index \(bad) is out of range for axis \(a) of size \(x[a])")
            }
            try emit(node, index, .gather(axis: a, indices: normalized), inputs: [0], shape: Array(x[..<a]) + indexShape + Array(x[(a + 1)...]))
        case "Transpose":
            let perm = attrInts(node, "perm") ?? Array((0..<x.count).reversed())
            guard perm.sorted() == Array(0..<x.count) else { throw shapeError(node, "perm \(perm) is not a permutation of 0..<\(x.count)") }
            if probe != nil, perm.first != 0, case .runtime? = entries[node.inputs[0]] {
                throw unsupported(node, "perm \(perm) moves the batch axis")
            }
            try emit(node, index, .transpose(perm), inputs: [0], shape: perm.map { x[$0] })
        case "Pad":
            let mode = attrString(node, "mode", "constant")
            guard mode == "constant" else { throw unsupported(node, "mode=\(mode) is not supported (only constant)") }
            guard let given = try constantInts(node, 1, "pads") else { throw shapeError(node, "pads input is missing") }
            let axes = try (constantInts(node, 3, "axes") ?? Array(0..<x.count)).map { (a) throws(ONNXError) in try axis(node, a, rank: x.count) }
            guard given.count == 2 * axes.count else { throw shapeError(node, "pads has \(given.count) values for \(axes.count) axes") }
            var pads = [Int](repeating: 0, count: 2 * x.count)
            for (i, a) in axes.enumerated() { pads[a] = given[i]; pads[a + x.count] = given[i + axes.count] }
            if shape(node, 2) != nil && constant(node, 2) == nil { throw unsupported(node, "constant_value must be a constant") }
            let value = constant(node, 2)?.floats.first ?? 0
            let out = (0..<x.count).map { x[$0] + pads[$0] + pads[$0 + x.count] }
            guard out.allSatisfy({ $0 >= 0 }) else { throw shapeError(node, "pads \(given) crop below zero: \(out)") }
            try emit(node, index, .pad(pads, value: value), inputs: [0], shape: out)
        default:
            throw unsupported(node, "op type \(node.opType) is not supported")
        }
    }

    /// The value of a Constant node.
    func constantValue(_ node: ONNXNode) throws(ONNXError) -> ONNXTensor {
        let name = node.outputs[0]
        switch node.attributes.first(where: { $0.key.hasPrefix("value") || $0.key == "sparse_value" }) {
        case let (_, .tensor(t))?:
            switch t.elements {
            case let .float(v): return ONNXTensor(name: name, shape: t.shape, floats: v)
            case let .int64(v): return ONNXTensor(name: name, shape: t.shape, int64s: v, dataType: t.dataType)
            }
        case let ("value_float", .float(v))?: return ONNXTensor(name: name, shape: [], floats: [v])
        case let ("value_floats", .floats(v))?: return ONNXTensor(name: name, shape: [v.count], floats: v)
        case let ("value_int", .int(v))?: return ONNXTensor(name: name, shape: [], int64s: [Int64(v)])
        case let ("value_ints", .ints(v))?: return ONNXTensor(name: name, shape: [v.count], int64s: v.map { Int64($0) })
        case let (key, _)?: throw unsupported(node, "attribute \(key) is not supported (value, value_float(s), value_int(s) are)")
        case nil: throw shapeError(node, "has no value attribute")
        }
    }

    /// Reshape's output shape: 0 copies the input's dimension (allowzero=0), −1 takes the rest.
    /// A fixed batch N of the graph input in the target's first place stands for the batch.
    func reshaped(_ node: ONNXNode, _ x: [Int]) throws(ONNXError) -> [Int] {
        guard var target = try constantInts(node, 1, "shape") else { throw shapeError(node, "shape input is missing") }
        if let probe, let fixedBatch, case .runtime? = entries[node.inputs[0]], x.first == probe, target.first == fixedBatch {
            target[0] = probe
        }
        let allowZero = attrInt(node, "allowzero", 0) != 0
        var out = target.enumerated().map { i, d in d == 0 && !allowZero && i < x.count ? x[i] : d }
        let total = x.reduce(1, *)
        let known = out.filter { $0 != -1 }.reduce(1, *)
        if let i = out.firstIndex(of: -1) {
            guard out.filter({ $0 == -1 }).count == 1, known > 0, total % known == 0 else {
                throw shapeError(node, "cannot reshape \(x) to \(target)")
            }
            out[i] = total / known
        }
        guard out.reduce(1, *) == total, out.allSatisfy({ $0 >= 0 }) else { throw shapeError(node, "cannot reshape \(x) to \(target)") }
        return out
    }
}
