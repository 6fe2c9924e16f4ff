import Foundation
import Synchronization
import Testing

/// Tier 3, a secured cluster (docs/OPERATIONS.md "Securing a cluster"): real processes over
/// ZeroMQ on loopback with CURVE keys made by `distillery keys`. A listed worker joins and a run
/// completes; an unknown key, a client without keys, a client with the wrong server key, a key
/// revoked by SIGHUP and a read-only key that submits are each refused with their message within
/// the timeout; a worker with an unlisted key never joins. Every byte between the nodes and the
/// coordinator goes through a relay the test opened: in a secured run it holds none of the
/// run's spec text, in a plaintext one it does.
@Suite(.serialized, .enabled(if: dataAvailable, "Fashion-MNIST is not installed: run Scripts/setup"))
struct SecurityProcessTests {
    /// A spec whose name is the marker looked for in the captured bytes.
    static func spec(_ marker: String) -> String {
        """
        name: \(marker)
        dataset: { train-limit: 1500, validation: 300 }
        teachers: [{ model: "mlp:784-32-10", train: { epochs: 1, batch: 50 } }]
        student: { model: "mlp:784-16-10" }
        training: { batch: 100, epochs: 1 }
        replicas: 2
        """
    }

    /// `distillery keys generate` in `dir`, the coordinator's public key copied beside it; returns
    /// the authorized_keys line it printed.
    static func clientKeys(_ name: String, role: String, in dir: URL, coordinatorPub: URL) throws -> String {
        let r = try distillery(["keys", "generate", "--name", name, "--role", role, "--dir", dir.path])
        #expect(r.status == 0, "\(r.err)")
        try FileManager.default.copyItem(at: coordinatorPub, to: dir.appendingPathComponent("coordinator.pub"))
        return r.out.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.first { $0.hasSuffix(" \(role)") } ?? ""
    }

