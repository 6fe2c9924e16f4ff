import Datasets
import Testing
@testable import RunSpec

/// `dataset.format: npz`, pre-processing, and `onnx:` teachers.
@Suite("RunSpec: npz data sets, pre-processing and ONNX teachers")
struct RunSpecDataFormatsTests {
    static let npz = """
        name: rows
        dataset:
          format: npz
          path: /data/covtype.npz
          arrays: { x-train: X, y-test: labels_test }
          classes: 7
          scale: 0.5
          mean: [0.1, 0.2]
          std: [1, 2]
          validation: 100
        teachers:
          - onnx: /models/t1.onnx
          - model: mlp:54-32-7
            train: { epochs: 1 }
        student: { model: mlp:54-16-7 }

        """

    @Test("an npz data set: path, array names, classes, scale and per-channel statistics; ONNX teachers have no model")
    func npzSpec() throws {
        let spec = try RunSpec(yaml: Self.npz)
        #expect(spec.dataset.format == .npz)
        #expect(spec.dataset.name == "covtype")  // the file's name
        #expect(spec.dataset.arrays == NumPyArrayNames(xTrain: "X", yTrain: "y_train", xTest: "x_test", yTest: "labels_test"))
        #expect(spec.dataset.classes == 7)
        #expect(spec.dataset.preprocessing == Preprocessing(scale: 0.5, statistics: .given(Normalization(mean: [0.1, 0.2], std: [1, 2]))))
        #expect(spec.dataset.knownFacts == nil)
        #expect(spec.teachers[0] == TeacherSpec(onnx: "/models/t1.onnx"))
        #expect(spec.teachers[0].model == nil && spec.teachers[0].onnxPath == "/models/t1.onnx")
        #expect(spec.teachers[1].model?.description == "mlp:54-32-7")
        // The canonical text writes every field and reads back to the same spec.
        let again = try RunSpec(yaml: spec.canonicalYAML())
        #expect(again == spec)
        #expect(spec.canonicalYAML().contains("  - onnx: /models/t1.onnx\n"))
    }

    @Test("defaults: idx scales bytes by 1/255 and fits mean and std; npz does nothing; fit can be written out")
    func defaults() throws {
        #expect(DatasetSpec().preprocessing == .idxDefault)
        #expect(DatasetSpec(format: .npz).preprocessing == .none)
        let fitted = try RunSpec(yaml: base(line: 2, "dataset: { train-limit: 2000, validation: 500, mean: fit, std: fit }"))
        #expect(fitted.dataset.preprocessing == .idxDefault)
        let given = try RunSpec(yaml: base(line: 2, "dataset: { train-limit: 2000, validation: 500, mean: 0.286, std: 0.353 }"))
        #expect(given.dataset.preprocessing == Preprocessing(scale: 1.0 / 255.0, statistics: .given(Normalization(mean: 0.286, std: 0.353))))
        let npz = try RunSpec(yaml: Self.npz.replacingOccurrences(of: "  scale: 0.5\n  mean: [0.1, 0.2]\n  std: [1, 2]\n", with: ""))
        #expect(npz.dataset.preprocessing == .none)
        #expect(try RunSpec(yaml: RunSpec(yaml: baseYAML).canonicalYAML()).dataset.preprocessing == .idxDefault)
    }

