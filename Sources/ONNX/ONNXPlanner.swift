/// Plans a graph for given input shapes: orders the nodes, infers every value's shape, folds
/// what depends only on constants (initializers, Constant nodes, Shape of a runtime value) and
/// turns the rest into kernel steps. Unsupported nodes are collected in `unsupported` (their
/// consumers skipped), not thrown one by one; the caller refuses them together.
///
/// A teacher's program is planned twice, with two probe batch sizes, and compared (see
/// ``ONNXProgram``): values whose shapes follow the probe in axis 0 are batched.
struct ONNXPlanner {
    /// What a value name stands for while planning.
    enum Entry {
        case constant(ONNXTensor)
        case runtime(Int)
        /// Output of an unsupported node: its consumers are skipped, not reported again.
        case unavailable
    }
    /// An operand of a step.
    enum Operand: Equatable { case value(Int), constant(Int) }

    struct Value {
        var shape: [Int]
        /// Index of the buffer holding it (reshapes share their input's buffer).
        var storage: Int
        /// The node that produced it (-1: a graph input).
        var node: Int
    }

    struct Step {
        let node: Int
        let kernel: ONNXKernel
        let inputs: [Operand]
        let output: Int
        /// Nodes fused into this step after `node` (see ``fuse()``).
        var fused: [Int] = []
    }

    let model: ONNXModel
    /// Batch size substituted for a fixed batch dimension `fixedBatch` in Reshape targets.
    let probe: Int?
    let fixedBatch: Int?
    var entries: [String: Entry] = [:]
    var values: [Value] = []
    var steps: [Step] = []
    var constants: [ONNXTensor] = []
    var storageCount = 0
    var unsupported: [ONNXUnsupportedNode] = []
    var scratch = ONNXKernel.Scratch()

    var source: String { model.source }

    /// Plans `model` with runtime float inputs of the given full shapes and plan-time constant inputs.
    init(model: ONNXModel, runtimeInputs: [(String, [Int])], constants bound: [String: ONNXTensor],
         probe: Int?, fixedBatch: Int?) throws(ONNXError) {
        self.model = model; self.probe = probe; self.fixedBatch = fixedBatch
        for (name, tensor) in model.initializers { entries[name] = .constant(tensor) }
        for (name, tensor) in bound { entries[name] = .constant(tensor) }
        for (name, shape) in runtimeInputs {
            values.append(Value(shape: shape, storage: storageCount, node: -1))
            storageCount += 1
            entries[name] = .runtime(values.count - 1)
        }
        for index in try order() {
            let node = model.nodes[index]
            if node.inputs.contains(where: { if case .unavailable? = entries[$0] { return true }; return false }) {
                for output in node.outputs { entries[output] = .unavailable }
                continue
            }
            do {
                try plan(node, index)
            } catch let error {
                guard case let .unsupportedNodes(_, nodes) = error else { throw error }
                unsupported += nodes
                for output in node.outputs { entries[output] = .unavailable }
            }
        }
        fuse()
    }