    @Test func aSecuredClusterAdmitsItsKeysAndRefusesEveryoneElseSayingWhy() throws {
        let dir = try scratchDirectory()
        defer { if ProcessInfo.processInfo.environment["KEEP_TEST_DIRS"] == nil { try? FileManager.default.removeItem(at: dir) } }
        let keys = dir.appendingPathComponent("keys")
        let admin = keys.appendingPathComponent("coordinator")
        let initialized = try distillery(["keys", "init", "--dir", admin.path])
        #expect(initialized.status == 0, "\(initialized.err)")
        let pub = admin.appendingPathComponent("coordinator.pub")
        let authorized = admin.appendingPathComponent("authorized_keys")
        var lines = [try Self.clientKeys("w1", role: "worker", in: keys.appendingPathComponent("w1"), coordinatorPub: pub),
                     try Self.clientKeys("w2", role: "worker", in: keys.appendingPathComponent("w2"), coordinatorPub: pub),
                     try Self.clientKeys("reader", role: "read", in: keys.appendingPathComponent("reader"), coordinatorPub: pub)]
        _ = try Self.clientKeys("stranger", role: "worker", in: keys.appendingPathComponent("stranger"), coordinatorPub: pub)
        #expect(lines.allSatisfy { $0.count > 40 }, "\(lines)")
        let handle = try FileHandle(forWritingTo: authorized)
        handle.seekToEndOfFile()
        handle.write(Data((lines.joined(separator: "\n") + "\n").utf8))
        try handle.close()
        // The wrong server key: a client that holds another coordinator's public key.
        let impostor = keys.appendingPathComponent("impostor")
        #expect(try distillery(["keys", "init", "--dir", impostor.appendingPathComponent("other").path]).status == 0)
        _ = try Self.clientKeys("lost", role: "read", in: impostor.appendingPathComponent("client"),
                                coordinatorPub: impostor.appendingPathComponent("other/coordinator.pub"))

        let port = freePort()
        let relay = try Relay(to: port)
        let address = "tcp://127.0.0.1:\(relay.port)"
        let coordinator = try Node(["coordinator", "--listen", "tcp://127.0.0.1:\(port)", "--state-dir",
                                    dir.appendingPathComponent("state").path, "--keys", admin.path] + ClusterProcessTests.liveness,
                                   log: dir.appendingPathComponent("coordinator.log"))
        let workers = try ["w1", "w2"].map { name in
            try Node(["worker", "--coordinator", address, "--advertise", "127.0.0.1", "--name", name, "--cache-dir",
                      dir.appendingPathComponent("cache-\(name)").path, "--keys", keys.appendingPathComponent(name).path],
                     log: dir.appendingPathComponent("\(name).log"))
        }
        // A worker whose key is not listed never joins, and says why in its log.
        let outsider = try Node(["worker", "--coordinator", address, "--advertise", "127.0.0.1", "--name", "stranger",
                                 "--cache-dir", dir.appendingPathComponent("cache-stranger").path,
                                 "--keys", keys.appendingPathComponent("stranger").path],
                                log: dir.appendingPathComponent("stranger.log"))
        func status(_ keysDir: URL) -> [String: String] {
            guard let r = try? distillery(["status", "--coordinator", address, "--json", "--timeout", "3", "--keys", keysDir.path],
                                          timeout: 20), r.status == 0,
                  let json = (try? JSONSerialization.jsonObject(with: Data(r.out.utf8))) as? [String: Any],
                  let nodes = json["nodes"] as? [[String: Any]] else { return [:] }
            return Dictionary(uniqueKeysWithValues: nodes.compactMap { n in (n["name"] as? String).map { ($0, n["state"] as? String ?? "") } })
        }
        #expect(eventually(timeout: 30) { status(admin) == ["w1": "alive", "w2": "alive"] }, "\(coordinator.output)")
        #expect(coordinator.output.contains("CURVE"), "\(coordinator.output)")

        // The listed workers run a spec to the end.
        let marker = "curve-marker-\(UInt32.random(in: 0 ... .max))"
        let spec = dir.appendingPathComponent("run.yaml")
        try Self.spec(marker).write(to: spec, atomically: true, encoding: .utf8)
        let submitted = try distillery(["submit", spec.path, "--watch", "--coordinator", address, "--keys", admin.path], timeout: 240)
        #expect(submitted.status == 0, "\(submitted.out)\n\(submitted.err)\n\(coordinator.output)")
        #expect(submitted.out.contains("completed"), "\(submitted.out)")

        // Refusals: each with its message, each well within the timeout (5 s).
        func refused(_ args: [String], _ expected: String, keys keysDir: URL?, environment: [String: String] = [:]) throws {
            let start = Date()
            var all = args + ["--coordinator", address, "--timeout", "5"]
            if let keysDir { all += ["--keys", keysDir.path] }
            let r = try run(binary, all, timeout: 30, environment: environment)
            let took = Date().timeIntervalSince(start)
            #expect(r.status != 0, "\(args) was not refused: \(r.out)")
            #expect(r.err.contains(expected), "\(args): expected '\(expected)' in: \(r.err)")
            #expect(took < 6, "\(args) took \(took) s")
        }
        try refused(["status"], "refused this client's key", keys: keys.appendingPathComponent("stranger"))
        try refused(["status"], "is not the one in", keys: impostor.appendingPathComponent("client"))
        let empty = dir.appendingPathComponent("home")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        try refused(["status"], "requires CURVE; this client has no keys", keys: nil, environment: ["HOME": empty.path, "DISTILLERY_KEYS": ""])
        try refused(["submit", spec.path], "has the role 'read'", keys: keys.appendingPathComponent("reader"))
        try refused(["cancel", "run-1"], "has the role 'read'", keys: keys.appendingPathComponent("reader"))
        // The reader may read.
        #expect(try distillery(["runs", "--coordinator", address, "--keys", keys.appendingPathComponent("reader").path]).status == 0)

        // Revoked: its line removed, SIGHUP, refused from then on.
        lines.removeAll { $0.hasSuffix(" read") }
        let text = try String(contentsOf: authorized, encoding: .utf8).split(separator: "\n").filter { !$0.hasSuffix(" read") }
        try (text.joined(separator: "\n") + "\n").write(to: authorized, atomically: true, encoding: .utf8)
        coordinator.kill(SIGHUP)
        #expect(eventually(timeout: 10) { coordinator.output.contains("authorized_keys read again") }, "\(coordinator.output)")
        try refused(["runs"], "refused this client's key", keys: keys.appendingPathComponent("reader"))

        // status lists the refused keys, and the outsider said why it cannot join.
        let statusText = try distillery(["status", "--coordinator", address, "--keys", admin.path])
        #expect(statusText.out.contains("CURVE"), "\(statusText.out)")
        #expect(statusText.out.contains("refused"), "\(statusText.out)")
        #expect(!status(admin).keys.contains("stranger"))
        #expect(outsider.output.contains("refused this client's key"), "\(outsider.output)")

        // No secret key anywhere in what the coordinator logged or answered.
        for secretFile in ["coordinator/coordinator.key", "w1/w1.key", "w2/w2.key"] {
            let secret = try String(contentsOf: keys.appendingPathComponent(secretFile), encoding: .utf8)
                .split(separator: "\n").first { $0.hasPrefix("secret-key") }
                .map { String($0[$0.index(after: $0.firstIndex(of: "=")!)...]).trimmingCharacters(in: .whitespaces) }
            // (Z85 keys may hold '=' themselves: everything after the first one is the key.)
            let secretKey = try #require(secret)
            #expect(secretKey.count == 40, "\(secretKey)")
            #expect(!coordinator.output.contains(secretKey) && !statusText.out.contains(secretKey))
            #expect(!workers.contains { $0.output.contains(secretKey) })
        }

        // The bytes on the wire: encrypted.
        let captured = relay.captured()
        #expect(captured.count > 10_000, "the relay carried \(captured.count) bytes")
        #expect(!captured.contains(Array(marker.utf8)), "the spec's text crossed the wire in clear")
        withExtendedLifetime((workers, outsider)) {}
    }

