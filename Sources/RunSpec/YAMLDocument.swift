import Yams

/// A line and column in the YAML text (both 1-based, columns in Unicode scalars as libyaml counts them).
struct TextPosition: Hashable, Sendable {
    var line: Int
    var column: Int
    init(line: Int, column: Int) { self.line = line; self.column = column }
    init(_ mark: Mark) { line = mark.line; column = mark.column }
}

/// The YAML text composed into nodes, with the duplicate keys Yams refused taken apart.
///
/// Yams stops at the first mapping with a repeated key and reports only where the first
/// occurrence is. To report every duplicate with its field path (and the other problems
/// of the file), each reported first occurrence is renamed in the text to a placeholder of
/// the same length (private-use characters, so columns stay put) and the text is composed
/// again. The reader then skips the placeholder keys and reports each duplicate from the
/// mapping it is in.
struct YAMLDocument {
    var root: Node?
    /// Placeholder keys: where they are and the key they stand for.
    var renamedKeys: [TextPosition: String] = [:]
    /// A problem that prevented composing (malformed YAML), with its line.
    var problem: RunSpecError?

    static let maxRenames = 256
    /// Most YAML composed over all rounds together, in bytes. Every round composes the whole
    /// text again, so the rounds are bounded by this over the text's size: the time stays
    /// linear (a 900 KB spec with 300 duplicate keys took 36 s when only `maxRenames` bounded
    /// it). Small specs still get every duplicate reported; past the budget, the first
    /// duplicate left is reported alone.
    static let maxComposedBytes = 4 << 20

    init(yaml: String) {
        var text = yaml
        let rounds = min(YAMLDocument.maxRenames, max(0, YAMLDocument.maxComposedBytes / max(1, yaml.utf8.count) - 1))
        for round in 0...rounds {
            do {
                root = try Yams.compose(yaml: text)
                return
            } catch let YamlError.duplicatedKeysInMapping(duplicates, context) {
                guard round < rounds, let key = duplicates.first,
                      let renamed = YAMLDocument.rename(key: key, at: context.mark, in: text, round: round) else {
                    let keys = duplicates.map { "'\($0)'" }.joined(separator: ", ")
                    problem = RunSpecError(field: "", message: "duplicate key \(keys); each key may appear once in a mapping",
                                           line: context.mark.line)
                    return
                }
                text = renamed
                renamedKeys[TextPosition(context.mark)] = key
            } catch let error as YamlError {
                problem = YAMLDocument.describe(error, text: yaml)
                return
            } catch {
                problem = RunSpecError(field: "", message: "malformed YAML: \(error)")
                return
            }
        }
    }

    /// `text` with the key `key` that starts at `mark` replaced by as many copies of one
    /// private-use character (unique to `round`); nil if the text there is not the key.
    /// Only the key's line is taken apart; the rest is copied as it is.
    static func rename(key: String, at mark: Mark, in text: String, round: Int) -> String? {
        guard mark.line >= 1, let placeholder = Unicode.Scalar(0xE000 + round) else { return nil }
        let scalars = text.unicodeScalars
        var lineStart = scalars.startIndex
        for _ in 1..<mark.line {
            guard let newline = scalars[lineStart...].firstIndex(of: "\n") else { return nil }
            lineStart = scalars.index(after: newline)
        }
        let lineEnd = scalars[lineStart...].firstIndex(of: "\n") ?? scalars.endIndex
        var line = Array(scalars[lineStart..<lineEnd])
        var start = mark.column - 1
        guard start >= 0, start < line.count else { return nil }
        if line[start] == "\"" || line[start] == "'" { start += 1 }
        let keyScalars = Array(key.unicodeScalars)
        guard !keyScalars.isEmpty, start + keyScalars.count <= line.count,
              Array(line[start..<start + keyScalars.count]) == keyScalars else { return nil }
        for i in start..<start + keyScalars.count { line[i] = placeholder }
        var renamed = String.UnicodeScalarView()
        renamed.append(contentsOf: scalars[..<lineStart])
        renamed.append(contentsOf: line)
        renamed.append(contentsOf: scalars[lineEnd...])
        return String(renamed)
    }

    /// A Yams error as a whole-file problem with its line.
    static func describe(_ error: YamlError, text: String) -> RunSpecError {
        func with(_ context: YamlError.Context?, _ problem: String, _ mark: Mark) -> RunSpecError {
            var message = "malformed YAML: \(problem)"
            if let context { message += " (\(context.text) at line \(context.mark.line), column \(context.mark.column))" }
            message += " at column \(mark.column)"
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
            if mark.line >= 1, mark.line <= lines.count, lines[mark.line - 1].contains("\t") {
                message += "; tabs are not allowed for indentation, use spaces"
            }
            return RunSpecError(field: "", message: message, line: mark.line)
        }
        switch error {
        case let .scanner(context, problem, mark, _): return with(context, problem, mark)
        case let .parser(context, problem, mark, _): return with(context, problem, mark)
        case let .composer(context, problem, mark, _): return with(context, problem, mark)
        case let .reader(problem, offset, _, _):
            var line: Int?
            if let offset {
                line = 1 + text.prefix(offset).reduce(0) { $0 + ($1 == "\n" ? 1 : 0) }
            }
            return RunSpecError(field: "", message: "unreadable YAML: \(problem)", line: line)
        case let .duplicatedKeysInMapping(duplicates, context):
            return RunSpecError(field: "", message: "duplicate keys \(duplicates.joined(separator: ", "))", line: context.mark.line)
        default:
            return RunSpecError(field: "", message: "malformed YAML: \(error)")
        }
    }
}
