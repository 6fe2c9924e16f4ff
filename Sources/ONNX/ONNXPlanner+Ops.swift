import NN

/// The ops the executor runs, with their ONNX semantics at opsets 13…18.
public enum ONNXOps {
    public static let supported: [String] = [
        "Abs", "Add", "AveragePool", "BatchNormalization", "Cast", "Clip", "Concat", "Constant", "Conv", "Div",
        "Dropout", "Exp", "Flatten", "Gather", "Gemm", "GlobalAveragePool", "Identity", "LeakyRelu", "Log",
        "LogSoftmax", "MatMul", "MaxPool", "Mul", "Neg", "Pad", "Reciprocal", "Relu", "Reshape", "Shape",
        "Sigmoid", "Softmax", "Sqrt", "Squeeze", "Sub", "Tanh", "Transpose", "Unsqueeze",
    ]
}

extension ONNXPlanner {
    /// Infers output shapes of `node` and emits its step, folds it, or aliases its input.
    mutating func plan(_ node: ONNXNode, _ index: Int) throws(ONNXError) {
        let unary: [String: ONNXUnary] = [
            "Relu": .relu, "Sigmoid": .sigmoid, "Tanh": .tanh, "Exp": .exp, "Log": .log, "Neg": .neg, "Abs": .abs,
            "Sqrt": .sqrt, "Reciprocal": .reciprocal,
        ]
        let binary: [String: ONNXBinary] = ["Add": .add, "Sub": .sub, "Mul": .mul, "Div": .div]
        if node.opType != "Constant" && shape(node, 0) == nil {
            throw shapeError(node, "has no input")
        }
        if node.outputs.count > 1 && node.outputs.dropFirst().contains(where: { !$0.isEmpty }) && node.opType != "Dropout" {
            throw unsupported(node, "only the first output is supported (outputs \(node.outputs.dropFirst()) are requested)")
        }
        let x = shape(node, 0) ?? []
        switch node.opType {
        case let op where unary[op] != nil:
            try emit(node, index, .unary(unary[op]!), inputs: [0], shape: x)
        case "LeakyRelu":
            try emit(node, index, .unary(.leakyRelu(attrFloat(node, "alpha", 0.01))), inputs: [0], shape: x)
        case "Clip":
            let lo = constant(node, 1)?.floats.first ?? -.infinity, hi = constant(node, 2)?.floats.first ?? .infinity
            if (shape(node, 1) != nil && constant(node, 1) == nil) || (shape(node, 2) != nil && constant(node, 2) == nil) {
                throw unsupported(node, "min and max must be constants")
            }
            try emit(node, index, .unary(.clip(lo, hi)), inputs: [0], shape: x)
        case let op where binary[op] != nil:
            let y = shape(node, 1) ?? []
            guard let out = ONNXLayout.broadcast(x, y) else {
                throw shapeError(node, "shapes \(x) and \(y) do not broadcast")
            }
            try emit(node, index, .binary(binary[op]!), inputs: [0, 1], shape: out)
        case "Softmax", "LogSoftmax":
            let a = try axis(node, attrInt(node, "axis", -1), rank: x.count)
            if a == 0, probe != nil, case .runtime? = entries[node.inputs[0]] {
                throw unsupported(node, "axis \(a) normalises over the batch axis")
            }
            try emit(node, index, .softmax(axis: a, log: node.opType == "LogSoftmax"), inputs: [0], shape: x)
        case "Gemm":
            try planGemm(node, index, x)
        case "MatMul":
            try planMatMul(node, index, x)
        case "Conv":
            try planConv(node, index, x)
        case "MaxPool", "AveragePool":
            try planPool(node, index, x)
        case "GlobalAveragePool":
            guard x.count >= 3 else { throw shapeError(node, "needs an [N, C, spatial…] input, got \(x)") }
            try emit(node, index, .globalAveragePool, inputs: [0], shape: Array(x.prefix(2)) + Array(repeating: 1, count: x.count - 2))
        case "BatchNormalization":
            if attrInt(node, "training_mode", 0) != 0 { throw unsupported(node, "training_mode=1 (batch statistics) is not supported; export in eval mode") }
            let channels = x.count > 1 ? x[1] : 1
            for i in 1...4 where shape(node, i)?.reduce(1, *) != channels {
                throw shapeError(node, "input \(i) must hold \(channels) values (one per channel), got shape \(shape(node, i) ?? [])")
            }
            try emit(node, index, .batchNorm(epsilon: attrFloat(node, "epsilon", 1e-5)), inputs: [0, 1, 2, 3, 4], shape: x)
        default:
            try planLayout(node, index, x)
        }
    }

