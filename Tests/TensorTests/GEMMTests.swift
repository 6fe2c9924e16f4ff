import Testing
@testable import Tensor

/// Row-major `stride`-padded matrix of `rows × cols` values drawn from `random` (padding NaN, so a
/// kernel that reads it poisons its result).
private func matrix(_ rows: Int, _ cols: Int, stride: Int, _ random: inout SplitMix64) -> [Float] {
    var m = [Float](repeating: .nan, count: max(1, rows * stride))
    for r in 0..<rows { for c in 0..<cols { m[r * stride + c] = random.uniform(-1, 1) } }
    return m
}

/// `alpha·op(A)·op(B) + beta·C` by the textbook triple loop in Double, and the bound
/// `Σ|alpha·a·b| + |beta·c|` per element that scales the tolerance.
private func reference(_ ta: Transpose, _ tb: Transpose, m: Int, n: Int, k: Int, alpha: Float,
                       _ a: [Float], lda: Int, _ b: [Float], ldb: Int, beta: Float, _ c: [Float], ldc: Int)
    -> (values: [Double], bounds: [Double])
{
    var values = [Double](repeating: 0, count: m * n), bounds = values
    for i in 0..<m {
        for j in 0..<n {
            var sum = 0.0, magnitude = 0.0
            for p in 0..<k {
                let av = Double(ta == .no ? a[i * lda + p] : a[p * lda + i])
                let bv = Double(tb == .no ? b[p * ldb + j] : b[j * ldb + p])
                sum += av * bv
                magnitude += abs(av * bv)
            }
            let cv = beta == 0 ? 0 : Double(beta) * Double(c[i * ldc + j])
            values[i * n + j] = Double(alpha) * sum + cv
            bounds[i * n + j] = abs(Double(alpha)) * magnitude + abs(cv)
        }
    }
    return (values, bounds)
}

private enum Path: CustomStringConvertible {
    case dispatch, split
    var description: String { self == .dispatch ? "gemm" : "splitGEMM" }
}

/// Runs one product through `path` and checks every element of C against the reference,
/// and that C's padding columns were not written.
private func check(_ path: Path, _ ta: Transpose, _ tb: Transpose, m: Int, n: Int, k: Int,
                   alpha: Float = 1, beta: Float = 0, pad: Int = 0, seed: UInt64) {
    var random = SplitMix64(seed: seed)
    let lda = (ta == .no ? k : m) + pad, ldb = (tb == .no ? n : k) + pad, ldc = n + pad
    let a = matrix(ta == .no ? m : k, ta == .no ? k : m, stride: lda, &random)
    let b = matrix(tb == .no ? k : n, tb == .no ? n : k, stride: ldb, &random)
    var c = matrix(m, n, stride: ldc, &random)
    for r in 0..<m { for col in n..<ldc { c[r * ldc + col] = 12345 } }  // padding must survive
    let expected = reference(ta, tb, m: m, n: n, k: k, alpha: alpha, a, lda: lda, b, ldb: ldb, beta: beta, c, ldc: ldc)
    a.withUnsafeBufferPointer { ap in
        b.withUnsafeBufferPointer { bp in
            c.withUnsafeMutableBufferPointer { cp in
                switch path {
                case .dispatch:
                    gemm(ta, tb, m: m, n: n, k: k, alpha: alpha, ap.baseAddress!, lda: lda, bp.baseAddress!, ldb: ldb,
                         beta: beta, cp.baseAddress!, ldc: ldc)
                case .split:
                    splitGEMM(ta, tb, m: m, n: n, k: k, alpha: alpha, ap.baseAddress!, lda: lda, bp.baseAddress!, ldb: ldb,
                              beta: beta, cp.baseAddress!, ldc: ldc)
                }
            }
        }
    }
    var bad = 0, first = ""
    for i in 0..<m {
        for j in 0..<n {
            let got = Double(c[i * ldc + j]), want = expected.values[i * n + j]
            // float32 accumulation over k terms: error ≲ k·ε·Σ|terms|; 4·10⁻⁶·(1+k/64) is loose
            // enough for any summation order and far below the size of a wrong term.
            let tolerance = 4e-6 * (1 + Double(k) / 64) * expected.bounds[i * n + j] + 1e-6
            if !(abs(got - want) <= tolerance) {
                if bad == 0 { first = "C[\(i),\(j)] = \(got), expected \(want)" }
                bad += 1
            }
        }
        for col in n..<ldc where c[i * ldc + col] != 12345 {
            if bad == 0 { first = "padding C[\(i),\(col)] was overwritten" }
            bad += 1
        }
    }
    #expect(bad == 0, "\(path) \(ta)\(tb) m=\(m) n=\(n) k=\(k) α=\(alpha) β=\(beta) pad=\(pad): \(bad) wrong, first \(first)")
}

