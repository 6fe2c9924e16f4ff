import Testing
@testable import ClusterCore

@Suite struct ClusterCorePlaceholderTests {
    @Test func builds() { #expect(Bool(true)) }
}