    /// Folds a BatchNormalization (constant parameters) and then a Relu into the Conv step whose
    /// output only they read (not a graph output, no other reader, also through a reshape): the
    /// conv applies them to each channel's rows while they are in cache
    /// (``Conv2DKernel/infer(_:weight:bias:norm:relu:_:batch:cols:)``), with the same arithmetic.
    /// Likewise a Relu into the Gemm before it (applied in registers by the packed kernel, or
    /// as a pass over the output by the others) and into the Add before it (one pass). The Add
    /// of a residual connection (the conv's output plus another value of the same shape, in
    /// either order) goes into the conv too, and the Relu after it: the packed kernel adds the
    /// other branch in registers before the ReLU, the same arithmetic as the separate steps.
    mutating func fuse() {
        var readers = [Int](repeating: 0, count: storageCount)
        for step in steps {
            for case let .value(v) in step.inputs { readers[values[v].storage] += 1 }
        }
        for output in model.outputs {
            if case let .runtime(v)? = entries[output.name] { readers[values[v].storage] += 2 }
        }
        var i = 0
        while i < steps.count {
            let a = steps[i]
            guard readers[values[a.output].storage] == 1,
                  let j = steps.indices.first(where: { $0 > i && steps[$0].inputs.contains(.value(a.output)) }) else {
                i += 1; continue
            }
            let b = steps[j]
            // A residual connection: the conv's output and another value of its shape, added.
            if case let .conv(geometry, epsilon, false, false) = a.kernel, b.kernel == .binary(.add), b.inputs.count == 2,
               let other = b.inputs.first(where: { $0 != .value(a.output) }), case let .value(v) = other,
               values[v].shape == values[a.output].shape {
                // The fused step takes the Add's place: the other operand is computed by then.
                steps[j] = Step(node: a.node, kernel: .conv(geometry, normEpsilon: epsilon, residual: true, relu: false),
                                inputs: a.inputs + [other], output: b.output, fused: a.fused + [b.node] + b.fused)
                steps.remove(at: i)
                continue
            }
            guard b.inputs.first == .value(a.output) else { i += 1; continue }
            let kernel: ONNXKernel
            switch (a.kernel, b.kernel) {
            case let (.conv(geometry, nil, false, false), .batchNorm(e))
                where b.inputs.dropFirst().allSatisfy({ if case .constant = $0 { true } else { false } }):
                kernel = .conv(geometry, normEpsilon: e, residual: false, relu: false)
            case let (.conv(geometry, epsilon, residual, false), .unary(.relu)):
                kernel = .conv(geometry, normEpsilon: epsilon, residual: residual, relu: true)
            case let (.gemm(transA, transB, alpha, beta, false), .unary(.relu)):
                kernel = .gemm(transA: transA, transB: transB, alpha: alpha, beta: beta, relu: true)
            case (.binary(.add), .unary(.relu)):
                kernel = .addRelu
            default:
                i += 1; continue
            }
            steps[i] = Step(node: a.node, kernel: kernel, inputs: a.inputs + b.inputs.dropFirst(), output: b.output,
                            fused: a.fused + [b.node] + b.fused)
            steps.remove(at: j)
        }
    }

    /// Node indices in topological order (Kahn's algorithm); undefined inputs and cycles are errors.
    func order() throws(ONNXError) -> [Int] {
        var producer: [String: Int] = [:]
        for (i, node) in model.nodes.enumerated() {
            for output in node.outputs where !output.isEmpty {
                if producer[output] != nil || entries[output] != nil {
                    throw .graph(source: source, reason: "value \"\(output)\" is produced twice (node \"\(node.name)\" (\(node.opType)) and another node or input)")
                }
                producer[output] = i
            }
        }
        var pending = [Int](repeating: 0, count: model.nodes.count)
        var consumers: [Int: [Int]] = [:]
        for (i, node) in model.nodes.enumerated() {
            for input in node.inputs where !input.isEmpty {
                if let p = producer[input] {
                    pending[i] += 1; consumers[p, default: []].append(i)
                } else if entries[input] == nil {
                    throw .graph(source: source, reason: "node \"\(node.name)\" (\(node.opType)) reads \"\(input)\", which no node, initializer or graph input defines")
                }
            }
        }
        var ready = Array((0..<model.nodes.count).filter { pending[$0] == 0 }.reversed())
        var result: [Int] = []
        while let i = ready.popLast() {
            result.append(i)
            for c in consumers[i] ?? [] {
                pending[c] -= 1
                if pending[c] == 0 { ready.append(c) }
            }
        }
        if result.count < model.nodes.count {
            let stuck = (0..<model.nodes.count).filter { pending[$0] > 0 }.map { model.nodes[$0] }
            let names = stuck.flatMap(\.outputs).prefix(8).map { "\"\($0)\"" }.joined(separator: ", ")
            throw .graph(source: source, reason: "the nodes form a cycle through values \(names)")
        }
        return result
    }

    // MARK: - Helpers for the op planners

    func unsupported(_ node: ONNXNode, _ reason: String) -> ONNXError {
        .unsupportedNodes(source: source, nodes: [ONNXUnsupportedNode(name: node.name, opType: node.opType, domain: node.domain, reason: reason)])
    }