    /// Secure by default: no keys and a network interface → refused with the one command that
    /// makes keys; `--insecure` starts, warns, and `status` says so; a secret key others can
    /// read is refused.
    @Test func withoutKeysANodeListensOnLoopbackOnlyUnlessToldInsecure() throws {
        let dir = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let home = dir.appendingPathComponent("home")
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
        let environment = ["HOME": home.path, "DISTILLERY_KEYS": ""]
        let port = freePort()
        let refused = try run(binary, ["coordinator", "--listen", "tcp://0.0.0.0:\(port)", "--state-dir", dir.appendingPathComponent("s").path],
                              timeout: 30, environment: environment)
        #expect(refused.status != 0)
        #expect(refused.err.contains("refusing to listen on tcp://0.0.0.0:\(port) without keys"), "\(refused.err)")
        #expect(refused.err.contains("`distillery keys init`"), "\(refused.err)")
        let worker = try run(binary, ["worker", "--advertise", "10.9.8.7", "--name", "w"], timeout: 30, environment: environment)
        #expect(worker.status != 0 && worker.err.contains("refusing to listen"), "\(worker.err)")

        let insecure = try Node(["coordinator", "--listen", "tcp://0.0.0.0:\(port)", "--insecure", "--state-dir",
                                 dir.appendingPathComponent("state").path], log: dir.appendingPathComponent("c.log"), environment: environment)
        let address = "tcp://127.0.0.1:\(port)"
        var status = ""
        #expect(eventually(timeout: 20) {
            status = (try? run(binary, ["status", "--coordinator", address], timeout: 20, environment: environment))?.out ?? ""
            return status.contains("coordinator")
        })
        #expect(status.contains("INSECURE"), "\(status)")
        #expect(insecure.output.contains("INSECURE: listening on tcp://0.0.0.0:\(port) without CURVE"), "\(insecure.output)")

        // A secret key readable by others: refused, with the chmod to run.
        let keys = dir.appendingPathComponent("keys")
        #expect(try distillery(["keys", "init", "--dir", keys.path]).status == 0)
        let secret = keys.appendingPathComponent("coordinator.key")
        #expect((try FileManager.default.attributesOfItem(atPath: secret.path)[.posixPermissions] as? Int) == 0o600)
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: secret.path)
        let open = try run(binary, ["status", "--coordinator", address, "--keys", keys.path], timeout: 30)
        #expect(open.status != 0 && open.err.contains("chmod 600 \(secret.path)"), "\(open.err)")
    }

    /// The same relay on a plaintext cluster shows the spec's text: the capture above proves
    /// something.
    @Test func withoutKeysTheSameCaptureShowsTheSpec() throws {
        let dir = try scratchDirectory()
        defer { if ProcessInfo.processInfo.environment["KEEP_TEST_DIRS"] == nil { try? FileManager.default.removeItem(at: dir) } }
        let home = dir.appendingPathComponent("home")
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
        let environment = ["HOME": home.path, "DISTILLERY_KEYS": ""]
        let port = freePort()
        let relay = try Relay(to: port)
        let address = "tcp://127.0.0.1:\(relay.port)"
        let coordinator = try Node(["coordinator", "--listen", "tcp://127.0.0.1:\(port)", "--insecure", "--state-dir",
                                    dir.appendingPathComponent("state").path] + ClusterProcessTests.liveness,
                                   log: dir.appendingPathComponent("coordinator.log"), environment: environment)
        let workers = try ["w1", "w2"].map { name in
            try Node(["worker", "--coordinator", address, "--advertise", "127.0.0.1", "--name", name, "--cache-dir",
                      dir.appendingPathComponent("cache-\(name)").path], log: dir.appendingPathComponent("\(name).log"),
                     environment: environment)
        }
        let marker = "plain-marker-\(UInt32.random(in: 0 ... .max))"
        let spec = dir.appendingPathComponent("run.yaml")
        try Self.spec(marker).write(to: spec, atomically: true, encoding: .utf8)
        #expect(eventually(timeout: 30) { nodeStates(address).count == 2 }, "\(coordinator.output)")
        let submitted = try run(binary, ["submit", spec.path, "--watch", "--coordinator", address], timeout: 240, environment: environment)
        #expect(submitted.status == 0, "\(submitted.err)")
        #expect(relay.captured().contains(Array(marker.utf8)), "a plaintext run's spec crosses the wire in clear")
        let status = try run(binary, ["status", "--coordinator", address], environment: environment)
        #expect(status.out.contains("plaintext"), "\(status.out)")
        withExtendedLifetime(workers) {}
    }
}

