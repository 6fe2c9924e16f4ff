import Foundation
import ONNX
import Tensor
import Testing

/// The official backend test data (Debian's libonnx-testdata): every case whose ops the executor
/// supports runs against its expected outputs (|a − e| ≤ 1e-4 + 1e-4·|e|).
@Suite struct OnnxBackendConformanceTests {
    static let suites = ["node", "pytorch-converted", "pytorch-operator"]

    /// One case: its model, inputs and expected outputs.
    struct Case: CustomStringConvertible {
        let suite: String, name: String
        var directory: String { "\(ONNXTestPaths.backendData)/\(suite)/\(name)" }
        var description: String { "\(suite)/\(name)" }
    }

    static func allCases() -> [Case] {
        suites.flatMap { suite in
            let names = (try? FileManager.default.contentsOfDirectory(atPath: "\(ONNXTestPaths.backendData)/\(suite)")) ?? []
            return names.sorted().map { Case(suite: suite, name: $0) }
        }
    }

    /// Whether every node of the case's model has a supported op type (nil: the model does not load).
    static func usesOnlySupportedOps(_ c: Case) -> Bool? {
        guard let model = try? ONNXModel.load(path: "\(c.directory)/model.onnx") else { return nil }
        return model.nodes.allSatisfy { ONNXOps.supported.contains($0.opType) }
    }

    /// Runs a case; nil when it passes, else why not. Float inputs run, integer inputs (shapes,
    /// indices, axes) are bound as plan-time constants.
    static func run(_ c: Case) -> String? {
        do {
            let model = try ONNXModel.load(path: "\(c.directory)/model.onnx")
            let data = "\(c.directory)/test_data_set_0"
            var shapes: [String: [Int]] = [:], constants: [String: ONNXTensor] = [:], feeds: [String: Tensor] = [:]
            for (i, input) in model.dataInputs.enumerated() {
                let t = try loadTensor("\(data)/input_\(i).pb")
                if case .int64 = t.elements { constants[input.name] = t; continue }
                shapes[input.name] = t.shape
                feeds[input.name] = Tensor(shape: t.shape, values: t.floats)
            }
            let program = try ONNXProgram(model: model, inputShapes: shapes, constants: constants)
            let outputs = try program.run(feeds)
            for (i, output) in model.outputs.enumerated() {
                let expected = try loadTensor("\(data)/output_\(i).pb")
                guard let actual = outputs[output.name] else { return "output \(output.name) missing" }
                guard actual.shape == expected.shape else { return "output \(output.name): shape \(actual.shape), expected \(expected.shape)" }
                let e = expected.floats, a = actual.scalars
                if let k = (0..<e.count).first(where: { !(abs(a[$0] - e[$0]) <= 1e-4 + 1e-4 * abs(e[$0])) }) {
                    return "output \(output.name)[\(k)] = \(a[k]), expected \(e[k])"
                }
            }
            return nil
        } catch {
            return "\(error)"
        }
    }

    @Test func scanSupportedCases() {
        var candidates: [Case] = [], failures: [String] = []
        for c in Self.allCases() where Self.usesOnlySupportedOps(c) == true {
            candidates.append(c)
            if let why = Self.run(c) { failures.append("\(c): \(why.prefix(300))") }
        }
        print("SCAN candidates=\(candidates.count) passing=\(candidates.count - failures.count) total=\(Self.allCases().count)")
        print("SCAN PASSING " + candidates.filter { c in !failures.contains { $0.hasPrefix("\(c):") } }.map { "\"\($0)\"" }.joined(separator: ", "))
        for f in failures { print("SCAN FAIL \(f)") }
    }
}
