import Foundation
import DistilleryTestKit
import NN

let fixtureDirectory = Bundle.module.resourceURL!.appendingPathComponent("Fixtures")

func fixture(_ name: String) throws -> Fixture { try Fixture(name, directory: fixtureDirectory) }

extension Sequential {
    /// Copies fixture tensor `key` into model tensor `name`.
    func load(_ name: String, from f: Fixture, key: String? = nil) throws {
        guard let t = tensor(named: name) else { throw FixtureError.missing(fixture: "model", tensor: name) }
        let v = try f.values(key ?? name)
        precondition(v.count == t.count, "\(name): fixture has \(v.count) values, model \(t.count)")
        v.withUnsafeBufferPointer { pointer(to: t).update(from: $0.baseAddress!, count: v.count) }
    }

    func values(_ name: String) -> [Float] {
        let t = tensor(named: name)!
        return Array(UnsafeBufferPointer(start: pointer(to: t), count: t.count))
    }

    func gradient(_ name: String) -> [Float] {
        let t = tensor(named: name)!
        return Array(UnsafeBufferPointer(start: gradientPointer(to: t), count: t.count))
    }

    /// Forward then backward of `dy`; returns (y, dx). One pointer to `x` spans both calls.
    func run(_ x: [Float], batch: Int, dy: [Float], mode: Mode = .training) -> (y: [Float], dx: [Float]) {
        zeroGradients()
        var dx = [Float](repeating: 0, count: x.count)
        let y = x.withUnsafeBufferPointer { p -> [Float] in
            let out = forward(p.baseAddress!, batch: batch, mode: mode)
            let y = Array(UnsafeBufferPointer(start: out, count: batch * outputFeatures))
            dy.withUnsafeBufferPointer { d in dx.withUnsafeMutableBufferPointer { backward(d.baseAddress!, inputGradient: $0.baseAddress!) } }
            return y
        }
        return (y, dx)
    }
}

/// Asserts analytic and numeric gradients agree (float32 central differences: loose tolerance).
func expectGradientsMatch(_ check: GradientCheck, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
    assertClose(check.input.analytic, check.input.numeric, rtol: 2e-2, atol: 2e-3, "\(what) dx", sourceLocation: sourceLocation)
    assertClose(check.parameters.analytic, check.parameters.numeric, rtol: 2e-2, atol: 2e-3, "\(what) dθ", sourceLocation: sourceLocation)
}

import Testing
