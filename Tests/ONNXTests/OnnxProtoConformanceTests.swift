import Foundation
import Testing

/// Protos/onnx.proto is a subset of the reference onnx.proto: every message, enum, field
/// (number, type, label) and enum value of ours exists in the reference with the same facts.
@Suite struct OnnxProtoConformanceTests {
    static let reference = "/usr/include/onnx/onnx.proto"

    /// A field's facts, or an enum value's number (type "enum value").
    struct Declaration: Equatable, CustomStringConvertible {
        var label: String, type: String, number: Int
        var description: String { "\(label.isEmpty ? "" : label + " ")\(type) = \(number)" }
    }

    /// Declarations by dotted path (Message.Nested.field, Enum.VALUE) and the set of scopes
    /// (messages and enums) of a .proto file, read by a small token scanner.
    static func scan(_ text: String) -> (declarations: [String: Declaration], scopes: Set<String>) {
        var cleaned = text.replacingOccurrences(of: #"/\*[\s\S]*?\*/"#, with: " ", options: .regularExpression)
        cleaned = cleaned.replacingOccurrences(of: #"//[^\n]*"#, with: " ", options: .regularExpression)
        var tokens: [String] = []
        var current = ""
        for ch in cleaned {
            if ch.isLetter || ch.isNumber || ch == "_" || ch == "." || ch == "-" || ch == "\"" {
                current.append(ch)
            } else {
                if !current.isEmpty { tokens.append(current); current = "" }
                if !ch.isWhitespace { tokens.append(String(ch)) }
            }
        }
        if !current.isEmpty { tokens.append(current) }

        var declarations: [String: Declaration] = [:], scopes: Set<String> = []
        var stack: [(name: String, kind: String)] = []
        var i = 0
        func path(_ name: String) -> String { (stack.filter { $0.kind != "oneof" }.map(\.name) + [name]).joined(separator: ".") }
        func skipStatement() { while i < tokens.count && tokens[i] != ";" { i += 1 }; i += 1 }
        while i < tokens.count {
            let t = tokens[i]
            switch t {
            case "message", "enum", "oneof":
                let name = tokens[i + 1]
                if t != "oneof" { scopes.insert(path(name)) }
                stack.append((name, t)); i += 3
            case "}":
                stack.removeLast(); i += 1
            case ";":
                i += 1
            case "syntax", "package", "import", "option", "reserved", "extensions":
                skipStatement()
            default:
                guard !stack.isEmpty else { i += 1; continue }
                if stack.last!.kind == "enum" {
                    if let number = Int(tokens[i + 2]) { declarations[path(t)] = Declaration(label: "", type: "enum value", number: number) }
                    skipStatement()
                    continue
                }
                var label = "", j = i
                if ["optional", "repeated", "required"].contains(t) { label = t; j += 1 }
                let type = tokens[j], name = tokens[j + 1]
                if tokens[j + 2] == "=", let number = Int(tokens[j + 3]) {
                    declarations[path(name)] = Declaration(label: label, type: type, number: number)
                }
                skipStatement()
            }
        }
        return (declarations, scopes)
    }

    @Test func oursIsASubsetOfTheReference() throws {
        guard FileManager.default.fileExists(atPath: Self.reference) else {
            Issue.record("\(Self.reference) is missing: install libonnx-dev (Scripts/test installs it)")
            return
        }
        let reference = Self.scan(try String(contentsOfFile: Self.reference, encoding: .utf8))
        let oursPath = ONNXTestPaths.repositoryRoot.appendingPathComponent("Protos/onnx.proto").path
        let ours = Self.scan(try String(contentsOfFile: oursPath, encoding: .utf8))
        #expect(ours.declarations.count > 80, "the scanner found only \(ours.declarations.count) declarations in \(oursPath)")
        #expect(reference.declarations.count > ours.declarations.count)
        for scope in ours.scopes.sorted() where !reference.scopes.contains(scope) {
            Issue.record("message or enum \(scope) of Protos/onnx.proto is not in the reference")
        }
        for (path, declaration) in ours.declarations.sorted(by: { $0.key < $1.key }) {
            guard let expected = reference.declarations[path] else {
                Issue.record("\(path) (\(declaration)) of Protos/onnx.proto is not in the reference"); continue
            }
            if expected != declaration { Issue.record("\(path): ours is \(declaration), the reference's is \(expected)") }
        }
    }

    @Test func scannerSeesNestedScopesAndOneofs() {
        let sample = """
        syntax = "proto2";
        message A { // comment
          enum E { X = 0; Y = 3; }
          message B { oneof v { int64 n = 1; string s = 2; }; optional string d = 3; }
          repeated float f = 4 [packed = true];
        }
        """
        let (declarations, scopes) = Self.scan(sample)
        #expect(scopes == ["A", "A.E", "A.B"])
        #expect(declarations["A.E.Y"] == .init(label: "", type: "enum value", number: 3))
        #expect(declarations["A.B.n"] == .init(label: "", type: "int64", number: 1))
        #expect(declarations["A.B.d"] == .init(label: "optional", type: "string", number: 3))
        #expect(declarations["A.f"] == .init(label: "repeated", type: "float", number: 4))
    }
}