    mutating func planGemm(_ node: ONNXNode, _ index: Int, _ a: [Int]) throws(ONNXError) {
        let b = shape(node, 1) ?? []
        guard a.count == 2, b.count == 2 else { throw shapeError(node, "A and B must be matrices, got \(a) and \(b)") }
        let transA = attrInt(node, "transA", 0) != 0, transB = attrInt(node, "transB", 0) != 0
        let (m, k) = transA ? (a[1], a[0]) : (a[0], a[1])
        let (kb, n) = transB ? (b[1], b[0]) : (b[0], b[1])
        guard k == kb else { throw shapeError(node, "A' is \(m)×\(k) but B' is \(kb)×\(n) (transA=\(transA ? 1 : 0), transB=\(transB ? 1 : 0))") }
        if let c = shape(node, 2), ONNXLayout.broadcast(c, [m, n]) != [m, n] {
            throw shapeError(node, "C of shape \(c) does not broadcast to [\(m), \(n)]")
        }
        let kernel = ONNXKernel.gemm(transA: transA, transB: transB, alpha: attrFloat(node, "alpha", 1), beta: attrFloat(node, "beta", 1), relu: false)
        try emit(node, index, kernel, inputs: [0, 1, 2], shape: [m, n])
    }

    mutating func planMatMul(_ node: ONNXNode, _ index: Int, _ a: [Int]) throws(ONNXError) {
        let b = shape(node, 1) ?? []
        guard !a.isEmpty, !b.isEmpty else { throw shapeError(node, "operands must not be scalars") }
        let a2 = a.count == 1 ? [1] + a : a, b2 = b.count == 1 ? b + [1] : b
        guard a2[a2.count - 1] == b2[b2.count - 2] else { throw shapeError(node, "inner dimensions differ: \(a) · \(b)") }
        if b2.count > 2 && a2.count < b2.count {
            throw unsupported(node, "B has more batch dimensions than A (\(a) · \(b))")
        }
        guard let batch = ONNXLayout.broadcast(Array(a2.dropLast(2)), Array(b2.dropLast(2))) else {
            throw shapeError(node, "batch dimensions of \(a) and \(b) do not broadcast")
        }
        var out = batch + [a2[a2.count - 2], b2[b2.count - 1]]
        if a.count == 1 { out.remove(at: out.count - 2) }
        if b.count == 1 { out.removeLast() }
        try emit(node, index, .matmul, inputs: [0, 1], shape: out)
    }

    /// Strides, dilations and [top, left, bottom, right] pads of a Conv or pool over `x` [N, C, H, W].
    func window(_ node: ONNXNode, _ x: [Int], kernel: [Int]) throws(ONNXError) -> (strides: [Int], dilations: [Int], pads: [Int]) {
        let strides = attrInts(node, "strides") ?? [1, 1]
        let dilations = attrInts(node, "dilations") ?? [1, 1]
        guard strides.count == 2, dilations.count == 2 else { throw shapeError(node, "strides and dilations need 2 values") }
        var pads = attrInts(node, "pads") ?? [0, 0, 0, 0]
        guard pads.count == 4 else { throw shapeError(node, "pads needs 4 values, got \(pads)") }
        switch attrString(node, "auto_pad", "NOTSET") {
        case "NOTSET": break
        case "VALID": pads = [0, 0, 0, 0]
        case let mode where mode == "SAME_UPPER" || mode == "SAME_LOWER":
            for d in 0..<2 {
                let out = (x[2 + d] + strides[d] - 1) / strides[d]
                let total = max(0, (out - 1) * strides[d] + (kernel[d] - 1) * dilations[d] + 1 - x[2 + d])
                let small = total / 2, large = total - small
                pads[d] = mode == "SAME_UPPER" ? small : large
                pads[d + 2] = mode == "SAME_UPPER" ? large : small
            }
        case let mode:
            throw unsupported(node, "auto_pad=\(mode) is not supported (NOTSET, VALID, SAME_UPPER, SAME_LOWER are)")
        }
        return (strides, dilations, [pads[0], pads[1], pads[2], pads[3]])
    }

