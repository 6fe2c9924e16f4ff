import Foundation
import Testing
@testable import RunSpec
import Distillation
import Training

@Suite("RunSpec: valid specs")
struct RunSpecParsingTests {
    @Test("a minimal spec gets every default")
    func defaults() throws {
        let spec = try RunSpec(yaml: """
            name: minimal
            teachers:
              - model: mlp:784-100-10
                train: {}
            student: { model: mlp:784-20-10 }
            """)
        #expect(spec.name == "minimal")
        #expect(spec.dataset == DatasetSpec(name: "fashion-mnist", path: "/usr/share/datasets/fashion-mnist", trainLimit: 0, validation: 5000))
        #expect(spec.teachers == [TeacherSpec(model: modelSpec("mlp:784-100-10"), source: .train(TeacherRecipe(
            epochs: 10, batch: 128, learningRate: 1e-3, optimizer: .adamw(beta1: 0.9, beta2: 0.999), weightDecay: 0,
            schedule: .cosine(warmupEpochs: 0), seed: 1, bootstrap: false)))])
        #expect(spec.student == StudentSpec(model: modelSpec("mlp:784-20-10")))
        #expect(spec.distillation == DistillationSpec(mode: .offline, temperature: 4, alpha: 0.9, ensemble: .meanProbabilities, topK: 0, float16: false))
        #expect(spec.training == TrainingSpec(epochs: 10, batch: 128, learningRate: 1e-3, optimizer: .adamw(beta1: 0.9, beta2: 0.999),
                                              weightDecay: 0, schedule: .cosine(warmupEpochs: 0), seed: 1))
        #expect(spec.replicas == 1)
        #expect(spec.prefetch == 4)
        #expect(spec.problems().isEmpty)
    }

    @Test("an empty train: means the default recipe, like train: {}")
    func emptyTrainIsDefaultRecipe() throws {
        let spec = try RunSpec(yaml: block(line: 4, "    train:").replacingOccurrences(of: "      epochs: 2\n      batch: 64\n", with: ""))
        #expect(spec.teachers[0].source == .train(TeacherRecipe()))
    }

    @Test("every value of the brief's example is read, flow and block style alike")
    func fullExample() throws {
        let spec = try RunSpec(yaml: """
            name: fashion-ensemble
            dataset: { name: fashion-mnist, path: /data/fmnist, train-limit: 0, validation: 5000 }
            teachers:
              - model: cnn:1x28x28-c32-p2-c64-p2-fc256-fc10,bn,dropout=0.3
                count: 3                     # seeds 1, 2, 3
                train: { epochs: 12, batch: 128, lr: 1e-3, optimizer: adamw, weight-decay: 0, schedule: cosine, seed: 1, bootstrap: false }
              - model: mlp:784-1200-1200-10,dropout=0.2
                checkpoint: teachers/mlp-t1.safetensors
            student: { model: mlp:784-140-140-10 }
            distillation: { mode: offline, temperature: 4, alpha: 0.9, ensemble: mean-probs, top-k: 0, float16: false }
            training: { epochs: 50, batch: 128, lr: 1e-3, optimizer: adamw, weight-decay: 0, schedule: cosine, seed: 1 }
            replicas: 2
            prefetch: 4
            """)
        #expect(spec.teachers.count == 4)
        #expect(spec.teachers[3] == TeacherSpec(model: modelSpec("mlp:784-1200-1200-10,dropout=0.2"),
                                                source: .checkpoint(path: "teachers/mlp-t1.safetensors")))
        #expect(spec.teachers[3].checkpointPath == "teachers/mlp-t1.safetensors")
        #expect(spec.teachers[0].recipe?.epochs == 12)
        #expect(spec.dataset.path == "/data/fmnist")
        #expect(spec.training.epochs == 50)
        #expect(spec.replicas == 2)

        let blockStyle = try RunSpec(yaml: """
            name: fashion-ensemble
            dataset:
              name: fashion-mnist
              path: /data/fmnist
            teachers:
              - model: cnn:1x28x28-c32-p2-c64-p2-fc256-fc10,bn,dropout=0.3
                count: 3
                train:
                  epochs: 12
              - checkpoint: teachers/mlp-t1.safetensors
                model: mlp:784-1200-1200-10,dropout=0.2
            student:
              model: mlp:784-140-140-10
            training:
              epochs: 50
            replicas: 2
            """)
        #expect(blockStyle == spec)
    }

    @Test("count expands a trained teacher into consecutive seeds, in place")
    func countExpansion() throws {
        let spec = try RunSpec(yaml: """
            name: expand
            teachers:
              - model: mlp:784-10
                train: { seed: 9 }
              - model: mlp:784-50-10
                count: 3
                train: { epochs: 4, seed: 5, bootstrap: true }
              - model: mlp:784-30-10
                checkpoint: /t/a.safetensors
                count: 1
            student: { model: mlp:784-10 }
            """)
        #expect(spec.teachers.map { $0.model?.description ?? "" } == ["mlp:784-10", "mlp:784-50-10", "mlp:784-50-10", "mlp:784-50-10", "mlp:784-30-10"])
        #expect(spec.teachers.compactMap(\.recipe?.seed) == [9, 5, 6, 7])
        #expect(spec.teachers[1...3].allSatisfy { $0.recipe?.bootstrap == true && $0.recipe?.epochs == 4 })
        #expect(spec.teachers[4].source == .checkpoint(path: "/t/a.safetensors"))
    }

    @Test("count works up to the largest seed")
    func countAtTheLastSeed() throws {
        let spec = try RunSpec(yaml: base(line: 6, "    train: { epochs: 2, batch: 64, seed: \(UInt64.max - 2) }"))
        #expect(spec.teachers.prefix(3).compactMap(\.recipe?.seed) == [UInt64.max - 2, UInt64.max - 1, UInt64.max])
    }

    @Test("numbers: exponents, integers for floats, hex-free integers; booleans; quoted strings")
    func scalarForms() throws {
        let spec = try RunSpec(yaml: """
            name: "quoted.name"
            teachers:
              - model: 'mlp:784-10'
                train: { lr: 5e-4, weight-decay: 0.5, epochs: +3, bootstrap: True, seed: 18446744073709551615 }
            student: { model: "mlp:784-10" }
            distillation: { temperature: 1, alpha: 0, float16: TRUE, ensemble: "weighted:2" }
            training: { lr: .5, weight-decay: 0.25, batch: 1 }
            """)
        #expect(spec.name == "quoted.name")
        let r = try #require(spec.teachers.first?.recipe)
        #expect(r.learningRate == Float("5e-4"))
        #expect(r.weightDecay == 0.5)
        #expect(r.epochs == 3)
        #expect(r.bootstrap)
        #expect(r.seed == UInt64.max)
        #expect(spec.distillation.temperature == 1)
        #expect(spec.distillation.alpha == 0)
        #expect(spec.distillation.float16)
        #expect(spec.distillation.ensemble == .weighted([2]))
        #expect(spec.training.learningRate == 0.5)
        #expect(spec.training.weightDecay == 0.25)
    }

    @Test("anchors and aliases share a recipe")
    func aliases() throws {
        let spec = try RunSpec(yaml: """
            name: aliased
            teachers:
              - model: mlp:784-10
                train: &recipe { epochs: 7, batch: 32, seed: 3 }
              - model: mlp:784-20-10
                train: *recipe
            student: { model: mlp:784-10 }
            """)
        #expect(spec.teachers.compactMap(\.recipe) == [TeacherRecipe(epochs: 7, batch: 32, seed: 3), TeacherRecipe(epochs: 7, batch: 32, seed: 3)])
    }

    @Test("the grammars of the other targets are accepted in full")
    func otherGrammars() throws {
        let spec = try RunSpec(yaml: """
            name: grammars
            teachers:
              - model: cnn:1x28x28-c16k5s1p2-p2s2-c32k3-p2-fc64-fc10,bn,dropout=0.25
                train: { optimizer: nesterov, schedule: "step:3:0.5" }
              - model: mlp:784-300-10,in-dropout=0.1,bn
                train: { optimizer: sgd, schedule: "cosine:2" }
              - model: mlp:784-10
                train: { optimizer: adam, schedule: constant }
            student: { model: mlp:784-10 }
            distillation: { ensemble: "weighted:0.5/0.3/0.2", mode: online, top-k: 9 }
            """)
        #expect(spec.distillation.ensemble.description == "weighted:0.5/0.3/0.2")
        #expect(spec.distillation.mode == .online)
        #expect(spec.distillation.topK == 9)
        #expect(spec.distillation.ensemble == .weighted([0.5, 0.3, 0.2]))
        #expect(spec.teachers[0].model?.inputShape == [1, 28, 28])
        let settings = try #require(try spec.teachers[0].recipe?.trainingSettings(stepsPerEpoch: 100))
        #expect(settings.optimizer == .sgd(momentum: 0.9, nesterov: true))
        #expect(settings.schedule == .step(every: 300, gamma: 0.5))
        #expect(try spec.training.trainingSettings(stepsPerEpoch: 10).schedule == .cosine(warmup: 0, minimum: 0))
    }

    @Test("data set facts follow train-limit and validation")
    func datasetFacts() throws {
        let spec = try RunSpec(yaml: baseYAML)
        #expect(spec.dataset.classCount == 10)
        #expect(spec.dataset.sampleShape == [1, 28, 28])
        #expect(spec.dataset.trainSplitCount == 2000)
        #expect(spec.dataset.trainingCount == 1500)
        #expect(DatasetSpec().trainSplitCount == 60_000)
        #expect(DatasetSpec().trainingCount == 55_000)
    }

    @Test("every Cluster/runs/*.yaml parses, and the recipes are what they say")
    func examples() throws {
        let examples = try exampleSpecs()
        #expect(Set(examples.map(\.name)).isSuperset(of: ["fashion-ensemble.yaml", "quick.yaml", "online.yaml"]))
        for (name, text) in examples {
            do {
                let spec = try RunSpec(yaml: text, fileName: name)
                #expect(spec.problems().isEmpty, "\(name)")
            } catch {
                Issue.record("\(error)")
            }
        }
        let dir = repositoryRoot().appendingPathComponent("Cluster/runs").path
        let fashion = try RunSpec(contentsOfFile: dir + "/fashion-ensemble.yaml")
        #expect(fashion.teachers.count == 3, "one per teacher worker of Cluster/local.yaml")
        #expect(fashion.teachers.allSatisfy { $0.model?.description == "cnn:1x28x28-c32-p2-c64-p2-fc256-fc10,bn,dropout=0.3" && $0.recipe?.epochs == 12 })
        #expect(fashion.teachers.compactMap(\.recipe?.seed) == [1, 2, 3])
        #expect(fashion.student.model.description == "mlp:784-140-140-10")
        #expect(fashion.distillation == DistillationSpec(mode: .offline, temperature: 4, alpha: 0.9, ensemble: .meanProbabilities))
        #expect(fashion.training.epochs == 50)
        #expect(fashion.training.learningRate == 1e-3)
        #expect(fashion.replicas == 2)

        let quick = try RunSpec(contentsOfFile: dir + "/quick.yaml")
        #expect(quick.dataset.trainLimit == 2000)
        #expect(quick.teachers.count == 2)
        #expect(quick.teachers.allSatisfy { ($0.model?.description.hasPrefix("mlp:") ?? false) && (1...2).contains($0.recipe?.epochs ?? 0) })
        #expect(quick.student.model.description == "mlp:784-32-10")
        #expect(quick.training.epochs == 2)
        #expect(quick.replicas == 2)

        let online = try RunSpec(contentsOfFile: dir + "/online.yaml")
        #expect(online.distillation.mode == .online)
    }

    @Test("problems() checks values built in code, with expanded teacher indices")
    func problemsOfValues() {
        var spec = RunSpec(name: "in code", teachers: [
            TeacherSpec(model: modelSpec("mlp:784-10"), source: .train(TeacherRecipe())),
            TeacherSpec(model: modelSpec("mlp:784-10"), source: .train(TeacherRecipe(epochs: 0))),
        ], student: StudentSpec(model: modelSpec("mlp:784-10")))
        spec.replicas = 3
        spec.distillation.ensemble = .weighted([1, 2, 3])
        let found = spec.problems()
        #expect(found.map(\.field) == ["name", "teachers[1].train.epochs", "distillation.ensemble", "training.batch"])
        #expect(found.allSatisfy { $0.line == nil })
    }

    @Test("error descriptions name the file, the count, the field and the line")
    func descriptions() {
        #expect(RunSpecError(field: "teachers[1].train.epochs", message: "must be x", line: 12).description
                == "teachers[1].train.epochs (line 12): must be x")
        #expect(RunSpecError(field: "replicas", message: "m").description == "replicas: m")
        #expect(RunSpecError(field: "", message: "m", line: 3).description == "line 3: m")
        let errors = RunSpecErrors(fileName: "fashion.yaml", errors: [
            RunSpecError(field: "a", message: "x", line: 1), RunSpecError(field: "b", message: "y"),
        ])
        #expect(errors.description == "fashion.yaml: 2 problems:\n  - a (line 1): x\n  - b: y")
        #expect(RunSpecErrors(fileName: "f", errors: [RunSpecError(field: "", message: "m")]).description == "f: 1 problem:\n  - m")
    }
}
