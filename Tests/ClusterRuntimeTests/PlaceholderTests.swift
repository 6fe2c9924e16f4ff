import Testing
@testable import ClusterRuntime

@Suite struct ClusterRuntimePlaceholderTests {
    @Test func builds() { #expect(Bool(true)) }
}
