import Foundation
import OnnxProtoC

/// An exported model read back with protobuf-c's `unpack`, as plain Swift values.
struct ExportUnpacked {
    struct Node {
        var op, name: String
        var inputs, outputs: [String]
        /// INT attributes as one-element lists, INTS as they are.
        var ints: [String: [Int]] = [:]
        var floats: [String: Float] = [:]
    }

    struct Initializer {
        var name: String
        var dims: [Int]
        var dataType: Int32
        /// `raw_data` as little-endian float32.
        var values: [Float]
    }

    let pointer: UnsafeMutablePointer<Onnx__ModelProto>

    init?(_ bytes: [UInt8]) {
        guard let p = bytes.withUnsafeBufferPointer({ onnx__model_proto__unpack(nil, $0.count, $0.baseAddress) }) else { return nil }
        pointer = p
    }

    func free() { onnx__model_proto__free_unpacked(pointer, nil) }

    var model: Onnx__ModelProto { pointer.pointee }
    private var graph: Onnx__GraphProto { model.graph.pointee }

    var opsets: [String: Int64] {
        Dictionary(uniqueKeysWithValues: items(model.n_opset_import, model.opset_import).map { (string($0.domain), $0.version) })
    }

    var metadata: [String: String] {
        Dictionary(uniqueKeysWithValues: items(model.n_metadata_props, model.metadata_props).map { (string($0.key), string($0.value)) })
    }

    var nodes: [Node] {
        items(graph.n_node, graph.node).map { n in
            var node = Node(op: string(n.op_type), name: string(n.name), inputs: strings(n.n_input, n.input),
                            outputs: strings(n.n_output, n.output))
            for a in items(n.n_attribute, n.attribute) {
                let name = string(a.name)
                switch a.type {
                case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT: node.ints[name] = [Int(a.i)]
                case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS:
                    node.ints[name] = Array(UnsafeBufferPointer(start: a.ints, count: a.n_ints)).map { Int($0) }
                case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT: node.floats[name] = a.f
                default: break
                }
            }
            return node
        }
    }

    var initializers: [Initializer] {
        items(graph.n_initializer, graph.initializer).map { t in
            let raw = UnsafeRawBufferPointer(start: t.raw_data.data, count: t.has_raw_data != 0 ? t.raw_data.len : 0)
            let values = (0..<(raw.count / 4)).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) }
            return Initializer(name: string(t.name), dims: Array(UnsafeBufferPointer(start: t.dims, count: t.n_dims)).map { Int($0) },
                               dataType: t.data_type, values: values)
        }
    }

    /// The dimensions of the one graph input, `dim_param` names and `dim_value`s as text.
    var input: [String] { dims(items(graph.n_input, graph.input)) }
    var output: [String] { dims(items(graph.n_output, graph.output)) }

    private func dims(_ infos: [Onnx__ValueInfoProto]) -> [String] {
        guard infos.count == 1, let type = infos[0].type, type.pointee.value_case == ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE,
              let shape = type.pointee.tensor_type.pointee.shape else { return [] }
        return items(shape.pointee.n_dim, shape.pointee.dim).map { d in
            d.value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM ? string(d.dim_param) : String(d.dim_value)
        }
    }

    private func items<T>(_ n: Int, _ p: UnsafeMutablePointer<UnsafeMutablePointer<T>?>?) -> [T] {
        (0..<n).compactMap { p?[$0]?.pointee }
    }

    static func string(_ p: UnsafePointer<CChar>?) -> String { p.map { String(cString: $0) } ?? "" }

    private func string(_ p: UnsafePointer<CChar>?) -> String { Self.string(p) }

    private func strings(_ n: Int, _ p: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> [String] {
        (0..<n).map { string(p?[$0]) }
    }
}

/// The venv python with onnx and onnxruntime, and `Scripts/onnx-check` run by it.
enum ExportCheck {
    /// The repository root (this file is Tests/ONNXTests/…).
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static let missing = "no Python with onnx and onnxruntime: DISTILLERY_ONNX_PYTHON is unset (or not an executable) and "
        + "\(root.path)/.venv-onnx/bin/python does not exist; run Scripts/onnx-venv (it creates .venv-onnx and prints "
        + "its python) or set DISTILLERY_ONNX_PYTHON to that path (Scripts/test does)"

    /// `DISTILLERY_ONNX_PYTHON` when set, else `.venv-onnx/bin/python` in the repository; nil when neither is executable.
    static func find() -> String? {
        let candidate: String
        if let p = ProcessInfo.processInfo.environment["DISTILLERY_ONNX_PYTHON"], !p.isEmpty {
            candidate = p
        } else {
            candidate = root.appendingPathComponent(".venv-onnx/bin/python").path
        }
        return FileManager.default.isExecutableFile(atPath: candidate) ? candidate : nil
    }

    struct Result {
        var status: Int32
        var outputs: [Float]
        /// The script's last line of standard output.
        var summary: String
        /// Standard output and error, for failure messages.
        var log: String
    }

    struct Timeout: Error, CustomStringConvertible {
        var seconds: Double
        var description: String { "Scripts/onnx-check did not finish within \(seconds) s and was killed" }
    }

    /// Writes `model` and `input` (raw float32) to a scratch directory and runs
    /// `python Scripts/onnx-check MODEL INPUT OUTPUT`, killed after `timeout` seconds.
    static func check(python: String, model: [UInt8], input: [Float], timeout: Double = 120) throws -> Result {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("distillery-onnx-export-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let modelURL = dir.appendingPathComponent("model.onnx"), inputURL = dir.appendingPathComponent("input.f32")
        let outputURL = dir.appendingPathComponent("output.f32")
        let stdoutURL = dir.appendingPathComponent("stdout"), stderrURL = dir.appendingPathComponent("stderr")
        try Data(model).write(to: modelURL)
        try input.withUnsafeBytes { Data($0) }.write(to: inputURL)
        _ = FileManager.default.createFile(atPath: stdoutURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: stderrURL.path, contents: nil)

        let p = Process()
        p.executableURL = URL(fileURLWithPath: python)
        p.arguments = [root.appendingPathComponent("Scripts/onnx-check").path, modelURL.path, inputURL.path, outputURL.path]
        let out = try FileHandle(forWritingTo: stdoutURL), err = try FileHandle(forWritingTo: stderrURL)
        defer { try? out.close(); try? err.close() }
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let deadline = Date().addingTimeInterval(timeout)
        while p.isRunning && Date() < deadline { usleep(20_000) }
        if p.isRunning {
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
            throw Timeout(seconds: timeout)
        }
        p.waitUntilExit()
        let stdout = (try? String(contentsOf: stdoutURL, encoding: .utf8)) ?? ""
        let stderr = (try? String(contentsOf: stderrURL, encoding: .utf8)) ?? ""
        let raw = (try? Data(contentsOf: outputURL)) ?? Data()
        let outputs = raw.withUnsafeBytes { b in
            (0..<(b.count / 4)).map { Float(bitPattern: UInt32(littleEndian: b.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) }
        }
        let summary = stdout.split(separator: "\n").last.map(String.init) ?? ""
        return Result(status: p.terminationStatus, outputs: outputs, summary: summary, log: stdout + stderr)
    }
}
