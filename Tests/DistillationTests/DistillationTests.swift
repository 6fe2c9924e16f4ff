import Foundation
import DistilleryTestKit
import Distillation
import Tensor
import Testing

private let fixtures = Bundle.module.resourceURL!.appendingPathComponent("Fixtures")

@Suite struct KDLossTests {
    /// α·T²·KL + (1−α)·CE and its gradient against PyTorch for several (T, α).
    @Test(arguments: [("4", "0.7"), ("1", "1.0"), ("2", "0.0"), ("8", "0.9")])
    func matchesPyTorch(t: String, a: String) throws {
        let f = try Fixture("kd_loss", directory: fixtures)
        let s = try f.values("student"), teacher = try f.values("teacher"), y = try f.labels()
        let T = Float(t)!, alpha = Float(a)!
        var target = [Float](repeating: 0, count: teacher.count)
        Rows.softmax(teacher, &target, rows: 6, cols: 10, temperature: T)
        var g = [Float](repeating: 0, count: s.count)
        let loss = KDLoss(temperature: T, alpha: alpha)
        let v = g.withUnsafeMutableBufferPointer {
            loss.evaluate(student: s, target: target, labels: y, batch: 6, classes: 10, gradient: $0.baseAddress!)
        }
        assertClose(v.total, try f.scalar("loss_T\(t)_a\(a)"), "loss T=\(t) α=\(a)")
        assertClose(g, try f.values("dstudent_T\(t)_a\(a)"), atol: 1e-6, "dstudent T=\(t) α=\(a)")
    }

    @Test func softTargetsMatchPyTorch() throws {
        let f = try Fixture("kd_loss_soft_targets", directory: fixtures)
        let s = try f.values("student"), target = try f.values("target"), y = try f.labels()
        var g = [Float](repeating: 0, count: s.count)
        let v = g.withUnsafeMutableBufferPointer {
            KDLoss(temperature: 3, alpha: 0.5).evaluate(student: s, target: target, labels: y, batch: 6, classes: 10, gradient: $0.baseAddress!)
        }
        assertClose(v.total, try f.scalar("loss"), "loss")
        assertClose(g, try f.values("dstudent"), atol: 1e-6, "dstudent")
    }

    @Test(arguments: [(Float(4), Float(0.7), Float(0)), (2, 0.5, 0.1), (1, 0, 0.2)])
    func finiteDifferences(T: Float, alpha: Float, smoothing: Float) {
        var rng = SplitMix64(seed: 3)
        let z0 = (0..<30).map { _ in rng.uniform(-3, 3) }
        let tl = (0..<30).map { _ in rng.uniform(-3, 3) }
        var target = [Float](repeating: 0, count: 30)
        Rows.softmax(tl, &target, rows: 3, cols: 10, temperature: T)
        let labels: [Int32] = [1, 9, 4]
        let loss = KDLoss(temperature: T, alpha: alpha, labelSmoothing: smoothing)
        var g = [Float](repeating: 0, count: 30)
        _ = g.withUnsafeMutableBufferPointer { loss.evaluate(student: z0, target: target, labels: labels, batch: 3, classes: 10, gradient: $0.baseAddress!) }
        var z = z0
        let numeric = z.withUnsafeMutableBufferPointer { zp in
            numericGradient(at: zp.baseAddress!, indices: Array(0..<30), step: 1e-2) {
                Double(loss.evaluate(student: zp.baseAddress!, target: target, labels: labels, batch: 3, classes: 10, gradient: nil).total)
            }
        }
        assertClose(g, numeric, rtol: 2e-2, atol: 1e-3, "KD T=\(T) α=\(alpha) ε=\(smoothing)")
    }

    @Test func identicalDistributionsHaveZeroSoftLoss() {
        let z: [Float] = [1, 2, 3, -1, 0.5, 0.2]
        var target = [Float](repeating: 0, count: 6)
        Rows.softmax(z, &target, rows: 2, cols: 3, temperature: 5)
        let v = KDLoss(temperature: 5, alpha: 1).evaluate(student: z, target: target, labels: nil, batch: 2, classes: 3, gradient: nil)
        #expect(abs(v.soft) < 1e-6)
    }

