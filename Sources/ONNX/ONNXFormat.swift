/// Facts of the ONNX format that Distillery supports: which operator-set versions of the
/// default domain (`""` or `ai.onnx`) a model may import. `torch.onnx.export` writes opset 17
/// by default in older PyTorch and 18 in current PyTorch.
public enum ONNXFormat {
    /// Operator-set versions of the default domain that models may use.
    public static let supportedOpsets: ClosedRange<Int> = 13...18
    /// The IR version Distillery writes (ONNX 1.13+: IR 8 goes with opsets up to 18).
    public static let writtenIRVersion = 8
}
