import Foundation
import Testing

/// A run spec is parsed once where it arrives, and its typed values are handed down: the
/// runtime never parses the spec text, or a model, optimizer, schedule or ensemble rule, again.
/// (A source scan: it guards a structure no type can express.)
@Suite("RunSpec: parse sites")
struct ParseSitesTests {
    /// The Swift sources of target `name`, by path relative to the repository, with their text.
    static func sources(of target: String) throws -> [(path: String, text: String)] {
        let root = repositoryRoot().appendingPathComponent("Sources/\(target)")
        let paths = try FileManager.default.subpathsOfDirectory(atPath: root.path).filter { $0.hasSuffix(".swift") }.sorted()
        return try paths.map { ("Sources/\(target)/\($0)", try String(contentsOf: root.appendingPathComponent($0), encoding: .utf8)) }
    }

    static func count(_ needle: String, in text: String) -> Int { text.components(separatedBy: needle).count - 1 }

    static let grammarParses = ["ModelSpec(parsing:", "EnsembleRule(parsing:", "OptimizerChoice(parsing:",
                                "ScheduleChoice(parsing:", "parseSchedule("]

    @Test("the worker parses run_spec_yaml in one place, the coordinator in one place")
    func oneSpecParsePerSide() throws {
        for target in ["DataPlane", "ClusterRuntime"] {
            let sites = try Self.sources(of: target).flatMap { file in
                Array(repeating: file.path, count: Self.count("RunSpec(yaml:", in: file.text))
            }
            #expect(sites.count == 1, "\(target) parses run specs at \(sites); parse once and pass the RunSpec down")
        }
    }

    @Test("the runtime uses the spec's typed values and parses none of their grammars")
    func noGrammarParsesInTheRuntime() throws {
        for target in ["DataPlane", "ClusterRuntime", "ClusterCore", "Wire", "Transport"] {
            for file in try Self.sources(of: target) {
                for call in Self.grammarParses {
                    #expect(Self.count(call, in: file.text) == 0, "\(file.path) calls \(call); use the RunSpec's typed value")
                }
            }
        }
    }
}
