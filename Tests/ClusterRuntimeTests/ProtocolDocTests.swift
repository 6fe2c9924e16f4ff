import Foundation
import RunSpec
import Testing
import Wire
@testable import ClusterRuntime

/// docs/PROTOCOL.md "Limits" states each limit with its value, for clients written from the
/// contract alone; this fails when the table and the code disagree, or a limit goes missing.
@Suite struct ProtocolDocTests {
    /// Every limit the table must state, by the name in its last column.
    static let limits: [String: Int] = [
        "WireLimits.maxEnvelopeBytes": WireLimits.standard.maxEnvelopeBytes,
        "WireLimits.maxTensorFrames": WireLimits.standard.maxTensorFrames,
        "WireLimits.maxRank": WireLimits.standard.maxRank,
        "WireLimits.maxTensorBytes": WireLimits.standard.maxTensorBytes,
        "WireLimits.maxRepeated": WireLimits.standard.maxRepeated,
        "WireLimits.maxStringBytes": WireLimits.standard.maxStringBytes,
        "SubmitRun.maxIdempotencyKeyBytes": SubmitRun.maxIdempotencyKeyBytes,
        "RunSpec.maxYAMLBytes": RunSpec.maxYAMLBytes,
        "RunSpec.maxReportedProblems": RunSpec.maxReportedProblems,
        "Coordinator.maxArtifactBytes": Int(Coordinator.maxArtifactBytes),
        "Coordinator.maxShardWindow": Int(Coordinator.maxShardWindow),
        "WireLimits.coordinator.maxTensorFrames": WireLimits.coordinator.maxTensorFrames,
        "WireLimits.coordinator.maxTensorBytes": WireLimits.coordinator.maxTensorBytes,
    ]

    static var protocolDoc: String {
        get throws {
            // Tests/ClusterRuntimeTests/ProtocolDocTests.swift → the package root.
            let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent()
            return try String(contentsOf: root.appendingPathComponent("docs/PROTOCOL.md"), encoding: .utf8)
        }
    }

    /// The rows of the table under "### Limits": (value column, code name) per row.
    static func limitRows(_ doc: String) throws -> [(value: String, name: String)] {
        let lines = doc.components(separatedBy: "\n")
        let start = try #require(lines.firstIndex(of: "### Limits"), "PROTOCOL.md has a \"### Limits\" section")
        var rows: [(String, String)] = []
        var inTable = false
        for line in lines[(start + 1)...] {
            if line.hasPrefix("#") { break }
            guard line.hasPrefix("|") else {
                if inTable { break }
                continue
            }
            inTable = true
            let cells = line.split(separator: "|", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count >= 6, let name = cells[4].split(separator: "`").first.map(String.init),
                  cells[4].hasPrefix("`") else { continue }  // header and separator rows
            rows.append((cells[2], name))
        }
        return rows
    }

    /// The first integer in `text`, digits grouped with commas allowed ("1,048,576 bytes (1 MiB)").
    static func firstInteger(_ text: String) -> Int? {
        let digits = text.drop { !$0.isNumber }.prefix { $0.isNumber || $0 == "," }
        return Int(digits.replacingOccurrences(of: ",", with: ""))
    }

    @Test func theLimitsTableStatesEveryLimitWithTheCodesValue() throws {
        let rows = try Self.limitRows(try Self.protocolDoc)
        #expect(rows.count >= Self.limits.count, "rows: \(rows.map(\.name))")
        var seen: Set<String> = []
        for row in rows {
            guard let expected = Self.limits[row.name] else {
                Issue.record("PROTOCOL.md \"Limits\" names \(row.name), which this test does not know: add it here")
                continue
            }
            #expect(seen.insert(row.name).inserted, "\(row.name) appears twice")
            #expect(Self.firstInteger(row.value) == expected,
                    "PROTOCOL.md says \(row.name) is \"\(row.value)\"; the code says \(expected)")
        }
        #expect(seen == Set(Self.limits.keys), "missing from the table: \(Set(Self.limits.keys).subtracting(seen).sorted())")
    }

    /// The checker itself can fail: a changed value or a missing row is noticed.
    @Test func aWrongOrMissingValueIsNoticed() throws {
        let doc = try Self.protocolDoc
        let wrong = doc.replacingOccurrences(of: "| 16 | `tooMany` | `WireLimits.maxTensorFrames` |",
                                             with: "| 32 | `tooMany` | `WireLimits.maxTensorFrames` |")
        #expect(wrong != doc, "the row for maxTensorFrames is written as expected")
        let rows = try Self.limitRows(wrong)
        #expect(rows.first { $0.name == "WireLimits.maxTensorFrames" }.flatMap { Self.firstInteger($0.value) } == 32)
        #expect(Self.firstInteger("1,048,576 bytes (1 MiB)") == 1_048_576)
        #expect(Self.firstInteger("none") == nil)
    }
}
