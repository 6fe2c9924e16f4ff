import ONNX
import Testing

@Suite struct ONNXFormatTests {
    @Test func supportedOpsetsAreThoseTorchExports() {
        #expect(ONNXFormat.supportedOpsets.contains(13))
        #expect(ONNXFormat.supportedOpsets.contains(17))
        #expect(ONNXFormat.supportedOpsets.contains(18))
        #expect(!ONNXFormat.supportedOpsets.contains(12))
    }
}
