import Datasets
import ONNX
import RunSpec

extension CheckedSpec {
    /// The submission checks that read files (on the spec-checking thread, never the actor):
    /// an npz data set's arrays — their names, dtypes, shapes, counts, labels and values —,
    /// then every rule that needs its sample shape, classes and sizes (``RunSpec/problems(facts:)``),
    /// and every ONNX teacher's graph, planned for the data set's samples and checked to give
    /// one logit per class. Each problem names its field (`dataset.path`, `teachers[i].onnx`).
    static func dataProblems(_ spec: RunSpec) -> [RunSpecError] {
        var facts = spec.dataset.knownFacts
        var problems: [RunSpecError] = []
        if spec.dataset.format == .npz {
            let d = spec.dataset
            do {
                let data = try NumPyDataset(path: d.path, names: d.arrays, classes: d.classes > 0 ? d.classes : nil)
                let read = DatasetFacts(trainCount: data.train.count, testCount: data.test.count, classes: data.classCount,
                                        sampleShape: data.sampleShape)
                facts = read
                problems += spec.problems(facts: read)
            } catch {
                return [RunSpecError(field: "dataset.path", message: error.description)]
            }
        }
        guard let facts else { return problems }
        for (i, teacher) in spec.teachers.enumerated() {
            guard let path = teacher.onnxPath else { continue }
            do {
                _ = try ONNXProgram.teacher(path: path, sampleShape: facts.sampleShape, classes: facts.classes)
            } catch {
                problems.append(RunSpecError(field: "teachers[\(i)].onnx", message: error.description))
            }
        }
        return problems
    }
}
