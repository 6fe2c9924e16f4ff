import Testing

@Test func placeholder_DatasetsTests() { #expect(Bool(true)) }
