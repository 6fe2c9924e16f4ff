import Foundation
import NN
import Testing

/// The resume checkpoint file (docs/PROTOCOL.md "Resume"): exact round trip of the state and
/// the soft-label cache, a header readable on its own, and clear refusals of other files.
@Suite struct ResumeCheckpointTests {
    static let sample = ResumeCheckpoint(runID: "run-7", step: 1200, stepsPerEpoch: 429, totalSteps: 4290, replicas: 3,
                                         student: "mlp:784-64-10",
                                         state: [1.5, -0, .leastNonzeroMagnitude, 3e38, -2.25],
                                         cache: [1, 0, 0.25, 0.75, 0, 0])

    @Test func aCheckpointRoundTripsBitForBit() throws {
        let bytes = Self.sample.encoded()
        let back = try ResumeCheckpoint(bytes: bytes, source: "mem")
        #expect(back == Self.sample)
        #expect(back.state.map(\.bitPattern) == Self.sample.state.map(\.bitPattern), "−0 and subnormals kept")
        #expect(back.epoch == 2)
        let summary = try ResumeCheckpoint.summary(of: bytes, source: "mem")
        #expect(summary.runID == "run-7" && summary.step == 1200 && summary.epoch == 2 && summary.totalSteps == 4290
            && summary.replicas == 3)
    }

    @Test func withoutACacheThereIsNoCacheTensor() throws {
        var plain = Self.sample
        plain.cache = []
        let file = try SafeTensors.decode(plain.encoded(), source: "mem")
        #expect(file.tensors.map(\.name) == ["state"])
        #expect(try ResumeCheckpoint(bytes: plain.encoded(), source: "mem") == plain)
    }

    @Test func anotherSafetensorsFileIsRefusedSayingWhatItIs() throws {
        let model = SafeTensors(tensors: [SafeTensors.Tensor(name: "w", shape: [1], floats: [1])], metadata: ["format": "pt"])
        #expect(throws: CheckpointError.invalidMetadata(source: "student.safetensors", key: "format", value: "pt version ",
                                                        reason: "not a Distillery resume checkpoint ('distillery.resume' version 1)")) {
            try ResumeCheckpoint(bytes: model.encoded(), source: "student.safetensors")
        }
        let noState = SafeTensors(tensors: [SafeTensors.Tensor(name: "cache", shape: [1], floats: [1])],
                                  metadata: ["format": ResumeCheckpoint.format, "version": "1", "step": "1", "epoch": "0",
                                             "total_steps": "2", "replicas": "1"])
        #expect(throws: CheckpointError.missingTensor(source: "x", name: "state")) {
            try ResumeCheckpoint(bytes: noState.encoded(), source: "x")
        }
    }
}
