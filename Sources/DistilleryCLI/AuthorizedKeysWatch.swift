import ClusterRuntime
import Foundation
import Logging
import ServiceLifecycle
import Transport
import TransportZMQ
import UnixSignals

/// Reads the coordinator's authorized_keys again on SIGHUP, and when the file changes (checked
/// every ``pollEvery``), so a key is revoked without a restart: from then on the CURVE
/// handshake refuses it and the access gate refuses the messages of its open connections. A
/// file that does not parse is logged and the keys in force stay.
struct AuthorizedKeysWatch: Service {
    static let pollEvery: Duration = .seconds(2)
    let keys: NodeKeys
    let gate: AccessGate
    let transport: ZMQTransport
    let logger: Logger

    func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sighup)
        try await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    for await _ in signals { reload(because: "SIGHUP") }
                }
                group.addTask {
                    var last = stamp()
                    while !Task.isCancelled {
                        try? await Task.sleep(for: Self.pollEvery)
                        let now = stamp()
                        if now != last {
                            last = now
                            reload(because: "the file changed")
                        }
                    }
                }
            }
        }
    }

    /// Size, modification time and inode: any edit or replacement changes one of them.
    private func stamp() -> [Int] {
        var st = stat()
        guard stat(keys.authorizedKeysPath, &st) == 0 else { return [] }
        return [Int(st.st_size), Int(st.st_mtim.tv_sec), Int(st.st_mtim.tv_nsec), Int(st.st_ino)]
    }

    private func reload(because why: String) {
        let before = gate.policy.keys?.publicKeys ?? []
        do {
            let fresh = try keys.authorizedKeys()
            gate.reload(fresh)
            transport.admit(fresh.publicKeys)
            let removed = before.subtracting(fresh.publicKeys).count, added = fresh.publicKeys.subtracting(before).count
            logger.notice("authorized_keys read again (\(why)): \(fresh.entries.count) key(s), \(added) added, \(removed) revoked")
        } catch {
            logger.error("authorized_keys not reloaded (\(why)); the keys in force stay: \(error)")
        }
    }
}
