import Dispatch
import Synchronization
import Tensor

/// An ONNX graph planned for one input shape and run on the engine's kernels.
///
/// Planning orders the nodes, infers every shape once, folds what depends only on constants
/// (initializers, Constant nodes, the Shape → Gather → Unsqueeze → Concat chain that
/// `x.view(x.size(0), -1)` exports to) and collects every unsupported node into one refusal.
///
/// A teacher program (``init(model:sampleShape:)``) has one float32 data input whose axis 0 is the
/// batch, whatever the graph declares there (`batch_size`, 1 or a fixed N): it is planned at two
/// probe batch sizes, and every run-time value must follow the batch in axis 0 (no op may mix
/// samples). ``forward(_:batch:)`` then runs any batch size; buffers grow to the largest batch
/// seen and are reused.
///
/// Where the CPU has the microkernels (AVX2 or AVX-512: ``/Tensor/System/simd``), `forward`
/// splits a batch of at least 2 × ``laneChunk`` samples over the cores, and each core runs the
/// whole graph on its share with its own buffers (a *lane*): one synchronisation per call
/// instead of one per step. A convolutional graph goes in chunks of ``laneChunk`` samples,
/// which the lanes take in turn (a chunk's activations stay in the core's cache from one step to
/// the next, and a core slowed by another process takes fewer chunks); other graphs give each
/// lane one contiguous part. The result is the same as one pass over the batch, since no step
/// mixes samples.
///
/// Not `Sendable`: a program owns its activation buffers and workspaces; give each thread its own.
public final class ONNXProgram {
    public let model: ONNXModel
    /// Per-sample input shape (teacher programs) or the full shape of the first input.
    public let inputShape: [Int]
    /// Per-sample output shape, e.g. `[10]` (teacher programs), or the full shape of the first output.
    public let outputShape: [Int]
    /// Op types of the nodes the kernel steps run, in order (folded and reshaping nodes run no
    /// step; a fused step lists each node it runs).
    public var stepOpTypes: [String] { steps.flatMap { $0 } }
    /// The same, one entry per kernel step: e.g. `["Conv", "BatchNormalization", "Add", "Relu"]`
    /// for a residual block's last convolution, which runs the four nodes in one pass.
    public let steps: [[String]]

    private let batched: Bool
    /// Names of the run-time inputs; input i is planned value i.
    private let inputNames: [String]
    private let plan: ONNXPlanner
    private let valueBatched: [Bool]
    private let constantStorage: [FloatStorage]
    /// Runs the whole batch with every core per step (general programs, small batches, CPUs
    /// without the microkernels).
    private let main: Lane
    /// One per core, each running its part of a batch on one thread (created at first use).
    private var lanes: [Lane] = []
    private var result = FloatBuffer()

    /// Whether the graph has a convolution, whose activations are large per sample: its lanes
    /// run ``laneChunk`` samples at a time. Other graphs (dense layers) run a lane's whole part
    /// at once, so that each lane reads each weight matrix once per call.
    private let convolutional: Bool
    /// Samples a lane of a convolutional graph runs through it at a time: 16 keeps a step's
    /// activations (ResNet: 16 × 50 KB) in a core's L2 for the next step; 32 measured 10–15 %
    /// slower on a 2 MB-L2 Xeon (docs/BENCHMARKS.md).
    public static let laneChunk = 16

    /// Activation buffers, shapes and workspaces of one thread's pass over the graph.
    private final class Lane: @unchecked Sendable {
        var buffers: [FloatBuffer]
        var scratch = ONNXKernel.Scratch()
        var shapes: [[Int]] = []
        var shapesBatch = -1
        init(storageCount: Int, workers: Int) {
            buffers = Array(repeating: FloatBuffer(), count: storageCount)
            scratch.workers = workers
        }
    }

    /// Probe batch sizes (primes unlikely to equal a model dimension).
    static let probes = (1009, 1013)

