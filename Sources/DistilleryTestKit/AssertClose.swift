import Testing

/// Element-wise closeness `|a − e| ≤ atol + rtol·|e|` (NumPy's `allclose` rule).
/// Records one issue naming the first offending index and the count of offenders.
public func assertClose(
    _ actual: [Float], _ expected: [Float], rtol: Float = 1e-4, atol: Float = 1e-6,
    _ what: String = "", sourceLocation: SourceLocation = #_sourceLocation
) {
    guard actual.count == expected.count else {
        Issue.record("\(what): \(actual.count) values, expected \(expected.count)", sourceLocation: sourceLocation)
        return
    }
    var bad = 0, first = -1
    for i in 0..<actual.count {
        let a = actual[i], e = expected[i]
        if !(abs(a - e) <= atol + rtol * abs(e)) { bad += 1; if first < 0 { first = i } }
    }
    if bad > 0 {
        Issue.record("\(what): \(bad)/\(actual.count) values differ beyond rtol \(rtol), atol \(atol); first at [\(first)]: \(actual[first]) vs expected \(expected[first])",
                     sourceLocation: sourceLocation)
    }
}

/// Scalar form of `assertClose`.
public func assertClose(_ actual: Float, _ expected: Float, rtol: Float = 1e-4, atol: Float = 1e-6,
                        _ what: String = "", sourceLocation: SourceLocation = #_sourceLocation) {
    assertClose([actual], [expected], rtol: rtol, atol: atol, what, sourceLocation: sourceLocation)
}
