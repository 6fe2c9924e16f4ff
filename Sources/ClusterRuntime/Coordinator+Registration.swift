import ClusterCore
import Wire

/// What the coordinator checks in a `Register` before admitting a worker, and whom it answers
/// when a message only a registered worker may send comes from someone else
/// (docs/PROTOCOL.md "Join" and "Who gets an answer").
enum Registration {
    /// The first problem of `m` sent as `sender`, as the `Error` to answer, or nil when the
    /// worker may be admitted (the software version's compatibility is checked after this).
    ///
    /// - `register.name` must equal `Envelope.sender`: every later message of the worker is
    ///   told apart by its sender alone, so a worker registering under another name would be
    ///   unknown to everything it sends next (`ERROR_INVALID`);
    /// - `register.version` must be `MAJOR.MINOR` or `MAJOR.MINOR.REST` with decimal MAJOR and
    ///   MINOR, e.g. "0.4.0" or "0.4.1-beta.2" (`ERROR_VERSION`: the worker cannot run here);
    /// - `register.data_endpoint` must be an address other workers can connect to (see
    ///   ``dataEndpointProblem(_:)``): every worker has the teacher or student role, and both
    ///   receive on it (`ERROR_INVALID`).
    static func problem(_ m: Register, sender: String, coordinatorVersion: String) -> ErrorReply? {
        if m.name != sender {
            return ErrorReply(code: .invalid, message: "register.name \"\(short(m.name))\" differs from the envelope's sender "
                + "\"\(short(sender))\": the coordinator knows a worker by Envelope.sender in every message after Register, "
                + "so both must be the worker's name")
        }
        if m.version != coordinatorVersion, !isVersion(m.version) {
            return ErrorReply(code: .version, message: "register.version \"\(short(m.version))\" is not a version: it must be "
                + "MAJOR.MINOR or MAJOR.MINOR.REST with decimal MAJOR and MINOR (e.g. \(coordinatorVersion), the "
                + "coordinator's); run the same Distillery release on every node")
        }
        if let problem = dataEndpointProblem(m.dataEndpoint) {
            return ErrorReply(code: .invalid, message: "register.data_endpoint \(problem); other workers send this worker "
                + "logits, credits and gradient chunks there, so advertise an address they can reach (distillery worker "
                + "--advertise HOST[:PORT])")
        }
        return nil
    }

    /// "MAJOR.MINOR" or "MAJOR.MINOR.REST" with decimal MAJOR and MINOR (the grammar
    /// `ClusterCore.VersionPolicy` compares).
    static func isVersion(_ version: String) -> Bool {
        let parts = version.split(separator: ".", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count >= 2, parts[0...1].allSatisfy(isDecimal) else { return false }
        return parts.count == 2 || !parts[2].isEmpty
    }

    private static func isDecimal(_ text: Substring) -> Bool {
        !text.isEmpty && text.count <= 9 && text.allSatisfy { $0.isASCII && $0.isNumber }
    }

    /// Why `endpoint` cannot be connected to (what follows "register.data_endpoint"), nil when
    /// it can: `tcp://HOST:PORT` with a concrete host (not `*`, `0.0.0.0` or `::`, which only a
    /// listener can bind) and a port in 1…65535, or `ipc://PATH`, `inproc://NAME` (ZeroMQ) or
    /// `mem://NAME` (the in-memory transport of tests), without wildcards.
    static func dataEndpointProblem(_ endpoint: String) -> String? {
        let forms = "tcp://HOST:PORT (or ipc://PATH, inproc://NAME, mem://NAME)"
        if endpoint.isEmpty { return "is empty; it must be \(forms)" }
        let shown = "\"\(short(endpoint))\""
        if endpoint.utf8.count > 1024 { return "\(shown) is longer than 1024 bytes" }
        if endpoint.contains(where: { $0.isWhitespace || $0 == "*" }) {
            return "\(shown) contains a wildcard or white space; it must be an address to connect to, \(forms)"
        }
        for scheme in ["ipc://", "inproc://", "mem://"] where endpoint.hasPrefix(scheme) {
            return endpoint.count > scheme.count ? nil : "\(shown) names nothing after \(scheme)"
        }
        guard endpoint.hasPrefix("tcp://") else { return "\(shown) is not \(forms)" }
        let rest = endpoint.dropFirst("tcp://".count)
        guard let colon = rest.lastIndex(of: ":") else { return "\(shown) has no port; it must be tcp://HOST:PORT" }
        let host = rest[..<colon], portText = rest[rest.index(after: colon)...]
        guard let port = Int(portText), portText.allSatisfy(\.isNumber), (1...65_535).contains(port) else {
            return "\(shown): the port must be a number in 1…65535"
        }
        let bare = host.hasPrefix("[") && host.hasSuffix("]") ? host.dropFirst().dropLast() : host
        if bare.isEmpty { return "\(shown) has no host; it must be tcp://HOST:PORT" }
        if ["0.0.0.0", "::", "0:0:0:0:0:0:0:0"].contains(String(bare)) {
            return "\(shown) is the unspecified address, which a listener binds but nobody can connect to"
        }
        if bare.contains(":") && !host.hasPrefix("[") { return "\(shown): an IPv6 host must be in brackets, tcp://[ADDR]:PORT" }
        guard bare.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-._:%".contains($0)) }) else {
            return "\(shown): the host may contain only letters, digits, '-', '.', '_' (and ':' in [IPv6])"
        }
        return nil
    }

    /// Bodies only a registered worker sends about its membership or its work. From a sender
    /// that is not a member holding work (unknown, dead or left) they are answered
    /// `Error{NOT_FOUND}` ("register first") — `Deregister` only from a name never registered.
    static func needsMembership(_ body: Body) -> Bool {
        switch body {
        case .taskStatus, .metrics, .shardRequest, .shardAck, .artifactChunk: true
        default: false
        }
    }

    /// The answer to a worker message from `sender`, which is not a member holding work.
    static func registerFirst(_ sender: String, _ body: Body) -> ErrorReply {
        ErrorReply(code: .notFound, message: "unknown worker \"\(short(sender))\" (never registered, or dead or left): "
            + "register first; this \(body.name) was ignored")
    }

    /// `text` cut to 64 characters, so an error never repeats a hostile megabyte.
    static func short(_ text: String) -> String {
        text.count <= 64 ? text : String(text.prefix(64)) + "…"
    }
}