    mutating func planConv(_ node: ONNXNode, _ index: Int, _ x: [Int]) throws(ONNXError) {
        let w = shape(node, 1) ?? []
        guard x.count == 4, w.count == 4 else {
            throw unsupported(node, "only 2-D convolution ([N, C, H, W] input) is supported, got input \(x), weight \(w)")
        }
        let kernel = attrInts(node, "kernel_shape") ?? [w[2], w[3]]
        guard kernel == [w[2], w[3]] else { throw shapeError(node, "kernel_shape \(kernel) differs from the weight's \(w)") }
        let groups = attrInt(node, "group", 1)
        guard groups > 0, w[1] * groups == x[1] else {
            throw shapeError(node, "input has \(x[1]) channels but weight \(w) with group=\(groups) expects \(w[1] * groups)")
        }
        if let b = shape(node, 2), b != [w[0]] { throw shapeError(node, "bias shape \(b) is not [\(w[0])]") }
        let (s, d, p) = try window(node, x, kernel: kernel)
        guard let geometry = Conv2DKernel(
            channels: x[1], height: x[2], width: x[3], outChannels: w[0], kernelH: kernel[0], kernelW: kernel[1],
            strideH: s[0], strideW: s[1], dilationH: d[0], dilationW: d[1],
            padTop: p[0], padLeft: p[1], padBottom: p[2], padRight: p[3], groups: groups) else {
            throw shapeError(node, "kernel \(kernel) (strides \(s), dilations \(d), pads \(p), group \(groups)) does not fit input \(x)")
        }
        try emit(node, index, .conv(geometry, normEpsilon: nil, residual: false, relu: false), inputs: [0, 1, 2], shape: [x[0], w[0], geometry.outHeight, geometry.outWidth])
    }

    mutating func planPool(_ node: ONNXNode, _ index: Int, _ x: [Int]) throws(ONNXError) {
        guard x.count == 4 else { throw unsupported(node, "only 2-D pooling ([N, C, H, W] input) is supported, got \(x)") }
        guard let kernel = attrInts(node, "kernel_shape"), kernel.count == 2 else {
            throw shapeError(node, "kernel_shape must list 2 values")
        }
        if attrInt(node, "storage_order", 0) != 0 { throw unsupported(node, "storage_order=1 is not supported") }
        let (s, d, p) = try window(node, x, kernel: kernel)
        guard let geometry = Pool2DKernel(
            height: x[2], width: x[3], kernelH: kernel[0], kernelW: kernel[1], strideH: s[0], strideW: s[1],
            dilationH: d[0], dilationW: d[1], padTop: p[0], padLeft: p[1], padBottom: p[2], padRight: p[3],
            ceilMode: attrInt(node, "ceil_mode", 0) != 0) else {
            throw shapeError(node, "window \(kernel) (strides \(s), dilations \(d), pads \(p)) does not fit input \(x)")
        }
        let kernelOp: ONNXKernel = node.opType == "MaxPool"
            ? .maxPool(geometry) : .averagePool(geometry, countIncludePad: attrInt(node, "count_include_pad", 0) != 0)
        try emit(node, index, kernelOp, inputs: [0], shape: [x[0], x[1], geometry.outHeight, geometry.outWidth])
    }
}
