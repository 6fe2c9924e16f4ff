import Foundation
import NN
import Testing
@testable import RunSpec

/// A value of another target's grammar from its text, for tests whose texts are valid (an
/// invalid one stops the test run, naming it).
func parsed<T, E: Error>(_ text: String, _ parse: (String) throws(E) -> T) -> T {
    do { return try parse(text) } catch { fatalError("test value '\(text)' does not parse: \(error)") }
}

/// A model spec from its text (see ``parsed(_:_:)``).
func modelSpec(_ text: String) -> ModelSpec { parsed(text, ModelSpec.init(parsing:)) }

/// The problems `yaml` is rejected with ([] if it parses).
func problems(_ yaml: String) -> [RunSpecError] {
    do throws(RunSpecErrors) {
        _ = try RunSpec(yaml: yaml, fileName: "test.yaml")
        return []
    } catch {
        return error.errors
    }
}

/// The one problem `yaml` is rejected with; records an issue if there are none or several.
func onlyProblem(_ yaml: String, sourceLocation: SourceLocation = #_sourceLocation) -> RunSpecError? {
    let all = problems(yaml)
    #expect(all.count == 1, "expected exactly one problem, got \(all.map(\.description))", sourceLocation: sourceLocation)
    return all.first
}

/// A valid spec in flow style, one setting per line, for tests that change one line.
let baseLines = [
    "name: base",                                                                                  // 1
    "dataset: { name: fashion-mnist, train-limit: 2000, validation: 500 }",                        // 2
    "teachers:",                                                                                   // 3
    "  - model: mlp:784-64-10",                                                                    // 4
    "    count: 3",                                                                                // 5
    "    train: { epochs: 2, batch: 64, seed: 1 }",                                                // 6
    "  - model: cnn:1x28x28-c8-p2-fc10",                                                           // 7
    "    checkpoint: teachers/cnn.safetensors",                                                    // 8
    "student: { model: mlp:784-32-10 }",                                                           // 9
    "distillation: { mode: offline, temperature: 4, alpha: 0.9, ensemble: mean-probs, top-k: 0, float16: false }", // 10
    "training: { epochs: 2, batch: 64, lr: 1e-3, optimizer: adamw, weight-decay: 0, schedule: cosine, seed: 1 }",  // 11
    "replicas: 2",                                                                                 // 12
    "prefetch: 4",                                                                                 // 13
]

/// `baseLines` with line `n` (1-based) replaced by `text` (which may hold several lines).
func base(line n: Int, _ text: String) -> String {
    var lines = baseLines
    lines[n - 1] = text
    return lines.joined(separator: "\n") + "\n"
}

let baseYAML = baseLines.joined(separator: "\n") + "\n"

/// A valid spec in block style.
let blockLines = [
    "name: block",               // 1
    "teachers:",                 // 2
    "  - model: mlp:784-64-10",  // 3
    "    train:",                // 4
    "      epochs: 2",           // 5
    "      batch: 64",           // 6
    "student:",                  // 7
    "  model: mlp:784-32-10",    // 8
    "distillation:",             // 9
    "  temperature: 4",          // 10
    "  alpha: 0.9",              // 11
    "training:",                 // 12
    "  epochs: 3",               // 13
    "  batch: 64",               // 14
    "replicas: 2",               // 15
]

func block(line n: Int, _ text: String) -> String {
    var lines = blockLines
    lines[n - 1] = text
    return lines.joined(separator: "\n") + "\n"
}

func block(inserting text: String, after n: Int) -> String {
    var lines = blockLines
    lines.insert(text, at: n)
    return lines.joined(separator: "\n") + "\n"
}

/// The repository root, found from this file's path.
func repositoryRoot(file: String = #filePath) -> URL {
    var url = URL(fileURLWithPath: file).deletingLastPathComponent()
    while url.path != "/" {
        if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url }
        url = url.deletingLastPathComponent()
    }
    return url
}

/// Every example run spec in Cluster/runs, by file name.
func exampleSpecs() throws -> [(name: String, text: String)] {
    let dir = repositoryRoot().appendingPathComponent("Cluster/runs")
    let names = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".yaml") }.sorted()
    return try names.map { ($0, try String(contentsOf: dir.appendingPathComponent($0), encoding: .utf8)) }
}

/// SplitMix64: a small seeded generator so random tests are reproducible.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
