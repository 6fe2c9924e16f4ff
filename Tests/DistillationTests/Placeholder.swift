import Testing

@Test func placeholder_DistillationTests() { #expect(Bool(true)) }