    func shapeError(_ node: ONNXNode, _ reason: String) -> ONNXError {
        .shape(source: source, node: node.name, opType: node.opType, reason: reason)
    }

    /// Shape of input `i` of `node` (nil when the optional input is absent).
    func shape(_ node: ONNXNode, _ i: Int) -> [Int]? {
        guard i < node.inputs.count, !node.inputs[i].isEmpty else { return nil }
        switch entries[node.inputs[i]] {
        case let .constant(t)?: return t.shape
        case let .runtime(v)?: return values[v].shape
        default: return nil
        }
    }

    /// The constant behind input `i` (nil when absent or computed at run time).
    func constant(_ node: ONNXNode, _ i: Int) -> ONNXTensor? {
        guard i < node.inputs.count, !node.inputs[i].isEmpty, case let .constant(t)? = entries[node.inputs[i]] else { return nil }
        return t
    }

    /// Integer elements of constant input `i`, which must be a plan-time constant.
    func constantInts(_ node: ONNXNode, _ i: Int, _ what: String) throws(ONNXError) -> [Int]? {
        guard i < node.inputs.count, !node.inputs[i].isEmpty else { return nil }
        guard let t = constant(node, i) else {
            throw unsupported(node, "input \(i) (\(what)) is computed at run time; only constant \(what) are supported")
        }
        guard let ints = t.int64s else { throw shapeError(node, "input \(i) (\(what)) must be an integer tensor") }
        return ints.map { Int($0) }
    }

    func attrInt(_ node: ONNXNode, _ name: String, _ fallback: Int) -> Int {
        if case let .int(v)? = node.attributes[name] { return v }
        return fallback
    }
    func attrFloat(_ node: ONNXNode, _ name: String, _ fallback: Float) -> Float {
        if case let .float(v)? = node.attributes[name] { return v }
        return fallback
    }
    func attrInts(_ node: ONNXNode, _ name: String) -> [Int]? {
        if case let .ints(v)? = node.attributes[name] { return v }
        return nil
    }
    func attrString(_ node: ONNXNode, _ name: String, _ fallback: String) -> String {
        if case let .string(v)? = node.attributes[name] { return v }
        return fallback
    }

    /// Normalises a possibly negative axis into 0..<rank.
    func axis(_ node: ONNXNode, _ a: Int, rank: Int) throws(ONNXError) -> Int {
        let n = a < 0 ? a + rank : a
        guard n >= 0 && n < rank else { throw shapeError(node, "axis \(a) is out of range for rank \(rank)") }
        return n
    }

    // MARK: - Emitting

    /// Output 0 of `node` is `tensor` (a folded constant).
    mutating func define(_ node: ONNXNode, _ tensor: ONNXTensor) {
        entries[node.outputs[0]] = .constant(tensor)
    }

    /// Output 0 of `node` is input 0 under another shape: a constant stays constant, a runtime
    /// value shares its buffer.
    mutating func alias(_ node: ONNXNode, shape: [Int]) throws(ONNXError) {
        switch entries[node.inputs[0]] {
        case let .constant(t)?:
            switch t.elements {
            case let .float(v): define(node, ONNXTensor(name: node.outputs[0], shape: shape, floats: v))
            case let .int64(v): define(node, ONNXTensor(name: node.outputs[0], shape: shape, int64s: v, dataType: t.dataType))
            }
        case let .runtime(v)?:
            values.append(Value(shape: shape, storage: values[v].storage, node: values[v].node))
            entries[node.outputs[0]] = .runtime(values.count - 1)
        default:
            throw shapeError(node, "input \"\(node.inputs[0])\" is undefined")
        }
    }

