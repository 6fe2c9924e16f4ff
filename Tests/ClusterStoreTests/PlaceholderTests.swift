import Testing
@testable import ClusterStore

@Suite struct ClusterStorePlaceholderTests {
    @Test func builds() { #expect(Bool(true)) }
}