    /// A teacher: the graph's one data input (float32) gets samples of `sampleShape` (e.g.
    /// `[1, 28, 28]`) with the batch in front, and its one output is the result.
    public convenience init(model: ONNXModel, sampleShape: [Int]) throws(ONNXError) {
        let data = model.dataInputs
        guard data.count == 1 else {
            throw .interface(source: model.source, reason: "a teacher needs exactly one data input, the graph has \(data.count): "
                + "\(data.map(\.description).joined(separator: "; ")); export the model with a single input tensor")
        }
        guard model.outputs.count == 1 else {
            throw .interface(source: model.source, reason: "a teacher needs exactly one output (the logits), the graph has "
                + "\(model.outputs.count): \(model.outputs.map(\.name).joined(separator: ", ")); return only the logits from forward()")
        }
        let input = data[0]
        guard input.elementType == .float else {
            throw .interface(source: model.source, reason: "input \"\(input.name)\" is \(input.elementType); teachers take float32 samples")
        }
        var fixedBatch: Int? = nil
        if let declared = input.shape {
            let rest = Array(declared.dropFirst())
            let matches = declared.count == sampleShape.count + 1
                && zip(rest, sampleShape).allSatisfy { if case let .value(v) = $0.0 { return v == $0.1 }; return true }
            guard matches else {
                throw .interface(source: model.source, reason: "input \"\(input.name)\" is declared [\(declared.map(\.description).joined(separator: ", "))] "
                    + "but the run's samples are \(sampleShape) (batch first: [batch, \(sampleShape.map(String.init).joined(separator: ", "))]); "
                    + "export the teacher for the dataset's sample shape")
            }
            if case let .value(n)? = declared.first { fixedBatch = n }
        }
        try self.init(model: model, runtime: [(input.name, sampleShape)], constants: [:], batched: true, fixedBatch: fixedBatch)
    }

    /// A general program: float32 inputs of the given full shapes (no batch axis: `forward` is
    /// not used, ``run(_:)`` is), and inputs bound to constants at plan time (e.g. integer
    /// shapes or indices).
    public convenience init(model: ONNXModel, inputShapes: [String: [Int]], constants: [String: ONNXTensor] = [:]) throws(ONNXError) {
        let runtime = model.dataInputs.filter { constants[$0.name] == nil }.map { ($0.name, inputShapes[$0.name]) }
        if let missing = runtime.first(where: { $0.1 == nil }) {
            throw .interface(source: model.source, reason: "no shape given for input \"\(missing.0)\"")
        }
        try self.init(model: model, runtime: runtime.map { ($0.0, $0.1!) }, constants: constants, batched: false, fixedBatch: nil)
    }

    private init(model: ONNXModel, runtime: [(String, [Int])], constants: [String: ONNXTensor], batched: Bool, fixedBatch: Int?) throws(ONNXError) {
        self.model = model
        self.batched = batched
        inputNames = runtime.map(\.0)
        let (p1, p2) = Self.probes
        let first = try ONNXPlanner(model: model, runtimeInputs: runtime.map { ($0.0, batched ? [p1] + $0.1 : $0.1) },
                                    constants: constants, probe: batched ? p1 : nil, fixedBatch: fixedBatch)
        if !first.unsupported.isEmpty { throw .unsupportedNodes(source: model.source, nodes: first.unsupported) }
        var isBatched = [Bool](repeating: false, count: first.values.count)
        if batched {
            let second = try ONNXPlanner(model: model, runtimeInputs: runtime.map { ($0.0, [p2] + $0.1) },
                                         constants: constants, probe: p2, fixedBatch: fixedBatch)
            try Self.checkBatchAxis(first, second)
            isBatched = [Bool](repeating: true, count: first.values.count)
        }
        for output in model.outputs {
            guard case .runtime? = first.entries[output.name] else {
                if batched { throw .interface(source: model.source, reason: "output \"\(output.name)\" does not depend on the input") }
                continue
            }
        }
        plan = first
        valueBatched = isBatched
        constantStorage = first.constants.map { t in
            let s = FloatStorage(count: t.count)
            for (i, v) in t.floats.enumerated() { s.pointer[i] = v }
            return s
        }
        main = Lane(storageCount: first.storageCount, workers: Parallel.workers)
        convolutional = first.steps.contains { if case .conv = $0.kernel { true } else { false } }
        let shapeOf = { (name: String) -> [Int] in
            switch first.entries[name] {
            case let .runtime(v)?: return first.values[v].shape
            case let .constant(t)?: return t.shape
            default: return []
            }
        }
        inputShape = runtime.first?.1 ?? []
        let out = shapeOf(model.outputs.first?.name ?? "")
        outputShape = batched ? Array(out.dropFirst()) : out
        steps = first.steps.map { ([$0.node] + $0.fused).map { model.nodes[$0].opType } }
    }

