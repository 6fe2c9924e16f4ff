import ArgumentParser
import CLIOutput
import Clocks
import ClusterRuntime
import DataPlane
import FileSupport
import Foundation
import Tensor
import Logging
import RunSpec
import ServiceLifecycle
import Synchronization
import TransportZMQ
import Wire

/// A local cluster topology (`Cluster/local.yaml`): one coordinator and N workers, each a
/// separate process on this machine.
///
/// ```yaml
/// coordinator: { listen: tcp://127.0.0.1:7878, state-dir: .distillery/state, metrics-listen: 127.0.0.1:9464 }
/// logs: .distillery/logs          # one log file per process
/// cache: .distillery/cache        # one cache directory per worker
/// keys: .distillery/keys          # throw-away CURVE keys, made anew at each start
/// workers:
///   - { name: teacher-1, roles: [teacher] }
///   - { name: student-1, roles: [student] }
/// ```
/// Unknown keys are errors; relative paths are relative to the current directory.
struct LocalTopology: Equatable {
    struct WorkerEntry: Equatable {
        var name: String
        var roles: [String]
    }

    var listen = "tcp://127.0.0.1:7878"
    var stateDir = ".distillery/state"
    /// The coordinator's Prometheus endpoint ("HOST:PORT"); nil: none.
    var metricsListen: String?
    var logs = ".distillery/logs"
    var cache = ".distillery/cache"
    var keys = ".distillery/keys"
    var workers: [WorkerEntry] = []

    /// Reads the file with the project's one YAML reader (`RunSpec.StrictYAML`): unknown,
    /// duplicate and mistyped keys are errors with their line, all reported together.
    init(yaml: String, file: String) throws {
        var reader = StrictYAML(yaml: yaml, fileName: file, describing: "the cluster file")
        if let root = reader.root(allowed: ["coordinator", "workers", "logs", "cache", "keys"]) {
            if let c = reader.mapping(root, "coordinator", allowed: ["listen", "state-dir", "metrics-listen"]) {
                listen = reader.string(c, "listen", default: listen, allowed: "a ZeroMQ endpoint, e.g. tcp://127.0.0.1:7878")
                stateDir = reader.string(c, "state-dir", default: stateDir, allowed: "a directory")
                let metrics = reader.string(c, "metrics-listen", default: "", allowed: "HOST:PORT, e.g. 127.0.0.1:9464")
                metricsListen = metrics.isEmpty ? nil : metrics
            }
            logs = reader.string(root, "logs", default: logs, allowed: "a directory")
            cache = reader.string(root, "cache", default: cache, allowed: "a directory")
            keys = reader.string(root, "keys", default: keys, allowed: "a directory")
            var seen = Set<String>()
            for w in reader.mappings(root, "workers", allowed: ["name", "roles"],
                                     describing: "a non-empty list of {name, roles}") {
                let name = reader.requiredString(w, "name", allowed: "the worker's name")
                let roles = reader.strings(w, "roles", default: ["teacher", "student"], allowed: "teacher or student")
                guard !name.isEmpty else { continue }
                guard seen.insert(name).inserted else {
                    reader.problem(w, "name", "'\(name)' is used twice; each worker needs a name of its own")
                    continue
                }
                do { _ = try parseRoles(roles.joined(separator: ",")) } catch {
                    reader.problem(w, "roles", "\(error)")
                    continue
                }
                workers.append(WorkerEntry(name: name, roles: roles))
            }
        }
        do { try reader.finish() } catch { throw CLIError("\(error)") }
    }
}

struct Up: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Start a local cluster (coordinator + workers as separate processes on loopback) from a topology file.",
        discussion: """
            Prints where every process listens and logs, then waits. Ctrl-C or SIGTERM stops \
            them all (SIGKILL after 10 s); the processes also stop by themselves if this one dies.
            """)

    @Argument(help: "Topology file, e.g. Cluster/local.yaml.") var file: String

    func run() async throws {
        let text: String
        do { text = try String(contentsOfFile: file, encoding: .utf8) } catch {
            throw CLIError("cannot read \(file): \(error.localizedDescription)")
        }
        let topology = try LocalTopology(yaml: text, file: file)
        var logger = Logger(label: "distillery.up")
        logger.logLevel = .warning
        let cluster = LocalCluster(topology: topology, logger: logger)
        try await cluster.start()
        try await ServiceGroup(services: [cluster], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger).run()
    }
}

/// The processes of a local cluster; stops them all when it is shut down.
final class LocalCluster: Service, @unchecked Sendable {
    let topology: LocalTopology
    let logger: Logger
    private let processes = Mutex<[(name: String, process: Process)]>([])
    private let clock: any RuntimeClock = SystemRuntimeClock()
    /// The keys directory `up`'s own status requests use (the coordinator's, admin).
    private var clientKeys: String?

