import Foundation
import Testing
@testable import Tensor

/// The GEMM microkernels on packed panels (``PackedMatrix``; TensorAVX2's and, where the CPU has
/// AVX-512, TensorAVX512's) against a Double reference: shapes with a partial last panel (N not
/// a multiple of 16), an odd number of panels (AVX-512 takes them in pairs), a partial last row
/// block (M not a multiple of 6), both weight layouts, bias scaled by beta, ReLU, and more than
/// one core. Both kernels add in the same order, so their results are also equal bit for bit.
@Suite struct PackedGEMMTests {
    static let levels = [SIMDLevel.avx2, .avx512].filter { $0 <= System.cpuSIMD }

    @Test(.enabled(if: System.cpuSIMD.hasMicrokernels, "needs a CPU with AVX2 and FMA"),
          arguments: [(1, 3, 1), (5, 7, 10), (6, 16, 16), (13, 33, 17), (7, 50, 40), (128, 784, 512), (97, 65, 250), (64, 300, 200)])
    func packedProductMatchesReference(shape: (Int, Int, Int)) throws {
        let (m, k, n) = shape
        var random = SplitMix64(seed: UInt64(m * 1000 + k * 10 + n))
        let x = (0..<(m * k)).map { _ in random.uniform(-1, 1) }
        let w = (0..<(n * k)).map { _ in random.uniform(-1, 1) }
        let bias = (0..<n).map { _ in random.uniform(-1, 1) }
        for transposed in [true, false] {
            for relu in [false, true] {
                let beta: Float = relu ? 0.5 : 1
                let packed = w.withUnsafeBufferPointer { wp in
                    bias.withUnsafeBufferPointer { bp in
                        PackedMatrix(wp.baseAddress!, transposed: transposed, depth: k, columns: n, bias: bp.baseAddress!, biasScale: beta)
                    }
                }
                var results: [[Float]] = []
                for level in Self.levels {
                    var y = [Float](repeating: .nan, count: m * n)
                    x.withUnsafeBufferPointer { xp in
                        y.withUnsafeMutableBufferPointer {
                            packed.multiply(xp.baseAddress!, rows: m, relu: relu, into: $0.baseAddress!, workers: 2, level: level)
                        }
                    }
                    results.append(y)
                }
                if results.count == 2 { #expect(results[0] == results[1], "m \(m) k \(k) n \(n): AVX2 and AVX-512 differ") }
                let y = results.last!
                for i in 0..<m {
                    for j in 0..<n {
                        var sum = Double(beta) * Double(bias[j]), magnitude = abs(sum)
                        for p in 0..<k {
                            let wv = Double(transposed ? w[j * k + p] : w[p * n + j])
                            sum += Double(x[i * k + p]) * wv
                            magnitude += abs(Double(x[i * k + p]) * wv)
                        }
                        let expected = relu && sum < 0 ? 0 : sum
                        let error = abs(Double(y[i * n + j]) - expected)
                        #expect(error <= 1e-6 * magnitude + 1e-7,
                                "m \(m) k \(k) n \(n) transposed \(transposed) relu \(relu): y[\(i), \(j)] = \(y[i * n + j]), expected \(expected)")
                    }
                }
            }
        }
    }

    @Test func cpuFlagsDecideTheLevel() {
        // DISTILLERY_SIMD=baseline forces the portable paths, =avx2 caps the level at AVX2;
        // otherwise the level follows /proc/cpuinfo.
        let forced = ProcessInfo.processInfo.environment["DISTILLERY_SIMD"]
        let flags = Set((try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?
            .split(separator: "\n").first { $0.hasPrefix("flags") }?.split(separator: " ") ?? [])
        let cpu: SIMDLevel = !flags.contains("avx2") || !flags.contains("fma") ? .baseline
            : ["avx512f", "avx512dq", "avx512bw", "avx512vl"].allSatisfy { flags.contains(Substring($0)) } ? .avx512 : .avx2
        #expect(System.cpuSIMD == cpu)
        #expect(System.simd == (forced == "baseline" ? .baseline : forced == "avx2" ? min(cpu, .avx2) : cpu))
        #expect(SIMDLevel.of(flags: ["avx2", "fma", "avx512f", "avx512dq", "avx512bw", "avx512vl"]) == .avx512)
        #expect(SIMDLevel.of(flags: ["avx2", "fma", "avx512f"]) == .avx2)
        #expect(SIMDLevel.of(flags: ["avx2", "avx512f", "avx512dq", "avx512bw", "avx512vl"]) == .baseline)
    }
}
