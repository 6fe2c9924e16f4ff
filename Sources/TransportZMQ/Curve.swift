import CZeroMQ
import FileSupport
import Foundation
import Transport

/// A CurveZMQ key pair in Z85 text (40 characters each), as `zmq_curve_keypair` makes them.
public struct CurveKeyPair: Sendable, Equatable {
    public let publicKey: String
    public let secretKey: String

    public init(publicKey: String, secretKey: String) throws {
        guard CurveKeyPair.isZ85Key(publicKey) else { throw TransportError.security("public key must be 40 Z85 characters, got '\(publicKey)'") }
        guard CurveKeyPair.isZ85Key(secretKey) else { throw TransportError.security("secret key must be 40 Z85 characters") }
        self.publicKey = publicKey
        self.secretKey = secretKey
    }

    /// A fresh key pair from libzmq (which uses libsodium's random source).
    public static func generate() throws -> CurveKeyPair {
        guard zmq_has("curve") != 0 else { throw TransportError.security("this libzmq was built without CURVE support") }
        var pub = [CChar](repeating: 0, count: 41)
        var sec = [CChar](repeating: 0, count: 41)
        guard zmq_curve_keypair(&pub, &sec) == 0 else { throw TransportError.security("zmq_curve_keypair failed: \(ZMQFrames.lastError())") }
        return try CurveKeyPair(publicKey: ZMQFrames.string(pub), secretKey: ZMQFrames.string(sec))
    }

    /// The pair of a 32-byte secret key (its public key derived by `zmq_curve_public`): fixed
    /// keys for benchmarks and tests that run in several processes.
    public init(secretBytes: [UInt8]) throws {
        guard secretBytes.count == 32 else { throw TransportError.security("a CURVE secret key has 32 bytes, not \(secretBytes.count)") }
        var sec = [CChar](repeating: 0, count: 41)
        var pub = [CChar](repeating: 0, count: 41)
        guard secretBytes.withUnsafeBufferPointer({ zmq_z85_encode(&sec, $0.baseAddress, 32) }) != nil,
              zmq_curve_public(&pub, sec) == 0 else {
            throw TransportError.security("cannot derive a CURVE public key: \(ZMQFrames.lastError())")
        }
        try self.init(publicKey: ZMQFrames.string(pub), secretKey: ZMQFrames.string(sec))
    }

    /// Whether `s` is a 40-character Z85 string (the encoding of a 32-byte key).
    public static func isZ85Key(_ s: String) -> Bool { AuthorizedKeys.isZ85Key(s) }

    // MARK: key files

    /// Writes `NAME.key` (both keys, mode 0600: keep it secret) and `NAME.pub` (the public key,
    /// to hand to the other nodes) in `directory`. Refuses to overwrite an existing key.
    /// Each file is written atomically (`AtomicFile`, never replacing): the secret file has mode
    /// 0600 from its creation on, and a crash leaves no half-written key.
    public func write(to directory: String, name: String) throws -> (secretFile: String, publicFile: String) {
        let fm = FileManager.default
        do throws(FileError) { try Directories.create(directory, mode: 0o700) } catch {
            throw TransportError.security("cannot create the keys directory \(directory): \(error)")
        }
        let secretPath = (directory as NSString).appendingPathComponent("\(name).key")
        let publicPath = (directory as NSString).appendingPathComponent("\(name).pub")
        for p in [secretPath, publicPath] where fm.fileExists(atPath: p) {
            throw TransportError.security("\(p) already exists; delete it first or choose another --name")
        }
        let secretText = """
            # Distillery CURVE key pair '\(name)' (ZeroMQ Z85). Keep this file secret.
            public-key = \(publicKey)
            secret-key = \(secretKey)

            """
        let publicText = """
            # Distillery CURVE public key '\(name)'. List it in the coordinator's authorized_keys (KEY NAME ROLE).
            public-key = \(publicKey)

            """
        do throws(FileError) {
            try AtomicFile.write(Array(secretText.utf8), to: secretPath, permissions: 0o600, replacing: false)
            try AtomicFile.write(Array(publicText.utf8), to: publicPath, permissions: 0o644, replacing: false)
        } catch {
            throw TransportError.security("cannot write the key pair '\(name)': \(error)")
        }
        return (secretPath, publicPath)
    }

    /// Reads a `NAME.key` file written by `write(to:name:)`. Refuses one that group or others
    /// may read (as ssh does with a private key): anyone who can read it can act as this node.
    public static func load(secretFile path: String) throws -> CurveKeyPair {
        if let mode = (try? FileManager.default.attributesOfItem(atPath: path))?[.posixPermissions] as? Int, mode & 0o077 != 0 {
            throw TransportError.security("\(path) holds a secret key but its mode is \(String(mode, radix: 8)): group or others can "
                + "use it to act as this node; make it private with `chmod 600 \(path)`")
        }
        let fields = try CurveKeyFile.fields(path)
        guard let pub = fields["public-key"], let sec = fields["secret-key"] else {
            throw TransportError.security("\(path) needs 'public-key = …' and 'secret-key = …' lines (make one with `distillery keys generate`)")
        }
        return try CurveKeyPair(publicKey: pub, secretKey: sec)
    }
}

