import ArgumentParser
import Clocks
import ClusterCore
import ClusterRuntime
import DataPlane
import ClusterStore
import Foundation
import Logging
import Observability
import ServiceLifecycle
import Transport
import TransportZMQ

/// Options every long-running node shares.
struct NodeOptions: ParsableArguments {
    @Option(help: "Log level: trace, debug, info, notice, warning, error.") var logLevel: String = "info"
    @Option(help: .hidden) var parentPid: Int32?

    func logger(_ label: String) throws -> Logger {
        guard let level = Logger.Level(rawValue: logLevel) else {
            throw ValidationError("--log-level '\(logLevel)' is unknown; allowed: trace, debug, info, notice, warning, error")
        }
        var logger = Logger(label: label)
        logger.logLevel = level
        return logger
    }
}

/// Runs `services` until SIGTERM/SIGINT — or, with `--parent-pid`, until that process is gone,
/// so nodes started by `distillery up` never outlive it.
func runNode(_ services: [any Service], parentPid: Int32?, logger: Logger) async throws {
    var all = services
    if let parentPid { all.append(ParentWatch(pid: parentPid, logger: logger)) }
    let group = ServiceGroup(services: all, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
    try await group.run()
}

/// Ends (which shuts the whole group down gracefully) when the parent process is gone.
struct ParentWatch: Service {
    let pid: Int32
    let logger: Logger

    func run() async throws {
        while getppid() == pid {
            try? await SystemRuntimeClock().sleep(for: .milliseconds(250))
            if Task.isCancelled || Task.isShuttingDownGracefully { return }
        }
        logger.warning("the parent process \(pid) is gone; shutting down")
        throw ParentGone()
    }

    struct ParentGone: Error, CustomStringConvertible {
        var description: String { "the process that started this node is gone" }
    }
}

struct CoordinatorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "coordinator",
        abstract: "Run the coordinator: workers register here, runs are submitted here.",
        discussion: """
            Keeps its state (workers, runs, events, metrics, artifacts) in DIR/distillery.sqlite. \
            Runs in flight when it stops go on when it starts again: their workers keep \
            training meanwhile, register again and report them (a run none of its workers \
            reports within --recovery-grace-ms is marked interrupted). Stops cleanly on SIGTERM \
            or Ctrl-C.
            """)

    @Option(help: "Control endpoint to bind.") var listen: String = "tcp://0.0.0.0:7878"
    @Option(help: "Directory for the coordinator's database and artifacts.") var stateDir: String
    @Option(help: "Heartbeat interval in milliseconds.") var heartbeatMs: Int = 1000
    @Option(help: "Silence (ms) after which a worker is suspect: no new work is placed on it.") var suspectMs: Int = 3000
    @Option(help: "Silence (ms) after which a worker is dead: its work is taken away.") var deadMs: Int = 10_000
    @Option(help: "How often (ms) to log heartbeat-answer latencies and heartbeat gaps.") var latencyLogMs: Int = 60_000
    @Option(help: "An elastic run gives a lost replica's slot back to a worker only while its replicas have at least this much (ms) training left.")
    var rejoinLeadMs: Int = 20_000
    @Option(help: "After a restart, how long (ms) a run that was in flight waits for its workers to report it before it is marked interrupted.")
    var recoveryGraceMs: Int = 60_000
    @Option(help: "Serve Prometheus metrics at http://HOST:PORT/metrics (for example 127.0.0.1:9464; no authentication).")
    var metricsListen: String?
    @OptionGroup var security: SecurityOptions
    @OptionGroup var node: NodeOptions

    func run() async throws {
        let logger = try node.logger("distillery.coordinator")
        guard rejoinLeadMs >= 0 else { throw ValidationError("--rejoin-lead-ms must be 0 or more, not \(rejoinLeadMs)") }
        guard recoveryGraceMs >= 0 else { throw ValidationError("--recovery-grace-ms must be 0 or more, not \(recoveryGraceMs)") }
        let liveness = LivenessSettings(heartbeatInterval: .milliseconds(heartbeatMs), suspectAfter: .milliseconds(suspectMs),
                                        deadAfter: .milliseconds(deadMs))
        if let problem = liveness.problem { throw ValidationError("liveness settings: \(problem)") }
        let (curve, gate, nodeKeys) = try NodeSecurity.coordinator(listen: listen, options: security, logger: logger)
        let store: ClusterStore
        do { store = try ClusterStore(directory: stateDir) } catch { throw CLIError("\(error)") }
        let coordinator: Coordinator
        do {
            let settings = CoordinatorSettings(liveness: liveness, runTimeouts: RunTimeouts(growthLead: .milliseconds(rejoinLeadMs)),
                                               latencyLogInterval: .milliseconds(max(1000, latencyLogMs)),
                                               recoveryGrace: .milliseconds(recoveryGraceMs))
            coordinator = try Coordinator(settings: settings, store: store, access: gate, logger: logger)
        } catch { throw CLIError("\(error)") }
        var options = ZMQOptions()
        options.limits = .coordinator  // nothing bigger than an artifact chunk comes to a coordinator
        let transport = try ZMQTransport(name: "coordinator", options: options, security: curve, logger: logger)
        gate.handshakeRefusals(from: { transport.handshakeRefusals() })
        let listener: any Listener
        do { listener = try await transport.listen(at: listen) } catch {
            await transport.shutdown()
            throw CLIError("cannot listen on \(listen): \(error)")
        }
        let mode = gate.security == .curve
            ? "CURVE, \(gate.policy.keys?.entries.count ?? 0) authorized key(s) in \(nodeKeys?.authorizedKeysPath ?? "")"
            : gate.security.text
        print("coordinator listening on \(listener.address) (\(mode)), state in \(store.databasePath)")
        fflush(nil)
        var services: [any Service] = [CoordinatorService(coordinator: coordinator, listener: listener, logger: logger)]
        if let nodeKeys { services.append(AuthorizedKeysWatch(keys: nodeKeys, gate: gate, transport: transport, logger: logger)) }
        if let metricsListen {
            do { services.append(try metricsEndpoint(metricsListen, coordinator: coordinator, listener: listener, logger: logger)) } catch {
                await transport.shutdown()
                throw error
            }
        }
        do {
            try await runNode(services, parentPid: node.parentPid, logger: logger)
        } catch {
            await transport.shutdown()
            throw error
        }
        await transport.shutdown()
    }
}

