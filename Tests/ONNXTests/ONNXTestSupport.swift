import DistilleryTestKit
import Foundation
import ONNX
import Tensor

/// Paths of the test data: this target's fixtures, the repository root and Debian's
/// libonnx-testdata cases.
enum ONNXTestPaths {
    static var fixtures: String { Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.path }
    /// The repository root, three levels above this file (Tests/ONNXTests/ONNXTestSupport.swift).
    static var repositoryRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }
    static let backendData = "/usr/include/onnx/backend/test/data"
}

/// Reads a serialized TensorProto file.
func loadTensor(_ path: String) throws -> ONNXTensor {
    let data = try Data(contentsOf: URL(fileURLWithPath: path))
    return try ONNXTensor(tensorProtoBytes: [UInt8](data), source: path)
}

/// A hand-built ModelProto (wire format via ProtoWriter) for the refusal tests: float32 inputs
/// and outputs, nodes with integer attributes, float32 initializers.
struct TinyModel {
    struct Node { var op: String; var inputs: [String]; var outputs: [String]; var name: String; var ints: [String: Int] = [:] }
    var opset = 17
    var inputs: [(String, [Int])] = [("x", [1, 4])]
    var outputs = ["y"]
    var nodes: [Node] = [Node(op: "Relu", inputs: ["x"], outputs: ["y"], name: "relu")]
    var initializers: [(String, [Int], [Float])] = []
    var externalInitializer = false
    /// Extra raw fields appended to the ModelProto (e.g. an unknown field).
    var modelTail: [UInt8] = []

    var bytes: [UInt8] {
        var m = ProtoWriter()
        m.uint(1, 8)
        m.message(8) { o in o.string(1, ""); o.uint(2, UInt64(opset)) }
        m.message(7) { g in
            for node in nodes {
                g.message(1) { n in
                    for i in node.inputs { n.string(1, i) }
                    for o in node.outputs { n.string(2, o) }
                    n.string(3, node.name); n.string(4, node.op)
                    for (key, value) in node.ints.sorted(by: { $0.key < $1.key }) {
                        n.message(5) { a in a.string(1, key); a.uint(3, UInt64(bitPattern: Int64(value))); a.uint(20, 2) }
                    }
                }
            }
            g.string(2, "tiny")
            for (name, dims, values) in initializers {
                g.message(5) { t in
                    for d in dims { t.uint(1, UInt64(d)) }
                    t.uint(2, 1)
                    t.string(8, name)
                    if externalInitializer {
                        t.message(13) { e in e.string(1, "location"); e.string(2, "weights.bin") }
                        t.uint(14, 1)
                    } else {
                        t.lengthDelimited(9, values.flatMap { v in withUnsafeBytes(of: v.bitPattern.littleEndian) { Array($0) } })
                    }
                }
            }
            for (name, dims) in inputs { g.message(11) { v in Self.valueInfo(&v, name, dims) } }
            for name in outputs { g.message(12) { v in Self.valueInfo(&v, name, nil) } }
        }
        m.raw(modelTail)
        return m.bytes
    }

    static func valueInfo(_ v: inout ProtoWriter, _ name: String, _ dims: [Int]?) {
        v.string(1, name)
        v.message(2) { t in
            t.message(1) { tt in
                tt.uint(1, 1)
                if let dims { tt.message(2) { s in for d in dims { s.message(1) { dim in dim.uint(1, UInt64(d)) } } } }
            }
        }
    }

    func model() throws -> ONNXModel { try ONNXModel(bytes: bytes, source: "tiny.onnx") }
}
