import Distillation
import Foundation
import NN
import Testing
@testable import RunSpec
import Training

/// Models, optimizers, schedules and ensemble rules are typed values, parsed once by the
/// parser: aliases become one value with one canonical spelling, and errors are those of
/// their grammars, at their fields.
@Suite("RunSpec: typed fields")
struct RunSpecTypedFieldsTests {
    static let aliases = """
        name: aliases
        teachers:
          - model: mlp:784-64-10,dropout=0.20,bn
            train: { optimizer: adam, schedule: "step:3.0:0.50" }
          - model: mlp:784-10
            train: { optimizer: momentum, schedule: "cosine:0" }
        student: { model: "mlp:784-10" }
        distillation: { ensemble: entropy }
        training: { optimizer: nesterov, schedule: "cosine:1.5" }
        """

    @Test("aliases and alternative spellings parse to typed values")
    func typedValues() throws {
        let spec = try RunSpec(yaml: Self.aliases)
        #expect(spec.teachers[0].model == modelSpec("mlp:784-64-10,bn,dropout=0.2"))
        #expect(spec.teachers[0].recipe?.optimizer == .adamw(beta1: 0.9, beta2: 0.999))
        #expect(spec.teachers[0].recipe?.schedule == .step(everyEpochs: 3, gamma: 0.5))
        #expect(spec.teachers[1].recipe?.optimizer == .sgd(momentum: 0.9, nesterov: false))
        #expect(spec.teachers[1].recipe?.schedule == .cosine(warmupEpochs: 0))
        #expect(spec.distillation.ensemble == .entropyWeighted)
        #expect(spec.training.optimizer == .sgd(momentum: 0.9, nesterov: true))
        #expect(spec.training.schedule == .cosine(warmupEpochs: 1.5))
    }

    @Test("the canonical YAML writes canonical spellings, never the alias, and reads back equal")
    func canonicalSpellings() throws {
        let spec = try RunSpec(yaml: Self.aliases)
        let text = spec.canonicalYAML()
        for line in ["  - model: mlp:784-64-10,bn,dropout=0.2\n", "      optimizer: adamw\n", "      schedule: step:3:0.5\n",
                     "      optimizer: momentum\n", "      schedule: cosine\n", "  ensemble: ebkd\n",
                     "  optimizer: nesterov\n", "  schedule: cosine:1.5\n"] {
            #expect(text.contains(line), "\(line) in\n\(text)")
        }
        for alias in ["adam\n", "entropy", "dropout=0.20", "step:3.0", "cosine:0\n"] {
            #expect(!text.contains(alias), "\(alias) in\n\(text)")
        }
        #expect(try RunSpec(yaml: text) == spec)
        let mean = try RunSpec(yaml: base(line: 10, "distillation: { ensemble: mean }"))
        #expect(mean.distillation.ensemble == .meanProbabilities)
        #expect(mean.canonicalYAML().contains("  ensemble: mean-probs\n"))
    }

    @Test("a grammar error is reported once for a teacher expanded by count, on its key's line")
    func grammarErrorOncePerEntry() throws {
        let yaml = """
            name: counted
            teachers:
              - model: mlp:784-10
                count: 3
                train:
                  optimizer: adagrad
            student: { model: mlp:784-10 }
            """
        let e = try #require(onlyProblem(yaml))
        #expect(e.field == "teachers[0].train.optimizer")
        #expect(e.line == 6)
        #expect(e.message == "optimizer 'adagrad' is unknown; allowed: \(OptimizerChoice.allowed)")
    }

    @Test("a value that is no string still says what the grammar allows")
    func notAString() throws {
        let e = try #require(onlyProblem(base(line: 11, "training: { batch: 64, schedule: [cosine] }")))
        #expect(e.field == "training.schedule")
        #expect(e.message == "must be one of constant, cosine, cosine:WARMUP_EPOCHS, step:EPOCHS:GAMMA, got a list")
        let model = try #require(onlyProblem(base(line: 9, "student: { model: { mlp: 1 } }")))
        #expect(model.field == "student.model")
        #expect(model.message.hasPrefix("must be a model spec such as mlp:784-1200-1200-10,dropout=0.2"))
    }

    @Test("a bad model and a value check of another field are both reported")
    func grammarAndRangeErrorsTogether() {
        let found = problems(base(line: 6, "    train: { batch: 64, lr: 20, optimizer: adagrad }"))
        #expect(Set(found.map(\.field)) == ["teachers[0].train.lr", "teachers[0].train.optimizer"])
        #expect(found.allSatisfy { $0.line == 6 })
    }

    @Test("an infinite warm-up or step is refused with the grammar's message, not trapped on")
    func infiniteEpochs() throws {
        let warm = try #require(onlyProblem(base(line: 11, "training: { batch: 64, schedule: \"cosine:inf\" }")))
        #expect(warm.message == "schedule 'cosine:inf': warm-up must be a number of epochs ≥ 0")
        let step = try #require(onlyProblem(base(line: 11, "training: { batch: 64, schedule: \"step:1e400:0.5\" }")))
        #expect(step.message.hasPrefix("schedule 'step:1e400:0.5': expected step:EPOCHS:GAMMA"))
        #expect(ScheduleChoice.cosine(warmupEpochs: 1e300).schedule(stepsPerEpoch: 100) == .cosine(warmup: Int.max / 2, minimum: 0))
    }

    @Test("a schedule in epochs becomes the same steps as the text did")
    func scheduleSteps() throws {
        let cases: [(String, LearningRateSchedule)] = [
            ("constant", .constant), ("cosine", .cosine(warmup: 0, minimum: 0)), ("cosine:1", .cosine(warmup: 10, minimum: 0)),
            ("cosine:0.55", .cosine(warmup: 5, minimum: 0)), ("step:2:0.5", .step(every: 20, gamma: 0.5)),
            ("step:0.01:1", .step(every: 1, gamma: 1)),
        ]
        for (text, steps) in cases {
            let choice = parsed(text, ScheduleChoice.init(parsing:))
            #expect(choice.schedule(stepsPerEpoch: 10) == steps, "\(text)")
            #expect(try TrainingSettings.parseSchedule(text, stepsPerEpoch: 10) == steps, "\(text)")
            #expect(parsed(choice.description, ScheduleChoice.init(parsing:)) == choice, "\(text) → \(choice)")
        }
    }

    @Test("the typed settings reach the trainer's settings unchanged")
    func trainingSettings() throws {
        let spec = try RunSpec(yaml: Self.aliases)
        let teacher = try #require(try spec.teachers[0].recipe?.trainingSettings(stepsPerEpoch: 100))
        #expect(teacher.optimizer == .adamw(beta1: 0.9, beta2: 0.999))
        #expect(teacher.schedule == .step(every: 300, gamma: 0.5))
        let student = try spec.training.trainingSettings(stepsPerEpoch: 10)
        #expect(student.optimizer == .sgd(momentum: 0.9, nesterov: true))
        #expect(student.schedule == .cosine(warmup: 15, minimum: 0))
    }
}