/// The Prometheus endpoint beside a coordinator (docs/OPERATIONS.md "Monitoring"). It has no
/// authentication: on anything but loopback it says so at start.
func metricsEndpoint(_ address: String, coordinator: Coordinator, listener: any Listener, logger: Logger) throws -> MetricsEndpoint {
    let endpoint: MetricsEndpoint
    do {
        endpoint = try MetricsEndpoint(address: address, logger: logger) {
            await coordinator.clusterMetrics().prometheusText(version: DistilleryVersion.current, transportDrops: listener.drops.snapshot)
        }
    } catch { throw ValidationError(error.description) }
    if !endpoint.host.hasPrefix("127.") {
        logger.warning("metrics on http://\(address)/metrics have no authentication: anyone who reaches it reads run and worker names and figures")
    }
    print("metrics on http://\(address)/metrics")
    return endpoint
}

struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Run a worker: registers with the coordinator and runs teacher and/or student tasks.",
        discussion: """
            --advertise is how other nodes reach this worker's data endpoint: HOST (any free \
            port) or HOST:PORT. The worker re-registers by itself when the coordinator restarts, \
            and deregisters on SIGTERM or Ctrl-C.
            """)

    @Option(help: "The coordinator's control endpoint.") var coordinator: String = defaultCoordinator()
    @Option(help: "Roles: teacher, student, or teacher,student.") var roles: String = "teacher,student"
    @Option(help: "HOST[:PORT] other nodes use to reach this worker's data endpoint.") var advertise: String = "127.0.0.1"
    @Option(help: "Unique worker name (default: the host name).") var name: String?
    @Option(help: "Cache directory for data shards and teachers (default: ~/.cache/distillery/NAME).") var cacheDir: String?
    @OptionGroup var security: SecurityOptions
    @OptionGroup var node: NodeOptions

    func run() async throws {
        let logger = try node.logger("distillery.worker")
        let parsedRoles = try parseRoles(roles)
        let workerName = name ?? ProcessInfo.processInfo.hostName
        guard !workerName.isEmpty, workerName.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) }) else {
            throw ValidationError("--name '\(workerName)' may contain only letters, digits, '-', '_' and '.'")
        }
        let (host, port) = try parseAdvertise(advertise)
        let bindHost = host.split(separator: ".").count == 4 && host.allSatisfy({ $0.isNumber || $0 == "." }) ? host : "0.0.0.0"
        let cache = cacheDir ?? (NSHomeDirectory() + "/.cache/distillery/" + workerName)
        let settings = WorkerSettings(
            name: workerName, roles: parsedRoles, coordinator: coordinator, dataBind: "tcp://\(bindHost):\(port.map(String.init) ?? "*")",
            advertiseHost: host, cacheDirectory: cache, cores: ProcessInfo.processInfo.activeProcessorCount,
            memoryBytes: ProcessInfo.processInfo.physicalMemory)
        let curve = try NodeSecurity.worker(dataBind: settings.dataBind, options: security, logger: logger)
        let transport = try ZMQTransport(name: workerName, security: curve, logger: logger)
        do {
            let service = try await WorkerService.make(settings: settings, transport: transport, logger: logger)
            print("worker \(workerName) (\(parsedRoles.sorted().map(\.rawValue).joined(separator: ","))): data endpoint "
                + "\(service.worker.dataEndpoint), coordinator \(coordinator), cache \(cache)")
            fflush(nil)
            try await runNode([service], parentPid: node.parentPid, logger: logger)
        } catch {
            await transport.shutdown()
            throw CLIError("\(error)")
        }
        await transport.shutdown()
    }
}

/// `$DISTILLERY_COORDINATOR`, else tcp://127.0.0.1:7878.
func defaultCoordinator() -> String {
    let env = ProcessInfo.processInfo.environment["DISTILLERY_COORDINATOR"] ?? ""
    return env.isEmpty ? "tcp://127.0.0.1:7878" : env
}

func parseRoles(_ text: String) throws -> Set<WorkerRole> {
    var roles = Set<WorkerRole>()
    for part in text.split(separator: ",", omittingEmptySubsequences: false) {
        guard let role = WorkerRole(rawValue: part.trimmingCharacters(in: .whitespaces)) else {
            throw ValidationError("--roles '\(text)': '\(part)' is not a role; allowed: teacher, student, or teacher,student")
        }
        roles.insert(role)
    }
    return roles
}

func parseAdvertise(_ text: String) throws -> (host: String, port: Int?) {
    let parts = text.split(separator: ":", omittingEmptySubsequences: false)
    guard parts.count <= 2, let host = parts.first, !host.isEmpty else {
        throw ValidationError("--advertise '\(text)' must be HOST or HOST:PORT (e.g. 10.0.0.2 or nodeb:7879)")
    }
    if parts.count == 2 {
        guard let port = Int(parts[1]), (1...65535).contains(port) else {
            throw ValidationError("--advertise '\(text)': the port must be a number in 1…65535")
        }
        return (String(host), port)
    }
    return (String(host), nil)
}
