import Distillation
import Foundation
import Testing
@testable import RunSpec
import Training

@Suite("RunSpec: canonical YAML")
struct RunSpecRoundTripTests {
    /// Parses `spec.canonicalYAML()` and checks it gives `spec` back, and the same text again.
    func expectRoundTrip(_ spec: RunSpec, sourceLocation: SourceLocation = #_sourceLocation) {
        let text = spec.canonicalYAML()
        do {
            let back = try RunSpec(yaml: text, fileName: "canonical")
            #expect(back == spec, "\(text)", sourceLocation: sourceLocation)
            #expect(back.canonicalYAML() == text, sourceLocation: sourceLocation)
        } catch {
            Issue.record("canonical YAML does not parse: \(error)\n\(text)", sourceLocation: sourceLocation)
        }
    }

    @Test("every example round-trips")
    func examples() throws {
        for (name, text) in try exampleSpecs() {
            let spec = try RunSpec(yaml: text, fileName: name)
            expectRoundTrip(spec)
        }
        expectRoundTrip(try RunSpec(yaml: baseYAML))
    }

    @Test("the canonical text writes every default, in a fixed order, teachers expanded")
    func canonicalText() throws {
        let spec = try RunSpec(yaml: """
            name: small
            teachers:
              - model: mlp:784-10
                count: 2
                train: { lr: 1e-3 }
              - model: mlp:784-20-10
                checkpoint: "t/a b.safetensors"
            student: { model: mlp:784-10 }
            """)
        #expect(spec.canonicalYAML() == """
            name: small
            dataset:
              format: idx
              name: fashion-mnist
              path: /usr/share/datasets/fashion-mnist
              classes: 0
              scale: 0.00392156862745098
              mean: fit
              std: fit
              train-limit: 0
              validation: 5000
            teachers:
              - model: mlp:784-10
                train:
                  epochs: 10
                  batch: 128
                  lr: 0.001
                  optimizer: adamw
                  weight-decay: 0.0
                  schedule: cosine
                  seed: 1
                  bootstrap: false
              - model: mlp:784-10
                train:
                  epochs: 10
                  batch: 128
                  lr: 0.001
                  optimizer: adamw
                  weight-decay: 0.0
                  schedule: cosine
                  seed: 2
                  bootstrap: false
              - model: mlp:784-20-10
                checkpoint: "t/a b.safetensors"
            student:
              model: mlp:784-10
            distillation:
              mode: offline
              temperature: 4.0
              alpha: 0.9
              ensemble: mean-probs
              top-k: 0
              float16: false
              mutual: 0.0
            training:
              epochs: 10
              batch: 128
              lr: 0.001
              optimizer: adamw
              weight-decay: 0.0
              schedule: cosine
              seed: 1
              label-fraction: 1.0
              baseline: false
            replicas: 1
            prefetch: 4
            elastic:
              min-replicas: 1
              max-restarts: 10
              wait-timeout: 300
              checkpoint-every: 0

            """)
    }

    @Test("strings that YAML would read otherwise are quoted and escaped")
    func awkwardStrings() throws {
        let paths = [
            "with space/t.safetensors", "#hash", "a: b", "a #b", "\"quoted\"", "it's", "back\\slash", "line\nbreak",
            "tab\there", "bell\u{7}", "nel\u{85}", "ünïcödé/😀", "null", "NULL", "~", "", "-dash", "[x]", "{x}", "*star",
            "&amp", "!bang", "%pct", "@at", "`tick", "key:", "true", "0x10", "1e3", " lead", "trail ", "\u{2028}", "\u{85}x",
        ]
        for p in paths {
            var spec = try RunSpec(yaml: baseYAML)
            spec.teachers[3].source = .checkpoint(path: p.isEmpty ? "x" : p)
            spec.dataset.path = p.isEmpty ? "/d" : p
            spec.teachers[0].model = modelSpec("mlp:784-64-10")
            expectRoundTrip(spec)
        }
        #expect(YAMLText.string("mlp:784-10,dropout=0.2") == "mlp:784-10,dropout=0.2")
        #expect(YAMLText.string("null") == "\"null\"")
        #expect(YAMLText.string("a\u{7}\"") == "\"a\\x07\\\"\"")
    }

    @Test("random valid specs round-trip exactly")
    func randomSpecs() {
        var rng = SplitMix64(seed: 0xD15_7111)
        for _ in 0..<300 {
            let spec = RandomSpec.make(&rng)
            let found = spec.problems()
            #expect(found.isEmpty, "generator made an invalid spec: \(found)")
            expectRoundTrip(spec)
        }
    }

    @Test("mangled spec text never crashes the parser and is either rejected with problems or valid")
    func mangledText() throws {
        let original = Array(try exampleSpecs().first { $0.name == "fashion-ensemble.yaml" }!.text.unicodeScalars)
        let inserts: [Unicode.Scalar] = [":", "-", " ", "\n", "{", "}", "[", "]", "\"", "'", "#", "&", "*", "!", "\t", "x", "9", ","]
        var rng = SplitMix64(seed: 42)
        var rejected = 0
        for _ in 0..<300 {
            var text = original
            for _ in 0..<Int.random(in: 1...3, using: &rng) {
                let i = Int.random(in: 0..<text.count, using: &rng)
                switch Int.random(in: 0..<3, using: &rng) {
                case 0: text.remove(at: i)
                case 1: text.insert(inserts.randomElement(using: &rng)!, at: i)
                default: text[i] = inserts.randomElement(using: &rng)!
                }
            }
            var view = String.UnicodeScalarView()
            view.append(contentsOf: text)
            let yaml = String(view)
            do throws(RunSpecErrors) {
                let spec = try RunSpec(yaml: yaml)
                #expect(spec.problems().isEmpty)
                expectRoundTrip(spec)
            } catch {
                rejected += 1
                #expect(!error.errors.isEmpty)
                #expect(error.errors.allSatisfy { !$0.message.isEmpty })
            }
        }
        #expect(rejected > 100)
    }
}

/// Random valid specs: every field drawn from its whole allowed range.
enum RandomSpec {
    static let models = [
        "mlp:784-10", "mlp:784-1200-1200-10,dropout=0.2", "mlp:784-64-10,bn,in-dropout=0.1",
        "cnn:1x28x28-c32-p2-c64-p2-fc256-fc10,bn,dropout=0.3", "cnn:1x28x28-c8k5s2p0-p3s1-fc10",
    ].map(modelSpec)
    static let optimizers = ["sgd", "momentum", "nesterov", "adamw", "adam"].map { parsed($0, OptimizerChoice.init(parsing:)) }
    static let schedules = ["constant", "cosine", "cosine:2", "cosine:0.5", "step:3:0.5", "step:1:1"]
        .map { parsed($0, ScheduleChoice.init(parsing:)) }
    static let nameCharacters = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-")
    static let pathCharacters = Array("abcXYZ019/._- #:'\"\\\n\té😀,[]{}&*!|>%@`~?")

    static func string(_ rng: inout SplitMix64, from alphabet: [Character], length: ClosedRange<Int>) -> String {
        String((0..<Int.random(in: length, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! })
    }

    static func float(_ rng: inout SplitMix64, _ range: ClosedRange<Float>) -> Float {
        switch Int.random(in: 0..<4, using: &rng) {
        case 0: return range.lowerBound
        case 1: return (Float.random(in: range, using: &rng) * 100).rounded() / 100
        default: return Float.random(in: range, using: &rng)
        }
    }

    static func recipe(_ rng: inout SplitMix64, maxBatch: Int) -> TeacherRecipe {
        TeacherRecipe(
            epochs: Int.random(in: 1...10_000, using: &rng), batch: Int.random(in: 1...maxBatch, using: &rng),
            learningRate: float(&rng, 1e-6...9.99), optimizer: optimizers.randomElement(using: &rng)!,
            weightDecay: float(&rng, 0...0.999), schedule: schedules.randomElement(using: &rng)!,
            seed: rng.next(), bootstrap: Bool.random(using: &rng))
    }

    static func make(_ rng: inout SplitMix64) -> RunSpec {
        let trainLimit = Bool.random(using: &rng) ? 0 : Int.random(in: 1000...60_000, using: &rng)
        let split = trainLimit == 0 ? 60_000 : trainLimit
        let dataset = DatasetSpec(name: "fashion-mnist", path: string(&rng, from: pathCharacters, length: 1...30),
                                  trainLimit: trainLimit, validation: Int.random(in: 0...(split - 1000), using: &rng))
        let teachers = (0..<Int.random(in: 1...6, using: &rng)).map { _ -> TeacherSpec in
            let model = models.randomElement(using: &rng)!
            if Bool.random(using: &rng) {
                return TeacherSpec(model: model, source: .checkpoint(path: string(&rng, from: pathCharacters, length: 1...40)))
            }
            return TeacherSpec(model: model, source: .train(recipe(&rng, maxBatch: 1000)))
        }
        let ensembleText: String
        switch Int.random(in: 0..<6, using: &rng) {
        case 0: ensembleText = "mean-probs"
        case 1: ensembleText = "mean"
        case 2: ensembleText = "mean-logits"
        case 3: ensembleText = "ebkd"
        case 4: ensembleText = "camkd"
        default: ensembleText = "weighted:" + teachers.map { _ in "\(float(&rng, 0.01...5))" }.joined(separator: "/")
        }
        let ensemble = parsed(ensembleText, EnsembleRule.init(parsing:))
        let distillation = DistillationSpec(
            mode: DistillationMode.allCases.randomElement(using: &rng)!, temperature: float(&rng, 0.01...100),
            alpha: float(&rng, 0...1), ensemble: ensemble, topK: Int.random(in: 0...9, using: &rng), float16: Bool.random(using: &rng))
        let replicas = Int.random(in: 1...64, using: &rng)
        let r = recipe(&rng, maxBatch: 1000)
        let training = TrainingSpec(epochs: r.epochs, batch: replicas * Int.random(in: 1...(1000 / replicas), using: &rng),
                                    learningRate: r.learningRate, optimizer: r.optimizer, weightDecay: r.weightDecay,
                                    schedule: r.schedule, seed: r.seed)
        return RunSpec(name: string(&rng, from: nameCharacters, length: 1...64), dataset: dataset, teachers: teachers,
                       student: StudentSpec(model: models.randomElement(using: &rng)!), distillation: distillation,
                       training: training, replicas: replicas, prefetch: Int.random(in: 1...64, using: &rng))
    }
}