    init(topology: LocalTopology, logger: Logger) {
        self.topology = topology
        self.logger = logger
    }

    var clientAddress: String { topology.listen.replacingOccurrences(of: "0.0.0.0", with: "127.0.0.1") }

    /// Starts the coordinator, waits until it answers, starts the workers, waits until they
    /// are alive (bounded), and prints the table of processes.
    func start() async throws {
        let fm = FileManager.default
        for dir in [topology.logs, topology.cache, topology.stateDir] {
            do { try fm.createDirectory(atPath: dir, withIntermediateDirectories: true) } catch {
                throw CLIError("cannot create \(dir): \(error.localizedDescription)")
            }
        }
        // Throw-away keys: the local cluster runs the secured path, as a real one does.
        let keys = try LocalKeys.make(in: topology.keys, workers: topology.workers.map(\.name))
        clientKeys = keys.coordinator
        do {
            try spawn("coordinator", ["coordinator", "--listen", topology.listen, "--state-dir", topology.stateDir,
                                      "--keys", keys.coordinator] + (topology.metricsListen.map { ["--metrics-listen", $0] } ?? []))
            try await waitForCoordinator(timeout: 15)
            // The workers share this machine's cores: one compute thread each when there are
            // more workers than cores (unless DISTILLERY_THREADS says otherwise).
            let threads = ProcessInfo.processInfo.environment["DISTILLERY_THREADS"]
                ?? String(max(1, System.coreCount / topology.workers.count))
            for w in topology.workers {
                try spawn(w.name, environment: ["DISTILLERY_THREADS": threads], ["worker", "--coordinator", clientAddress, "--roles", w.roles.joined(separator: ","),
                                   "--advertise", "127.0.0.1", "--name", w.name, "--cache-dir", "\(topology.cache)/\(w.name)",
                                   "--keys", keys.workers[w.name]!])
            }
            try await waitForWorkers(timeout: 20)
        } catch {
            stopAll()
            throw error
        }
        print("local cluster up: coordinator \(clientAddress), \(topology.workers.count) worker(s)")
        let rows = processes.withLock { $0.map { [$0.name, String($0.process.processIdentifier), "\(topology.logs)/\($0.name).log"] } }
        TextTable(header: ["PROCESS", "PID", "LOG"], rows: rows, alignments: [.left, .right]).print()
        print("CURVE keys (made for this cluster, admin): export DISTILLERY_KEYS=\(keys.coordinator)")
        if let metrics = topology.metricsListen { print("Prometheus metrics: http://\(metrics)/metrics") }
        print("stop with Ctrl-C; meanwhile: distillery status, distillery submit FILE --watch")
        fflush(nil)
    }

    func run() async throws {
        await withGracefulShutdownHandler {
            while !Task.isShuttingDownGracefully && !Task.isCancelled {
                try? await clock.sleep(for: .milliseconds(200))
                for (name, p) in processes.withLock({ $0 }) where !p.isRunning {
                    logger.warning("\(name) exited with status \(p.terminationStatus); see \(topology.logs)/\(name).log")
                }
                processes.withLock { $0.removeAll { !$0.process.isRunning } }
            }
        } onGracefulShutdown: {}
        print("\nstopping the local cluster …")
        stopAll()
        print("stopped")
    }

    private func spawn(_ name: String, environment: [String: String] = [:], _ arguments: [String]) throws {
        let p = Process()
        p.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        p.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        p.arguments = arguments + ["--parent-pid", String(getpid())]
        let logPath = "\(topology.logs)/\(name).log"
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        guard let log = FileHandle(forWritingAtPath: logPath) else { throw CLIError("cannot write the log file \(logPath)") }
        p.standardOutput = log
        p.standardError = log
        p.standardInput = FileHandle.nullDevice
        do { try p.run() } catch { throw CLIError("cannot start \(name): \(error.localizedDescription)") }
        processes.withLock { $0.append((name, p)) }
    }

    /// SIGTERM to all, then SIGKILL to what is left after 10 s: no orphans.
    func stopAll() {
        let list = processes.withLock { $0 }
        for (_, p) in list.reversed() where p.isRunning { kill(p.processIdentifier, SIGTERM) }
        let deadline = clock.deadline(after: .seconds(10))
        while list.contains(where: { $0.process.isRunning }) && !deadline.hasPassed {
            clock.blockingSleep(for: deadline.slice(atMost: .milliseconds(50)))
        }
        for (name, p) in list where p.isRunning {
            logger.warning("\(name) did not stop within 10 s; killing it")
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
        }
        processes.withLock { $0.removeAll() }
    }