    @Test("each problem of the new keys names its field and what to do")
    func problemsOfNewKeys() throws {
        func only(_ yaml: String) throws -> RunSpecError { try #require(onlyProblem(yaml)) }
        let arrays = try only(base(line: 2, "dataset: { train-limit: 2000, validation: 500, arrays: { x-train: a } }"))
        #expect(arrays.field == "dataset.arrays" && arrays.message.contains("applies to format: npz only"))
        let half = try only(base(line: 2, "dataset: { train-limit: 2000, validation: 500, mean: 0.5 }"))
        #expect(half.field == "dataset.std" && half.message.contains("give both"))
        let mixed = try only(base(line: 2, "dataset: { train-limit: 2000, validation: 500, mean: fit, std: 0.3 }"))
        #expect(mixed.message.contains("mean: fit and std: fit go together"))
        let word = try only(base(line: 2, "dataset: { train-limit: 2000, validation: 500, mean: auto, std: fit }"))
        #expect(word.field == "dataset.mean" && word.message.contains("a number, a list of numbers (one per channel or feature), or fit"))
        let counts = try only(base(line: 2, "dataset: { train-limit: 2000, validation: 500, mean: [0.1, 0.2], std: [1] }"))
        #expect(counts.message.contains("the same number of values"))
        let channels = try only(base(line: 2, "dataset: { train-limit: 2000, validation: 500, mean: [0.1, 0.2], std: [1, 1] }"))
        #expect(channels.field == "dataset.mean" && channels.message.contains("samples are 1x28x28: give one value, or one per channel (1)"))
        let scale = try only(base(line: 2, "dataset: { train-limit: 2000, validation: 500, scale: 0 }"))
        #expect(scale.field == "dataset.scale" && scale.message.contains("a positive number"))
        let classes = try only(base(line: 2, "dataset: { train-limit: 2000, validation: 500, classes: 7 }"))
        #expect(classes.field == "dataset.classes" && classes.message.contains("fashion-mnist has 10 classes"))
        let format = try only(base(line: 2, "dataset: { format: csv }"))
        #expect(format.field == "dataset.format" && format.message.contains("one of idx, npz"))
        let noPath = try only(Self.npz.replacingOccurrences(of: "  path: /data/covtype.npz\n", with: ""))
        #expect(noPath.field == "dataset.path" && noPath.message.contains("the .npz file"))
        let oneClass = try only(Self.npz.replacingOccurrences(of: "classes: 7", with: "classes: 1"))
        #expect(oneClass.field == "dataset.classes" && oneClass.message.contains("2…65536"))
    }

    @Test("an onnx: teacher takes nothing else and refuses online runs, saying why")
    func onnxTeacherRules() throws {
        let withModel = try #require(onlyProblem(Self.npz.replacingOccurrences(
            of: "  - onnx: /models/t1.onnx\n", with: "  - onnx: /models/t1.onnx\n    model: mlp:54-7\n")))
        #expect(withModel.field == "teachers[0].model" && withModel.message.contains("the ONNX graph is the model"))
        let trained = try #require(onlyProblem(Self.npz.replacingOccurrences(
            of: "  - onnx: /models/t1.onnx\n", with: "  - onnx: /models/t1.onnx\n    train: {}\n")))
        #expect(trained.message.contains("frozen"))
        let online = try #require(onlyProblem(Self.npz + "distillation: { mode: online }\n"))
        #expect(online.field == "teachers[0].onnx")
        #expect(online.message.contains("cannot take part in an online run; use mode: offline"))
        // Relative ONNX paths resolve against the spec's directory and are refused by the coordinator.
        let relative = try RunSpec(yaml: Self.npz.replacingOccurrences(of: "/models/t1.onnx", with: "models/t1.onnx"))
        #expect(relative.relativePathProblems().map(\.field) == ["teachers[0].onnx"])
        #expect(relative.resolvingPaths(relativeTo: "/srv/runs").teachers[0].onnxPath == "/srv/runs/models/t1.onnx")
    }

    @Test("with an npz file's facts, models, statistics and sizes are checked against them")
    func problemsWithFacts() throws {
        let spec = try RunSpec(yaml: Self.npz)
        // 54 features in 2 channels cannot be: rows of [54] take one value or 54.
        let rows = DatasetFacts(trainCount: 1000, testCount: 200, classes: 7, sampleShape: [54])
        #expect(spec.problems(facts: rows).map(\.field) == ["dataset.mean"])
        var fixed = spec
        fixed.dataset.preprocessing = .none
        #expect(fixed.problems(facts: rows).isEmpty)
        let other = DatasetFacts(trainCount: 100, testCount: 20, classes: 5, sampleShape: [10])
        let found = fixed.problems(facts: other)
        #expect(found.map(\.field) == ["dataset.validation", "student.model", "teachers[1].model"], "\(found)")
        #expect(found[1].message.contains("takes 54 inputs but covtype samples are 10 = 10 features; start the mlp with 10"))
        // Without facts (as parsed), nothing of that is checked yet.
        #expect(fixed.problems().isEmpty)
    }
}
