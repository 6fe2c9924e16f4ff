import Testing
@testable import RunSpec

@Suite struct RunSpecPlaceholderTests {
    @Test func builds() { #expect(Bool(true)) }
}
