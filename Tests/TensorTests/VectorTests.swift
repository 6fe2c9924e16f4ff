import Foundation
import Tensor
import Testing

/// Lengths around the 16-lane width: empty, tails only, one vector, vector + tail, many vectors.
private let lengths = [0, 1, 2, 7, 15, 16, 17, 31, 32, 33, 100, 1023, 1024, 1025]
/// Floats written after the `n` elements of an output; a kernel that overruns its tail changes them.
private let guardCount = 19
private let sentinel: Float = -7777

/// `n` values in [-2, 2), with exact zeros and negative zeros sprinkled in (ReLU's edge cases).
private func values(_ n: Int, seed: UInt64) -> [Float] {
    var random = SplitMix64(seed: seed)
    return (0..<n).map { i in
        switch i % 11 {
        case 3: return 0
        case 7: return -0.0
        default: return random.uniform(-2, 2)
        }
    }
}

/// Runs `kernel` on a buffer holding `initial` followed by sentinels; returns the first `n`
/// floats, and records an issue if a sentinel changed.
private func output(_ initial: [Float], _ what: String,
                    _ kernel: (UnsafeMutablePointer<Float>) -> Void) -> [Float] {
    var buffer = initial + [Float](repeating: sentinel, count: guardCount)
    buffer.withUnsafeMutableBufferPointer { kernel($0.baseAddress!) }
    #expect(buffer[initial.count...].allSatisfy { $0 == sentinel }, "\(what) n=\(initial.count) wrote past its end")
    return Array(buffer[..<initial.count])
}

/// Bit patterns, so that -0 ≠ +0 and NaN == NaN for the comparison.
private func bits(_ x: [Float]) -> [UInt32] { x.map(\.bitPattern) }

@Suite("Vector kernels at odd lengths against scalar loops")
struct VectorTests {
    @Test("element-wise kernels equal the scalar formula bit for bit, and never write past n")
    func elementWise() {
        for n in lengths {
            let a = values(n, seed: UInt64(n)), b = values(n, seed: UInt64(n) + 1000)
            let zeros = [Float](repeating: 0, count: n)
            a.withUnsafeBufferPointer { ap in
                b.withUnsafeBufferPointer { bp in
                    let pa = ap.baseAddress ?? UnsafePointer(bitPattern: 16)!
                    let pb = bp.baseAddress ?? UnsafePointer(bitPattern: 16)!
                    #expect(bits(output(zeros, "add") { Vector.add(pa, pb, $0, n) }) == bits(zip(a, b).map { $0 + $1 }),
                            "add n=\(n)")
                    #expect(bits(output(zeros, "multiply") { Vector.multiply(pa, pb, $0, n) }) == bits(zip(a, b).map { $0 * $1 }),
                            "multiply n=\(n)")
                    #expect(bits(output(b, "axpy") { Vector.axpy(-1.25, pa, $0, n) }) == bits(zip(a, b).map { $1 + -1.25 * $0 }),
                            "axpy n=\(n)")
                    #expect(bits(output(a, "scale") { Vector.scale($0, by: 0.375, n) }) == bits(a.map { $0 * 0.375 }),
                            "scale n=\(n)")
                    #expect(bits(output(zeros, "relu") { Vector.relu(pa, $0, n) }) == bits(a.map { $0 < 0 ? 0 : $0 }),
                            "relu n=\(n)")
                    #expect(bits(output(zeros, "reluBackward") { Vector.reluBackward(pa, pb, $0, n) })
                            == bits(zip(a, b).map { $0 > 0 ? $1 : 0 }), "reluBackward n=\(n)")
                    #expect(bits(output(zeros, "affine2") { Vector.affine2(0.5, pa, -3, pb, 0.25, $0, n) })
                            == bits(zip(a, b).map { 0.5 * $0 + -3 * $1 + 0.25 }), "affine2 n=\(n)")
                    #expect(bits(output(zeros, "fill") { Vector.fill($0, 2.5, n) }) == bits([Float](repeating: 2.5, count: n)),
                            "fill n=\(n)")

                    var h = [Float](repeating: 0, count: n)
                    let y = output(zeros, "normalizeAffine") { out in
                        h = output(zeros, "normalizeAffine.h") { Vector.normalizeAffine(pa, shift: 0.1, scale: 1.7, gain: -0.6,
                                                                                         bias: 0.2, normalized: $0, out, n) }
                    }
                    let hRef = a.map { ($0 - 0.1) * 1.7 }
                    #expect(bits(h) == bits(hRef), "normalizeAffine.h n=\(n)")
                    #expect(bits(y) == bits(hRef.map { -0.6 * $0 + 0.2 }), "normalizeAffine.y n=\(n)")
                }
            }
        }
    }

    @Test("in-place use: output aliasing an input gives the same result")
    func aliasing() {
        for n in lengths {
            let a = values(n, seed: 7 + UInt64(n)), b = values(n, seed: 8 + UInt64(n))
            var inPlace = a
            b.withUnsafeBufferPointer { bp in
                inPlace.withUnsafeMutableBufferPointer { Vector.add($0.baseAddress!, bp.baseAddress!, $0.baseAddress!, n) }
            }
            #expect(bits(inPlace) == bits(zip(a, b).map { $0 + $1 }), "add in place n=\(n)")
            var relu = a
            relu.withUnsafeMutableBufferPointer { Vector.relu($0.baseAddress!, $0.baseAddress!, n) }
            #expect(bits(relu) == bits(a.map { $0 < 0 ? 0 : $0 }), "relu in place n=\(n)")
        }
    }

    @Test("reductions match a Double reference within float rounding")
    func reductions() {
        for n in lengths {
            let a = values(n, seed: 31 + UInt64(n)), b = values(n, seed: 57 + UInt64(n))
            let mean: Float = 0.3
            let sumRef = a.reduce(0.0) { $0 + Double($1) }
            let dotRef = zip(a, b).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            let ssdRef = a.reduce(0.0) { $0 + (Double($1) - Double(mean)) * (Double($1) - Double(mean)) }
            // Float summation of n terms errs by at most about n·ε·Σ|terms| (ε = 6·10⁻⁸).
            func tolerance(_ magnitude: Double) -> Double { 1.2e-7 * Double(n + 1) * magnitude + 1e-7 }
            let sumBound = tolerance(a.reduce(0.0) { $0 + abs(Double($1)) })
            let dotBound = tolerance(zip(a, b).reduce(0.0) { $0 + abs(Double($1.0) * Double($1.1)) })
            a.withUnsafeBufferPointer { ap in
                b.withUnsafeBufferPointer { bp in
                    let pa = ap.baseAddress ?? UnsafePointer(bitPattern: 16)!
                    let pb = bp.baseAddress ?? UnsafePointer(bitPattern: 16)!
                    let sum = Double(Vector.sum(pa, n)), dot = Double(Vector.dot(pa, pb, n))
                    let ssd = Double(Vector.sumSquaredDeviations(pa, mean: mean, n))
                    #expect(abs(sum - sumRef) <= sumBound, "sum n=\(n): \(sum) vs \(sumRef)")
                    #expect(abs(dot - dotRef) <= dotBound, "dot n=\(n): \(dot) vs \(dotRef)")
                    #expect(abs(ssd - ssdRef) <= tolerance(ssdRef), "sumSquaredDeviations n=\(n): \(ssd) vs \(ssdRef)")
                }
            }
        }
        // Exact on values whose sums are exact in float: catches a dropped or doubled element.
        for n in lengths {
            let ones = [Float](repeating: 1, count: n), twos = [Float](repeating: 2, count: n)
            #expect(Vector.sum(ones, n) == Float(n), "sum of \(n) ones")
            #expect(Vector.dot(ones, twos, n) == Float(2 * n), "dot of \(n) ones and twos")
            #expect(Vector.sumSquaredDeviations(twos, mean: 1, n) == Float(n), "ssd of \(n) twos around 1")
        }
    }
}

