import Foundation

/// The one JSON encoding of what Distillery writes for people and scripts to read:
/// `report.json`, every `--json` output of the CLI, the benchmarks' result lines.
///
/// Keys are sorted, so equal values give equal bytes (the report's artifact hash is stable)
/// and diffs stay small; slashes are not escaped (endpoints and paths stay readable).
/// Non-finite numbers, which JSON cannot hold, are written as the strings "NaN",
/// "Infinity" and "-Infinity" instead of failing the whole output; ``decoder()`` reads them
/// back.
public enum JSONCoding {
    /// `lines == false`: pretty-printed, for one document (`report.json`, `status --json`).
    /// `lines == true`: one compact line per value, for JSON Lines read line by line
    /// (`distillery-bench`'s results, which Scripts/bench splits at newlines).
    public static func encoder(lines: Bool = false) -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = lines ? [.sortedKeys, .withoutEscapingSlashes]
                                         : [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(
            positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        return encoder
    }

    /// Reads what ``encoder(lines:)`` wrote, non-finite numbers included.
    public static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(
            positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        return decoder
    }

    /// `value` as UTF-8 JSON text (pretty, or one line with `lines`).
    public static func text(_ value: some Encodable, lines: Bool = false) throws -> String {
        String(decoding: try encoder(lines: lines).encode(value), as: UTF8.self)
    }
}
