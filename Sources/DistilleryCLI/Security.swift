import ArgumentParser
import ClusterRuntime
import Foundation
import Logging
import Transport
import TransportZMQ
import Wire

/// `--keys` and `--insecure` of the coordinator and the workers (docs/OPERATIONS.md "Securing
/// a cluster").
struct SecurityOptions: ParsableArguments {
    @Option(help: "Keys directory: this node's NAME.key, the coordinator's coordinator.pub and, on the coordinator, authorized_keys (default: $DISTILLERY_KEYS, else ~/.config/distillery/keys).")
    var keys: String?
    @Flag(help: "Listen on a network interface without CURVE: anyone who reaches the port can act as any node. Logged, and shown in `status`.")
    var insecure = false
}

/// How a node or client secures its connections, decided once at start.
enum NodeSecurity {
    /// The keys directory in use and its keys; nil when no directory was named and the
    /// default one does not exist (a named one that does not exist is an error).
    static func keys(flag: String?) throws -> NodeKeys? {
        let env = ProcessInfo.processInfo.environment
        let dir = NodeKeys.directory(flag: flag, environment: env, home: NSHomeDirectory())
        let named = (flag?.isEmpty == false) || (env["DISTILLERY_KEYS"]?.isEmpty == false)
        if !named && !FileManager.default.fileExists(atPath: dir) { return nil }
        do { return try NodeKeys.load(dir) } catch { throw CLIError("\(error)") }
    }

    /// Logged, and printed on stderr (where a person starting the node sees it).
    static func warn(_ text: String, _ logger: Logger) {
        logger.warning("\(text)")
        FileHandle.standardError.write(Data("warning: \(text)\n".utf8))
    }

    /// The refusal of a node that would listen on `endpoint` in plaintext.
    static func refusal(node: String, endpoint: String) -> CLIError {
        let dir = NodeKeys.directory(flag: nil, environment: [:], home: NSHomeDirectory())
        return CLIError("""
            refusing to listen on \(endpoint) without keys: anyone who can reach it could act as any node of the cluster \
            (submit runs that read files here, cancel runs, send logits). Make keys with one command — \
            \(node == "coordinator" ? "`distillery keys init`" : "`distillery keys generate --name NAME --dir \(dir)`") \
            (see docs/OPERATIONS.md "Securing a cluster") — or listen on loopback only, or pass --insecure to accept the risk.
            """)
    }

    /// The coordinator's transport security and access gate.
    static func coordinator(listen: String, options: SecurityOptions, logger: Logger) throws -> (CurveSecurity?, AccessGate, NodeKeys?) {
        let local = NodeKeys.isLocal(listen)
        if options.insecure {
            if !local { warn("INSECURE: listening on \(listen) without CURVE (--insecure): anyone who can reach it can act as any node", logger) }
            return (nil, AccessGate(keys: nil, security: local ? .loopback : .insecure, logger: logger), nil)
        }
        guard let keys = try keys(flag: options.keys) else {
            guard local else { throw refusal(node: "coordinator", endpoint: listen) }
            logger.notice("no keys directory: plaintext on \(listen) (this machine only)")
            return (nil, AccessGate(keys: nil, security: .loopback, logger: logger), nil)
        }
        let authorized: AuthorizedKeys
        do { authorized = try keys.authorizedKeys() } catch { throw CLIError("\(error)") }
        let security = CurveSecurity(keys: keys.pair, authorizedClients: authorized.publicKeys)
        return (security, AccessGate(keys: authorized, security: .curve, logger: logger), keys)
    }

    /// A worker's transport security: a CURVE client of the coordinator, and (its data
    /// endpoint) a CURVE server admitting its runs' members.
    static func worker(dataBind: String, options: SecurityOptions, logger: Logger) throws -> CurveSecurity? {
        let local = NodeKeys.isLocal(dataBind)
        if options.insecure {
            if !local {
                warn("INSECURE: data endpoint \(dataBind) without CURVE (--insecure): anyone who can reach it can feed it logits and gradients", logger)
            }
            return nil
        }
        guard let keys = try keys(flag: options.keys) else {
            guard local else { throw refusal(node: "worker", endpoint: dataBind) }
            return nil
        }
        let coordinatorKey: String
        do { coordinatorKey = try keys.requireCoordinatorKey() } catch { throw CLIError("\(error)") }
        return CurveSecurity(keys: keys.pair, defaultServerKey: coordinatorKey)
    }

    /// A client's: with keys when it has a keys directory, else plaintext.
    static func client(flag: String?) throws -> (CurveSecurity?, NodeKeys?) {
        guard let keys = try keys(flag: flag) else { return (nil, nil) }
        let coordinatorKey: String
        do { coordinatorKey = try keys.requireCoordinatorKey() } catch { throw CLIError("\(error)") }
        return (CurveSecurity(keys: keys.pair, defaultServerKey: coordinatorKey), keys)
    }
}

extension ListenerSecurity {
    /// How a coordinator's listener is secured, in words (its start line and `status`).
    var text: String {
        switch self {
        case .curve: "CURVE"
        case .loopback: "plaintext, this machine only"
        case .insecure: "INSECURE: plaintext on the network (--insecure)"
        case .unreported: "security not reported"
        }
    }
}