/// A TCP relay on a loopback port the test opened: every connection to it is forwarded to
/// 127.0.0.1:`target`, and every byte both ways is kept (what a capture of the wire would show).
final class Relay: @unchecked Sendable {
    let port: Int
    private let listenFD: Int32
    private let bytes = Mutex<[UInt8]>([])

    init(to target: Int) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = Relay.loopback(0)
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        guard withUnsafePointer(to: &addr, { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }) == 0,
              listen(fd, 64) == 0 else { throw CLITimeout(args: ["relay: cannot listen"]) }
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        listenFD = fd
        port = Int(UInt16(bigEndian: addr.sin_port))
        Thread.detachNewThread { [self] in
            while true {
                let client = accept(fd, nil, nil)
                if client < 0 { return }
                let server = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
                var to = Relay.loopback(target)
                let ok = withUnsafePointer(to: &to) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(server, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
                }
                guard ok == 0 else { close(client); close(server); continue }
                pump(client, server)
                pump(server, client)
            }
        }
    }

    deinit { shutdown(listenFD, Int32(SHUT_RDWR)); close(listenFD) }

    func captured() -> [UInt8] { bytes.withLock { $0 } }

    private func pump(_ from: Int32, _ to: Int32) {
        Thread.detachNewThread { [self] in
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let n = read(from, &buffer, buffer.count)
                if n <= 0 { break }
                bytes.withLock { $0 += buffer[0..<n] }
                var sent = 0
                while sent < n {
                    let w = buffer[sent..<n].withUnsafeBytes { write(to, $0.baseAddress, n - sent) }
                    if w <= 0 { break }
                    sent += w
                }
                if sent < n { break }
            }
            shutdown(to, Int32(SHUT_WR))
        }
    }

    private static func loopback(_ port: Int) -> sockaddr_in {
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        return addr
    }
}

extension Array where Element == UInt8 {
    func contains(_ needle: [UInt8]) -> Bool {
        guard !needle.isEmpty, needle.count <= count else { return false }
        return (0...(count - needle.count)).contains { i in self[i] == needle[0] && Array(self[i..<(i + needle.count)]) == needle }
    }
}