    /// Every run-time value must have the probe batch in axis 0 and the same other dims at both
    /// probes, and every kernel must be the same: otherwise a node mixes samples.
    private static func checkBatchAxis(_ a: ONNXPlanner, _ b: ONNXPlanner) throws(ONNXError) {
        let (p1, p2) = probes
        for (i, (va, vb)) in zip(a.values, b.values).enumerated() where i > 0 {
            guard va.shape.first == p1, vb.shape.first == p2, va.shape.dropFirst() == vb.shape.dropFirst() else {
                let node = a.model.nodes[va.node]
                throw .unsupportedNodes(source: a.source, nodes: [ONNXUnsupportedNode(
                    name: node.name, opType: node.opType, domain: node.domain,
                    reason: "its output does not keep the batch in axis 0 (shape \(va.shape) for a batch of \(p1)); "
                        + "ops that mix samples cannot run on teacher batches")])
            }
        }
        for (sa, sb) in zip(a.steps, b.steps) where sa.kernel != sb.kernel {
            let node = a.model.nodes[sa.node]
            throw .unsupportedNodes(source: a.source, nodes: [ONNXUnsupportedNode(
                name: node.name, opType: node.opType, domain: node.domain,
                reason: "its parameters depend on the batch size")])
        }
    }

    /// Runs a batch of `batch` samples laid out `[batch, inputShape…]`; the result
    /// (`[batch, outputShape…]`) stays valid until the next call.
    public func forward(_ x: UnsafePointer<Float>, batch: Int) -> UnsafePointer<Float> {
        precondition(batched, "forward(_:batch:) runs teacher programs; use run(_:) for programs with named inputs")
        precondition(batch > 0, "batch must be positive")
        let parts = System.simd.hasMicrokernels ? Swift.min(Parallel.workers, batch / Self.laneChunk) : 1
        guard parts > 1 else { return pass(main, x, batch: batch) }
        while lanes.count < parts { lanes.append(Lane(storageCount: plan.storageCount, workers: 1)) }
        let sampleIn = inputShape.reduce(1, *), sampleOut = outputShape.reduce(1, *)
        let out = SendablePointer(result.reserve(batch * sampleOut)), xs = SendablePointer(x)
        let program = Unchecked(self)
        // Convolutional graphs: chunks of laneChunk samples, taken in turn by whichever lane is
        // free (a core slowed by another process takes fewer). Dense graphs: one part per lane.
        let chunk = convolutional ? Self.laneChunk : (batch + parts - 1) / parts
        let chunks = (batch + chunk - 1) / chunk
        let next = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: parts) { part in
            let lane = program.value.lanes[part]
            while true {
                let c = next.wrappingAdd(1, ordering: .relaxed).oldValue
                guard c < chunks else { break }
                let first = c * chunk, n = Swift.min(chunk, batch - first)
                let y = program.value.pass(lane, xs.base + first * sampleIn, batch: n)
                (out.base + first * sampleOut).update(from: y, count: n * sampleOut)
            }
        }
        return UnsafePointer(out.base)
    }

    /// One lane's pass over `batch` samples; returns its output buffer.
    private func pass(_ lane: Lane, _ x: UnsafePointer<Float>, batch: Int) -> UnsafePointer<Float> {
        prepare(lane, batch: batch)
        let input = plan.values[0]
        lane.buffers[input.storage].pointer.update(from: x, count: lane.shapes[0].reduce(1, *))
        execute(lane)
        guard case let .runtime(v)? = plan.entries[model.outputs[0].name] else { preconditionFailure("planned output missing") }
        return UnsafePointer(lane.buffers[plan.values[v].storage].pointer)
    }

    /// `forward` on a tensor of shape `[B] + inputShape`; returns `[B] + outputShape`.
    public func predict(_ x: Tensor) -> Tensor {
        precondition(x.shape.count == inputShape.count + 1 && Array(x.shape.dropFirst()) == inputShape,
                     "predict needs [batch] + \(inputShape), got \(x.shape)")
        let batch = x.shape[0]
        let y = x.withUnsafeBufferPointer { forward($0.baseAddress!, batch: batch) }
        return Tensor(shape: [batch] + outputShape, values: Array(UnsafeBufferPointer(start: y, count: batch * outputShape.reduce(1, *))))
    }

    /// Runs a general program on named float32 inputs of the planned shapes; returns every graph output.
    public func run(_ inputs: [String: Tensor]) throws(ONNXError) -> [String: Tensor] {
        precondition(!batched, "run(_:) runs programs with named inputs; use forward(_:batch:) for teachers")
        prepare(main, batch: 1)
        for (i, name) in inputNames.enumerated() {
            let value = plan.values[i]
            guard let tensor = inputs[name] else {
                throw .interface(source: model.source, reason: "no value given for input \"\(name)\"")
            }
            guard tensor.shape == value.shape else {
                throw .interface(source: model.source, reason: "input \"\(name)\" has shape \(tensor.shape), the program was planned for \(value.shape)")
            }
            tensor.withUnsafeBufferPointer { main.buffers[value.storage].pointer.update(from: $0.baseAddress!, count: $0.count) }
        }
        execute(main)
        var result: [String: Tensor] = [:]
        for output in model.outputs {
            switch plan.entries[output.name] {
            case let .runtime(v)?:
                let value = plan.values[v]
                result[output.name] = Tensor(shape: value.shape, values: Array(UnsafeBufferPointer(
                    start: main.buffers[value.storage].pointer, count: value.shape.reduce(1, *))))
            case let .constant(t)?:
                result[output.name] = Tensor(shape: t.shape, values: t.floats)
            default: break
            }
        }
        return result
    }

    /// Full shapes of every value at `batch` and the lane's buffers large enough for them.
    private func prepare(_ lane: Lane, batch: Int) {
        guard batch != lane.shapesBatch else { return }
        lane.shapes = plan.values.enumerated().map { i, v in valueBatched[i] ? [batch] + v.shape.dropFirst() : v.shape }
        for (i, v) in plan.values.enumerated() { _ = lane.buffers[v.storage].reserve(lane.shapes[i].reduce(1, *)) }
        lane.shapesBatch = batch
    }

    private func execute(_ lane: Lane) {
        for (index, step) in plan.steps.enumerated() {
            var pointers: [UnsafePointer<Float>] = []
            var inShapes: [[Int]] = []
            for operand in step.inputs {
                switch operand {
                case let .value(v):
                    pointers.append(UnsafePointer(lane.buffers[plan.values[v].storage].pointer)); inShapes.append(lane.shapes[v])
                case let .constant(c):
                    pointers.append(UnsafePointer(constantStorage[c].pointer)); inShapes.append(plan.constants[c].shape)
                }
            }
            let out = plan.values[step.output]
            // The operands after the data input (and before a residual branch) decide whether the
            // step's weights can be packed once and kept.
            let weights = step.inputs.dropFirst().dropLast(step.kernel.hasResidualOperand ? 1 : 0)
            let constant = !weights.isEmpty && weights.allSatisfy { if case .constant = $0 { true } else { false } }
            step.kernel.run(pointers, inShapes, lane.buffers[out.storage].pointer, lane.shapes[step.output],
                            constantKey: constant ? index : nil, scratch: &lane.scratch)
        }
    }
}

/// A value handed to `concurrentPerform`'s closures, which only read through it what each
/// thread owns (a program's lanes) or never changes (its plan and constants).
private struct Unchecked<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
