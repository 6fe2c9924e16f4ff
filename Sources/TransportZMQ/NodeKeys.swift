import Foundation
import Transport

/// A node's or client's keys directory (`--keys DIR`; docs/OPERATIONS.md "Securing a cluster"):
///
/// - exactly one `NAME.key`: this node's key pair (`distillery keys generate --name NAME --dir
///   DIR`), mode 0600 — a secret key that group or others may read is refused;
/// - `coordinator.pub`: the coordinator's public key (on the coordinator, its own `NAME.key` is
///   the server key, and `coordinator.pub` may be absent);
/// - on the coordinator, `authorized_keys`: who may connect, under which name and role
///   (``AuthorizedKeys``).
///
/// Which directory: `--keys`, else `$DISTILLERY_KEYS`, else `~/.config/distillery/keys`.
public struct NodeKeys: Sendable, Equatable {
    public var directory: String
    /// This node's key pair.
    public var pair: CurveKeyPair
    /// The coordinator's public key (Z85), nil when `coordinator.pub` is absent.
    public var coordinatorKey: String?
    /// This node's key pair file (`NAME.key`).
    public var secretFile: String = ""

    /// `NAME.pub` beside ``secretFile``.
    public var publicFile: String { secretFile.hasSuffix(".key") ? String(secretFile.dropLast(4)) + ".pub" : secretFile }
    /// `NAME` of ``secretFile``.
    public var name: String { ((secretFile as NSString).lastPathComponent as NSString).deletingPathExtension }

    public static let coordinatorFile = "coordinator.pub"
    public static let authorizedKeysFile = "authorized_keys"

    /// The keys directory to use: `flag`, else `DISTILLERY_KEYS` in `environment`, else
    /// `~/.config/distillery/keys` under `home`.
    public static func directory(flag: String?, environment: [String: String], home: String) -> String {
        if let flag, !flag.isEmpty { return flag }
        if let dir = environment["DISTILLERY_KEYS"], !dir.isEmpty { return dir }
        return (home as NSString).appendingPathComponent(".config/distillery/keys")
    }

    /// Reads `directory`. Errors say what is missing or wrong and the command that makes it.
    public static func load(_ directory: String) throws -> NodeKeys {
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw TransportError.security("the keys directory \(directory) does not exist: make this node's keys with "
                + "`distillery keys generate --name NAME --dir \(directory)` and copy the coordinator's .pub file there as "
                + "\(coordinatorFile)")
        }
        let secrets = ((try? fm.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasSuffix(".key") }.sorted()
        guard secrets.count == 1 else {
            throw TransportError.security(secrets.isEmpty
                ? "the keys directory \(directory) holds no key pair (NAME.key): make one with "
                    + "`distillery keys generate --name NAME --dir \(directory)`"
                : "the keys directory \(directory) holds \(secrets.count) key pairs (\(secrets.joined(separator: ", "))): keep "
                    + "only this node's there")
        }
        let pair = try CurveKeyPair.load(secretFile: (directory as NSString).appendingPathComponent(secrets[0]))
        let coordinatorPath = (directory as NSString).appendingPathComponent(coordinatorFile)
        var coordinatorKey: String?
        if fm.fileExists(atPath: coordinatorPath) {
            let keys = try CurveKeyFile.publicKeys(coordinatorPath)
            guard keys.count == 1 else {
                throw TransportError.security("\(coordinatorPath) must hold the coordinator's one public key, it holds \(keys.count)")
            }
            coordinatorKey = keys[0]
        }
        return NodeKeys(directory: directory, pair: pair, coordinatorKey: coordinatorKey,
                        secretFile: (directory as NSString).appendingPathComponent(secrets[0]))
    }

    /// The coordinator's key, or an error saying where to put it.
    public func requireCoordinatorKey() throws -> String {
        guard let coordinatorKey else {
            throw TransportError.security("\((directory as NSString).appendingPathComponent(Self.coordinatorFile)) is missing: "
                + "copy the coordinator's public key file (its NAME.pub) there")
        }
        return coordinatorKey
    }
}

extension NodeKeys {
    /// The path of this directory's authorized_keys (the coordinator's).
    public var authorizedKeysPath: String { (directory as NSString).appendingPathComponent(Self.authorizedKeysFile) }

    /// Reads the coordinator's authorized_keys, or says how to write it.
    public func authorizedKeys() throws -> AuthorizedKeys {
        let path = authorizedKeysPath
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TransportError.security("\(path) is missing: list who may connect there, one `KEY NAME ROLE` line per "
                + "node or client (roles: worker, admin, read); `distillery keys generate` prints each key's line, "
                + "`distillery keys init` writes a first file")
        }
        do { return try AuthorizedKeys(parsing: String(decoding: data, as: UTF8.self), source: path) } catch {
            throw TransportError.security(error.description)
        }
    }

    /// Whether `endpoint` can be reached only from this machine (loopback, ipc, inproc).
    public static func isLocal(_ endpoint: String) -> Bool {
        if endpoint.hasPrefix("ipc://") || endpoint.hasPrefix("inproc://") { return true }
        guard endpoint.hasPrefix("tcp://") else { return false }
        var host = String(endpoint.dropFirst(6))
        if host.hasPrefix("[") {
            guard let end = host.firstIndex(of: "]") else { return false }
            host = String(host[host.index(after: host.startIndex)..<end])
            return host == "::1"
        }
        if let colon = host.lastIndex(of: ":") { host = String(host[..<colon]) }
        return host == "localhost" || host.hasPrefix("127.")
    }
}
