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
        return NodeKeys(directory: directory, pair: pair, coordinatorKey: coordinatorKey)
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
