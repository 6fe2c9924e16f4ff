import ClusterRuntime
import Foundation

/// Prints `value` as JSON on standard output (``JSONCoding``: sorted keys, pretty-printed, or
/// one compact line with `lines` for JSON Lines outputs that scripts split at newlines).
/// A value that cannot be encoded is a programming error in an output type: it is reported on
/// standard error, naming the type, and the command goes on.
public func printJSON(_ value: some Encodable, lines: Bool = false) {
    do {
        print(try JSONCoding.text(value, lines: lines))
    } catch {
        FileHandle.standardError.write(Data("distillery: cannot write \(type(of: value)) as JSON: \(error)\n".utf8))
    }
}
