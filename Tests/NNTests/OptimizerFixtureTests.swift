import DistilleryTestKit
import NN
import Tensor
import Testing

/// Three steps of each optimizer and the LR schedules against PyTorch.
@Suite struct OptimizerFixtureTests {
    @Test(arguments: ["sgd", "sgd_momentum", "sgd_nesterov", "adamw"])
    func optimizerMatchesPyTorch(name: String) throws {
        let f = try fixture(name)
        var p = try f.values("p0")
        let lr = f.metaFloat("lr")!
        let opt: any Optimizer
        switch name {
        case "adamw":
            opt = AdamW(parameterCount: p.count, beta1: 0.9, beta2: 0.999, epsilon: f.metaFloat("eps") ?? 1e-8,
                        weightDecay: f.metaFloat("weight_decay")!)
        default:
            opt = SGD(parameterCount: p.count, momentum: f.metaFloat("momentum") ?? 0,
                      nesterov: f.meta("nesterov") == "true", weightDecay: f.metaFloat("weight_decay") ?? 0)
        }
        for k in 1...3 {
            let g = try f.values("g\(k)")
            p.withUnsafeMutableBufferPointer { pp in
                opt.step(parameters: pp.baseAddress!, gradients: g, count: g.count, learningRate: lr)
            }
            assertClose(p, try f.values("p\(k)"), atol: 1e-6, "\(name) step \(k)")
        }
        #expect(opt.stepCount == 3)
    }

    @Test func schedulesMatchPyTorch() throws {
        let f = try fixture("schedules")
        let stepLR = (0..<10).map { LearningRateSchedule.step(every: 3, gamma: 0.5).rate(base: 0.1, step: $0, totalSteps: 10) }
        assertClose(stepLR, try f.values("step_lr"), "StepLR")
        let cosine = (0...10).map { LearningRateSchedule.cosine(warmup: 0, minimum: 0.001).rate(base: 0.1, step: $0, totalSteps: 10) }
        assertClose(cosine, try f.values("cosine_lr"), "CosineAnnealingLR")
    }

    @Test func warmupRisesLinearlyThenDecays() {
        let s = LearningRateSchedule.cosine(warmup: 4, minimum: 0)
        let rates = (0..<20).map { s.rate(base: 1, step: $0, totalSteps: 20) }
        assertClose(Array(rates.prefix(4)), [0.25, 0.5, 0.75, 1.0], "warm-up")
        #expect(zip(rates.dropFirst(4), rates.dropFirst(5)).allSatisfy { $0 >= $1 }, "cosine part must not increase")
        #expect(rates.last! < 0.02)
    }
}
