/// What a CURVE key may do on a secured cluster (docs/OPERATIONS.md "Securing a cluster").
public enum KeyRole: String, Sendable, Equatable, CaseIterable {
    /// A worker: registers under its name, reports on its own tasks, uploads their artifacts,
    /// and talks to the other workers of its runs.
    case worker
    /// A person or tool that runs the cluster: everything `read` may, and submit, cancel, resume.
    case admin
    /// A person or tool that watches: status, runs, watch, logs, report.
    case read
}

/// One line of an authorized-keys file: a public key, the name it goes by, and its role.
public struct AuthorizedKey: Sendable, Equatable {
    /// The key in Z85 (40 characters, ``AuthorizedKeys/isZ85Key(_:)``).
    public var publicKey: String
    /// The name the key goes by: a worker's name (a worker key may register only under it),
    /// or a person's or tool's.
    public var name: String
    public var role: KeyRole
    /// Where it was read: "FILE:LINE".
    public var source: String

    public init(publicKey: String, name: String, role: KeyRole, source: String = "") {
        self.publicKey = publicKey
        self.name = name
        self.role = role
        self.source = source
    }
}

/// The coordinator's authorized-keys file: which keys may connect, under which name and role.
///
/// Format, one key per line: `KEY NAME ROLE`, separated by spaces or tabs — KEY the public key
/// in Z85 (what `distillery keys generate` writes to NAME.pub after `public-key =`, which may
/// also be kept in front of it), NAME letters, digits, `-`, `_` or `.`, ROLE `worker`, `admin`
/// or `read`. Blank lines are skipped; `#` starts a comment at the beginning of a line or after
/// a space or tab (Z85 keys may contain `#`, never a space). A key may be listed once; a name
/// may have several keys (rotating a key: list the new one, then remove the old one).
///
/// ```
/// # coordinator at tcp://10.0.0.1:7878
/// rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7  worker-a  worker
/// Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID  alice     admin
/// ```
public struct AuthorizedKeys: Sendable, Equatable {
    public private(set) var entries: [AuthorizedKey]

    /// Parses `text`, read from `source` (named in every error, with the line).
    public init(parsing text: String, source: String) throws(AuthorizedKeysError) {
        var entries: [AuthorizedKey] = []
        var seen: [String: String] = [:]
        for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let at = "\(source):\(n + 1)"
            var fields = Self.fields(of: String(raw))
            if fields.isEmpty { continue }
            if fields.first == "public-key" && fields.count > 1 && fields[1] == "=" { fields.removeFirst(2) }
            guard fields.count == 3 else {
                throw AuthorizedKeysError(at: at, "expected KEY NAME ROLE, got \(fields.count) field(s): '\(fields.joined(separator: " "))'")
            }
            let (key, name, roleText) = (fields[0], fields[1], fields[2])
            guard Self.isZ85Key(key) else {
                throw AuthorizedKeysError(at: at, "'\(key)' is not a 40-character Z85 public key (copy it from the node's .pub file)")
            }
            guard name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == ".") }) else {
                throw AuthorizedKeysError(at: at, "name '\(name)' may contain only letters, digits, '-', '_' and '.'")
            }
            guard let role = KeyRole(rawValue: roleText) else {
                throw AuthorizedKeysError(at: at, "role '\(roleText)' is not one of "
                    + KeyRole.allCases.map(\.rawValue).joined(separator: ", "))
            }
            if let first = seen[key] {
                throw AuthorizedKeysError(at: at, "the key of '\(name)' is listed already at \(first); list each key once")
            }
            seen[key] = at
            entries.append(AuthorizedKey(publicKey: key, name: name, role: role, source: at))
        }
        self.entries = entries
    }

    public init(_ entries: [AuthorizedKey]) {
        self.entries = entries
    }

    /// The entry of `publicKey`, nil when it is not listed.
    public func entry(for publicKey: String) -> AuthorizedKey? {
        entries.first { $0.publicKey == publicKey }
    }

    /// Every listed public key.
    public var publicKeys: Set<String> { Set(entries.map(\.publicKey)) }

    /// Whether `s` is a 40-character Z85 string (the encoding of a 32-byte CURVE key).
    public static func isZ85Key(_ s: String) -> Bool {
        s.utf8.count == 40 && s.allSatisfy { z85Alphabet.contains($0) }
    }

    private static let z85Alphabet = Set("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#")

    /// The line's fields without its comment: `#` at the start, or after a space or tab.
    private static func fields(of line: String) -> [String] {
        var out: [String] = []
        for word in line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" }) {
            if word.hasPrefix("#") { break }
            out.append(String(word))
        }
        return out
    }
}

/// A bad authorized-keys file: where and what.
public struct AuthorizedKeysError: Error, Sendable, Equatable, CustomStringConvertible {
    public let description: String

    init(at source: String, _ what: String) {
        description = "authorized keys \(source): \(what)"
    }
}