/// Reading public keys: a `.pub` file, a `.key` file, or an allow-list file with one key per
/// line (`public-key = KEY` or a bare KEY). A comment is a line starting with `#`, or ` #…` after
/// a key (Z85 keys may contain `#` but never a space). `cat *.pub > allowed` works.
public enum CurveKeyFile {
    public static func publicKeys(_ path: String) throws -> [String] {
        let text = try read(path)
        var keys: [String] = []
        for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var line = String(raw)
            if let comment = line.range(of: " #") ?? line.range(of: "\t#") { line = String(line[..<comment.lowerBound]) }
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed.hasPrefix("#") || trimmed.hasPrefix("secret-key") { continue }
            let key = trimmed.hasPrefix("public-key") ? value(of: trimmed) : trimmed
            guard CurveKeyPair.isZ85Key(key) else {
                throw TransportError.security("\(path):\(n + 1): '\(trimmed)' is not a 40-character Z85 public key")
            }
            keys.append(key)
        }
        return keys
    }

    static func fields(_ path: String) throws -> [String: String] {
        var out: [String: String] = [:]
        for raw in try read(path).split(separator: "\n") {
            let line = raw.trimmingCharacters(in: .whitespaces)
            guard !line.hasPrefix("#"), let eq = line.firstIndex(of: "=") else { continue }
            out[line[..<eq].trimmingCharacters(in: .whitespaces)] = value(of: line)
        }
        return out
    }

    private static func value(of line: String) -> String {
        guard let eq = line.firstIndex(of: "=") else { return "" }
        return line[line.index(after: eq)...].trimmingCharacters(in: .whitespaces)
    }

    private static func read(_ path: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TransportError.security("cannot read key file \(path)")
        }
        return String(decoding: data, as: UTF8.self)
    }
}

/// CurveZMQ settings of one transport. Listeners run as CURVE servers admitting only
/// `authorizedClients`; connections run as CURVE clients and must know the server's key.
public struct CurveSecurity: Sendable {
    public var keys: CurveKeyPair
    /// Public keys (Z85) the ZAP handler admits.
    public var authorizedClients: Set<String>
    /// The server key to use when connecting to an address not in `serverKeys`.
    public var defaultServerKey: String?
    /// Server keys by connect address.
    public var serverKeys: [String: String]

    public init(keys: CurveKeyPair, authorizedClients: Set<String> = [], defaultServerKey: String? = nil, serverKeys: [String: String] = [:]) {
        self.keys = keys
        self.authorizedClients = authorizedClients
        self.defaultServerKey = defaultServerKey
        self.serverKeys = serverKeys
    }
}

/// The ZeroMQ Authentication Protocol (ZAP, RFC 27) decision, as pure logic.
///
/// Request frames: version "1.0", request id, domain, address, routing id, mechanism,
/// credentials… (CURVE: one 32-byte client public key). Reply frames: version "1.0", the same
/// request id, status code ("200" admitted, "400" refused), status text, user id, metadata.
enum ZAPPolicy {
    struct Decision: Equatable {
        let reply: [[UInt8]]
        let admitted: Bool
        let clientKey: String?
        let address: String
    }

    static func decide(_ request: [[UInt8]], authorized: Set<String>) -> Decision? {
        guard request.count >= 6, request[0] == Array("1.0".utf8) else { return nil }
        let requestID = request[1]
        let address = String(decoding: request[3], as: UTF8.self)
        let mechanism = String(decoding: request[5], as: UTF8.self)
        var key: String?
        if mechanism == "CURVE", request.count >= 7, request[6].count == 32 {
            var z85 = [CChar](repeating: 0, count: 41)
            if request[6].withUnsafeBufferPointer({ zmq_z85_encode(&z85, $0.baseAddress, 32) }) != nil {
                key = ZMQFrames.string(z85)
            }
        }
        let admitted = key.map { authorized.contains($0) } ?? false
        let status = admitted ? "200" : "400"
        let text = admitted ? "OK" : (key == nil ? "CURVE required" : "client key not authorized")
        let reply: [[UInt8]] = [Array("1.0".utf8), requestID, Array(status.utf8), Array(text.utf8),
                                Array((admitted ? key! : "").utf8), []]
        return Decision(reply: reply, admitted: admitted, clientKey: key, address: address)
    }
}