    /// Output 0 of `node` = `kernel` over `inputs` (indices of node inputs; absent ones skipped).
    /// Folded at plan time when every operand is a constant.
    mutating func emit(_ node: ONNXNode, _ index: Int, _ kernel: ONNXKernel, inputs: [Int], shape: [Int]) throws(ONNXError) {
        var operands: [Operand] = []
        var folded: [ONNXTensor] = []
        for i in inputs where i < node.inputs.count && !node.inputs[i].isEmpty {
            switch entries[node.inputs[i]] {
            case let .constant(t)?:
                folded.append(t); constants.append(t); operands.append(.constant(constants.count - 1))
            case let .runtime(v)?:
                operands.append(.value(v))
            default:
                throw shapeError(node, "input \"\(node.inputs[i])\" is undefined")
            }
        }
        if folded.count == operands.count {
            define(node, try fold(node, kernel, folded, shape))
            constants.removeLast(folded.count)
            return
        }
        if let t = folded.first(where: { if case .int64 = $0.elements { return true }; return false }) {
            throw unsupported(node, "integer tensor \"\(t.name)\" meets a float32 value computed at run time; only float32 runs")
        }
        values.append(Value(shape: shape, storage: storageCount, node: index))
        storageCount += 1
        steps.append(Step(node: index, kernel: kernel, inputs: operands, output: values.count - 1))
        entries[node.outputs[0]] = .runtime(values.count - 1)
    }

    /// Runs `kernel` on constants now: float kernels through the run-time code, integer
    /// (shape) tensors through the layout kernels.
    mutating func fold(_ node: ONNXNode, _ kernel: ONNXKernel, _ inputs: [ONNXTensor], _ shape: [Int]) throws(ONNXError) -> ONNXTensor {
        let name = node.outputs[0], count = shape.reduce(1, *)
        if inputs.allSatisfy({ if case .float = $0.elements { return true }; return false }) {
            let floats = inputs.map(\.floats)
            var out = [Float](repeating: 0, count: count)
            let pointers = floats.map { array -> UnsafeMutablePointer<Float> in
                let p = UnsafeMutablePointer<Float>.allocate(capacity: max(array.count, 1))
                p.initialize(from: array, count: array.count)
                return p
            }
            defer { pointers.forEach { $0.deallocate() } }
            out.withUnsafeMutableBufferPointer { y in
                kernel.run(pointers.map { UnsafePointer($0) }, inputs.map(\.shape), y.baseAddress!, shape, constantKey: nil, scratch: &scratch)
            }
            return ONNXTensor(name: name, shape: shape, floats: out)
        }
        let ints = inputs.map { $0.int64s ?? $0.floats.map { Int64($0) } }
        var out = [Int64](repeating: 0, count: count)
        out.withUnsafeMutableBufferPointer { y in
            let p = y.baseAddress!
            switch kernel {
            case let .binary(op):
                ints[0].withUnsafeBufferPointer { a in
                    ints[1].withUnsafeBufferPointer { b in
                        ONNXLayout.binary(a.baseAddress!, inputs[0].shape, b.baseAddress!, inputs[1].shape, p, shape) { op.apply($0, $1) }
                    }
                }
            case let .transpose(perm):
                ints[0].withUnsafeBufferPointer { ONNXLayout.transpose($0.baseAddress!, inputs[0].shape, perm: perm, p) }
            case let .gather(axis, indices):
                ints[0].withUnsafeBufferPointer { ONNXLayout.gather($0.baseAddress!, inputs[0].shape, axis: axis, indices: indices, p) }
            case let .pad(pads, value):
                ints[0].withUnsafeBufferPointer { ONNXLayout.pad($0.baseAddress!, inputs[0].shape, pads: pads, value: Int64(value), p) }
            case let .concat(axis):
                var flat: [Int64] = [], offsets: [Int] = []
                for v in ints { offsets.append(flat.count); flat += v }
                flat.withUnsafeBufferPointer { f in
                    ONNXLayout.concat(zip(offsets, inputs).map { (f.baseAddress! + $0.0, $0.1.shape) }, axis: axis, p)
                }
            default:
                break
            }
        }
        switch kernel {
        case .binary, .transpose, .gather, .pad, .concat:
            return ONNXTensor(name: name, shape: shape, int64s: out, dataType: inputs[0].dataType)
        default:
            throw unsupported(node, "integer tensors are only folded by shape arithmetic, Gather, Concat, Transpose and Pad")
        }
    }
}
