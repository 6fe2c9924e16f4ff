import Testing

@Test func placeholder_TensorTests() { #expect(Bool(true)) }