@Suite("Rows kernels against scalar loops")
struct RowsTests {
    @Test("softmax, log-softmax at several temperatures, argmax, bias add and column sums at odd sizes")
    func rows() {
        for (rows, cols) in [(1, 1), (3, 7), (5, 17), (2, 33)] {
            let x = values(rows * cols, seed: UInt64(rows * 100 + cols)).map { $0 * 5 }
            for temperature: Float in [1, 0.5, 4] {
                var p = [Float](repeating: 0, count: x.count), logp = p
                Rows.softmax(x, &p, rows: rows, cols: cols, temperature: temperature)
                Rows.logSoftmax(x, &logp, rows: rows, cols: cols, temperature: temperature)
                for r in 0..<rows {
                    let row = x[(r * cols)..<((r + 1) * cols)].map { Double($0) / Double(temperature) }
                    let m = row.max()!
                    let z = row.reduce(0.0) { $0 + exp($1 - m) }
                    for c in 0..<cols {
                        let expected = exp(row[c] - m) / z
                        #expect(abs(Double(p[r * cols + c]) - expected) <= 1e-6, "softmax T=\(temperature) [\(r),\(c)]")
                        #expect(abs(Double(logp[r * cols + c]) - (row[c] - m - log(z))) <= 1e-5, "logSoftmax [\(r),\(c)]")
                    }
                }
            }
            let argmax = Rows.argmax(x, rows: rows, cols: cols)
            for r in 0..<rows {
                let row = Array(x[(r * cols)..<((r + 1) * cols)])
                #expect(argmax[r] == row.firstIndex(of: row.max()!)!, "argmax row \(r)")
            }
            let bias = values(cols, seed: 99)
            var y = x
            Rows.addRowVector(bias, to: &y, rows: rows, cols: cols)
            #expect(bits(y) == bits(x.indices.map { x[$0] + bias[$0 % cols] }))
            var sums = [Float](repeating: 1, count: cols)
            Rows.sumColumns(x, rows: rows, cols: cols, into: &sums, accumulate: true)
            for c in 0..<cols {
                let expected = (0..<rows).reduce(1.0) { $0 + Double(x[$1 * cols + c]) }
                #expect(abs(Double(sums[c]) - expected) <= 1e-5, "sumColumns col \(c)")
            }
        }
    }
}
