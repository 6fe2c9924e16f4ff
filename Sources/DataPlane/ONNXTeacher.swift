import NN
import ONNX

/// An ONNX teacher on a worker: the model file read, checked and planned for the run's sample
/// shape and classes (docs/ARCHITECTURE.md "ONNX teachers"); it serves logits like any teacher.
enum ONNXTeacher {
    static func load(path: String, sampleShape: [Int], classes: Int) throws(ONNXError) -> any InferenceModel {
        try ONNXProgram.teacher(path: path, sampleShape: sampleShape, classes: classes)
    }
}