    private func status(timeout: Double) async -> ClusterStatus? {
        var logger = Logger(label: "distillery.up.client")
        logger.logLevel = .critical
        let security = clientKeys.flatMap { try? NodeKeys.load($0) }.flatMap { k in
            k.coordinatorKey.map { CurveSecurity(keys: k.pair, defaultServerKey: $0) }
        }
        guard let transport = try? ZMQTransport(name: "up", security: security, logger: logger) else { return nil }
        defer { Task { await transport.shutdown() } }
        guard let client = try? await ControlClient(transport: transport, coordinator: clientAddress,
                                                    timeout: .milliseconds(Int(timeout * 1000))),
              case .clusterStatus(let s)? = try? await client.request(.statusRequest(StatusRequest())) else { return nil }
        await client.close()
        return s
    }

    private func waitForCoordinator(timeout: Double) async throws {
        let deadline = clock.deadline(after: .seconds(timeout))
        while !deadline.hasPassed {
            if await status(timeout: 1) != nil { return }
            if processes.withLock({ $0.first?.process.isRunning }) == false {
                throw CLIError("the coordinator exited at start; see \(topology.logs)/coordinator.log")
            }
        }
        throw CLIError("the coordinator did not answer at \(clientAddress) within \(Int(timeout)) s; see \(topology.logs)/coordinator.log")
    }

    private func waitForWorkers(timeout: Double) async throws {
        let deadline = clock.deadline(after: .seconds(timeout))
        let names = Set(topology.workers.map(\.name))
        while !deadline.hasPassed {
            if let s = await status(timeout: 1) {
                let alive = Set(s.nodes.filter { $0.state == .alive }.map(\.name))
                if names.isSubset(of: alive) { return }
            }
            for (name, p) in processes.withLock({ $0 }) where !p.isRunning {
                throw CLIError("\(name) exited at start (status \(p.terminationStatus)); see \(topology.logs)/\(name).log")
            }
            try? await clock.sleep(for: deadline.slice(atMost: .milliseconds(200)))
        }
        throw CLIError("not every worker registered within \(Int(timeout)) s; see the logs in \(topology.logs)")
    }
}

/// `distillery up`'s throw-away keys: made anew at each start under the topology's `keys`
/// directory — `coordinator/` (its pair, coordinator.pub, an authorized_keys listing every
/// worker and itself as admin, for local clients) and `workers/NAME/` (the worker's pair and
/// coordinator.pub).
enum LocalKeys {
    static func make(in root: String, workers: [String]) throws -> (coordinator: String, workers: [String: String]) {
        let fm = FileManager.default
        let base = (root as NSString).standardizingPath.hasPrefix("/") ? root : fm.currentDirectoryPath + "/" + root
        let coordinatorDir = base + "/coordinator", workersDir = base + "/workers"
        for old in [coordinatorDir, workersDir] where fm.fileExists(atPath: old) {
            do { try fm.removeItem(atPath: old) } catch { throw CLIError("cannot remove the old keys \(old): \(error.localizedDescription)") }
        }
        let coordinator = try CurveKeyPair.generate()
        _ = try coordinator.write(to: coordinatorDir, name: "coordinator")
        var lines = ["# distillery up: throw-away keys of this local cluster (KEY NAME ROLE)", "\(coordinator.publicKey) coordinator admin"]
        var dirs: [String: String] = [:]
        for name in workers {
            let dir = workersDir + "/" + name
            let pair = try CurveKeyPair.generate()
            _ = try pair.write(to: dir, name: name)
            try copy(coordinatorDir + "/coordinator.pub", to: dir + "/" + NodeKeys.coordinatorFile)
            lines.append("\(pair.publicKey) \(name) worker")
            dirs[name] = dir
        }
        do throws(FileError) {
            try AtomicFile.write(Array((lines.joined(separator: "\n") + "\n").utf8), to: coordinatorDir + "/" + NodeKeys.authorizedKeysFile,
                                 permissions: 0o600, replacing: false)
        } catch { throw CLIError("cannot write the local cluster's authorized_keys: \(error)") }
        return (coordinatorDir, dirs)
    }

    private static func copy(_ from: String, to: String) throws {
        guard let data = FileManager.default.contents(atPath: from) else { throw CLIError("cannot read \(from)") }
        do throws(FileError) { try AtomicFile.write(Array(data), to: to, permissions: 0o644, replacing: false) } catch {
            throw CLIError("cannot write \(to): \(error)")
        }
    }
}