@Suite("GEMM against a triple loop")
struct GEMMTests {
    static let shapes: [(m: Int, n: Int, k: Int)] = [
        (1, 1, 1), (1, 7, 3), (7, 1, 5), (3, 5, 1), (17, 13, 11), (31, 64, 9), (64, 31, 33), (2, 129, 65), (129, 2, 17),
    ]
    static let transposes: [(Transpose, Transpose)] = [(.no, .no), (.yes, .no), (.no, .yes), (.yes, .yes)]

    @Test("the calling-thread path (small products), every transpose, odd shapes, α, β and padded strides")
    func singleThreaded() {
        for (index, shape) in Self.shapes.enumerated() {
            for (ta, tb) in Self.transposes {
                check(.dispatch, ta, tb, m: shape.m, n: shape.n, k: shape.k, seed: UInt64(index))
                check(.dispatch, ta, tb, m: shape.m, n: shape.n, k: shape.k, alpha: -0.5, beta: 1.5, pad: 3,
                      seed: UInt64(100 + index))
            }
        }
    }

    @Test("the split path: blocks by rows (m ≥ n) and by columns (n > m), uneven blocks, every transpose")
    func split() {
        for (index, shape) in Self.shapes.enumerated() {
            for (ta, tb) in Self.transposes {
                check(.split, ta, tb, m: shape.m, n: shape.n, k: shape.k, seed: UInt64(200 + index))
                check(.split, ta, tb, m: shape.m, n: shape.n, k: shape.k, alpha: 2, beta: -1, pad: 5, seed: UInt64(300 + index))
            }
        }
    }

    @Test("products above the single-thread threshold go through the dispatching gemm correctly")
    func largeProducts() {
        // 257·129·255 = 8.45 M multiply–adds ≥ 2²³: gemm splits them when the strategy is split.
        #expect(257 * 129 * 255 >= BLASThreads.singleThreadBelow)
        check(.dispatch, .no, .no, m: 257, n: 129, k: 255, seed: 400)
        check(.dispatch, .yes, .no, m: 129, n: 257, k: 255, alpha: 0.25, beta: 1, pad: 1, seed: 401)
        check(.dispatch, .no, .yes, m: 257, n: 255, k: 129, seed: 402)
    }

    @Test("k = 0 leaves beta·C (zero when beta is 0), m or n = 0 touches nothing")
    func emptyProducts() {
        let a: [Float] = [1], b: [Float] = [1]
        var c: [Float] = [1, 2, 3, 4, 5, 6]
        a.withUnsafeBufferPointer { ap in
            b.withUnsafeBufferPointer { bp in
                c.withUnsafeMutableBufferPointer { cp in
                    gemm(.no, .no, m: 2, n: 3, k: 0, ap.baseAddress!, bp.baseAddress!, beta: 2, cp.baseAddress!)
                }
            }
        }
        #expect(c == [2, 4, 6, 8, 10, 12])
        a.withUnsafeBufferPointer { ap in
            b.withUnsafeBufferPointer { bp in
                c.withUnsafeMutableBufferPointer { cp in
                    gemm(.no, .no, m: 2, n: 3, k: 0, ap.baseAddress!, bp.baseAddress!, beta: 0, cp.baseAddress!)
                    gemm(.no, .no, m: 0, n: 3, k: 4, ap.baseAddress!, bp.baseAddress!, beta: 0, cp.baseAddress!)
                }
            }
        }
        #expect(c == [0, 0, 0, 0, 0, 0])
    }
}