    @Test func maskedLabelsDropTheHardTerm() {
        let z: [Float] = [1, 2, 3, -1, 0.5, 0.2]
        let target: [Float] = [0.2, 0.3, 0.5, 0.1, 0.1, 0.8]
        let labels: [Int32] = [0, 1]
        let all = KDLoss(temperature: 2, alpha: 0.5).evaluate(student: z, target: target, labels: labels, batch: 2, classes: 3, gradient: nil)
        let none = KDLoss(temperature: 2, alpha: 0.5).evaluate(student: z, target: target, labels: labels, batch: 2, classes: 3, gradient: nil, labelMask: [0, 0])
        #expect(all.hard > 0)
        #expect(none.hard == 0)
        #expect(abs(none.soft - all.soft) < 1e-6)
    }

    @Test func rejectsBadSettings() {
        #expect(KDLoss(temperature: 0, alpha: 0.5).problem != nil)
        #expect(KDLoss(temperature: 4, alpha: 1.5).problem != nil)
        #expect(KDLoss(temperature: 4, alpha: 0.5).problem == nil)
    }
}

@Suite struct EnsembleRuleTests {
    func compute(_ rule: EnsembleRule, _ f: Fixture) throws -> (target: [Float], weights: [Float]) {
        let all = try f.values("teachers"), labels = try f.labels()
        var target = [Float](repeating: 0, count: 60), weights = [Float](repeating: 0, count: 18)
        all.withUnsafeBufferPointer { p in
            let teachers = (0..<3).map { UnsafePointer(p.baseAddress! + $0 * 60) }
            target.withUnsafeMutableBufferPointer { t in
                weights.withUnsafeMutableBufferPointer { w in
                    rule.target(teachers: teachers, labels: labels, batch: 6, classes: 10, temperature: 2,
                                into: t.baseAddress!, weights: w.baseAddress!)
                }
            }
        }
        return (target, weights)
    }

    @Test func rulesMatchPyTorch() throws {
        let f = try Fixture("ensembles", directory: fixtures)
        let w = try f.values("weights")
        assertClose(try compute(.meanProbabilities, f).target, try f.values("mean_probs"), "mean-probs")
        assertClose(try compute(.meanLogits, f).target, try f.values("mean_logits"), "mean-logits")
        assertClose(try compute(.weighted(w), f).target, try f.values("static"), "weighted")
        let ebkd = try compute(.entropyWeighted, f)
        assertClose(ebkd.target, try f.values("ebkd"), "ebkd")
        assertClose(ebkd.weights, try f.values("ebkd_weights"), "ebkd weights")
        let camkd = try compute(.confidenceWeighted, f)
        assertClose(camkd.target, try f.values("camkd"), "camkd")
        assertClose(camkd.weights, try f.values("camkd_weights"), "camkd weights")
    }

    @Test func targetsAreDistributionsAndWeightsSumToOne() throws {
        let f = try Fixture("ensembles", directory: fixtures)
        for rule: EnsembleRule in [.meanProbabilities, .meanLogits, .weighted([1, 2, 3]), .entropyWeighted, .confidenceWeighted] {
            let (t, w) = try compute(rule, f)
            for b in 0..<6 {
                #expect(abs(t[(b * 10)..<(b * 10 + 10)].reduce(0, +) - 1) < 1e-5, "\(rule) row \(b)")
                #expect(abs((0..<3).map { w[$0 * 6 + b] }.reduce(0, +) - 1) < 1e-5, "\(rule) weights \(b)")
            }
        }
    }

    @Test func parsesAndRejects() throws {
        #expect(try EnsembleRule(parsing: "mean") == .meanProbabilities)
        #expect(try EnsembleRule(parsing: "weighted:1/2/1") == .weighted([1, 2, 1]))
        #expect(try EnsembleRule(parsing: EnsembleRule.entropyWeighted.description) == .entropyWeighted)
        #expect(throws: EnsembleRuleError.self) { try EnsembleRule(parsing: "median") }
        #expect(throws: EnsembleRuleError.self) { try EnsembleRule(parsing: "weighted:1/x") }
        #expect(throws: EnsembleRuleError.self) { try EnsembleRule.weighted([1, 2]).validate(teacherCount: 3) }
    }
}
