import ClusterCore
import ClusterRuntime
import DataPlane
import DistilleryTestKit
import ClusterStore
import Foundation
import Logging
import NN
import Testing
import Transport
import Wire

/// A whole cluster in one process (DESIGN.md §4 "abstraction / real / fake"): a coordinator
/// and workers over the in-memory transport, all on one `ManualClock`, driven step by step
/// from the test — nothing moves unless the test pumps it, so liveness deadlines can be
/// checked to the millisecond.
final class EmbeddedCluster: @unchecked Sendable {
    let network = InMemoryNetwork()
    let clock = ManualClock(startMs: 1_000)
    let stateDir: String
    let liveness: LivenessSettings
    let logger: Logger
    private(set) var store: ClusterStore
    private(set) var coordinator: Coordinator
    private(set) var service: CoordinatorService
    private(set) var workers: [String: WorkerService] = [:]
    /// Workers the test has "frozen": they are not stepped (a hung or partitioned process).
    var frozen: Set<String> = []
    /// Stall tolerance of workers added from now on (nil: never excuse, as the clock jumps).
    var workerStallTolerance: Duration?
    /// How long workers added from now on send a refused student again.
    var workerUploadWait: Duration = .seconds(300)
    private var dataPlanes: [Task<Void, Never>] = []
    static let address = "mem://coordinator"
    /// Secured clusters: every node's key by name (what CURVE would authenticate), the
    /// coordinator's authorized keys built from them; nil: a plaintext cluster.
    private(set) var keys: [String: String]?
    private(set) var authorized: AuthorizedKeys?
    /// CLUSTER_SECURED=1: every cluster of the tests secured, each worker's key listed as it
    /// is added (the whole in-memory suite then runs the CURVE paths: keys, roles, peer keys).
    static let securedByEnvironment = ProcessInfo.processInfo.environment["CLUSTER_SECURED"] == "1"
    private var coordinatorTransport: InMemoryTransport?

    /// A fake Z85 key for `name` (the in-memory transport only compares them).
    static func key(_ name: String) -> String {
        let alphabet = Array("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
        var h: UInt64 = 1469598103934665603
        return String((0..<40).map { i in
            for b in "\(name)#\(i)".utf8 { h = (h ^ UInt64(b)) &* 1099511628211 }
            return alphabet[Int(h % UInt64(alphabet.count))]
        })
    }

    init(liveness: LivenessSettings = .twoAndFive, runTimeouts: RunTimeouts = RunTimeouts(),
         stallTolerance: Duration? = nil, secured: [String: KeyRole]? = nil) async throws {
        let secured = secured ?? (EmbeddedCluster.securedByEnvironment ? ["admin": .admin, "cli": .admin] : nil)
        keys = secured.map { Dictionary(uniqueKeysWithValues: $0.keys.map { ($0, EmbeddedCluster.key($0)) }) }
        authorized = secured.map { roles in
            AuthorizedKeys(roles.sorted { $0.key < $1.key }.map { AuthorizedKey(publicKey: EmbeddedCluster.key($0.key), name: $0.key, role: $0.value) })
        }
        stateDir = FileManager.default.temporaryDirectory.appendingPathComponent("embedded-\(UUID().uuidString)").path
        self.liveness = liveness
        var logger = Logger(label: "test.cluster")
        // CLUSTER_TEST_LOG=debug shows what the shells do.
        logger.logLevel = Logger.Level(rawValue: ProcessInfo.processInfo.environment["CLUSTER_TEST_LOG"] ?? "") ?? .critical
        self.logger = logger
        store = try ClusterStore(directory: stateDir)
        // The manual clock moves in jumps on purpose: no stall is excused unless a test asks.
        let settings = CoordinatorSettings(liveness: liveness, runTimeouts: runTimeouts, shardChunkBytes: 64 * 1024,
                                           stallTolerance: stallTolerance)
        let clock = self.clock
        let access = authorized.map { AccessGate(keys: $0, security: .curve, clock: clock) } ?? .open()
        coordinator = try Coordinator(settings: settings, store: store, clock: clock, access: access, logger: logger)
        let transport = network.transport(name: "coordinator")
        if let authorized { transport.admit(authorized.publicKeys) }
        coordinatorTransport = transport
        let listener = try await transport.listen(at: EmbeddedCluster.address)
        service = CoordinatorService(coordinator: coordinator, listener: listener, clock: clock, maxPoll: .milliseconds(1),
                                     logger: logger)
    }

    /// Replaces the coordinator's authorized keys (a revocation, as on SIGHUP).
    func authorize(_ keys: AuthorizedKeys) {
        authorized = keys
        coordinator.access.reload(keys)
        coordinatorTransport?.admit(keys.publicKeys)
    }


    deinit {
        dataPlanes.forEach { $0.cancel() }
        try? FileManager.default.removeItem(atPath: stateDir)
    }

    /// Replaces the coordinator by a new one on the same state directory, as after a crash:
    /// the old listener is closed, nothing of its memory survives.
    func restartCoordinator() async throws {
        await service.listener.close()
        // The old coordinator's queued writes land before the new one reads the store (a real
        // coordinator flushes them when it stops, CoordinatorService.run).
        await coordinator.flushWrites()
        store = try ClusterStore(directory: stateDir)
        let access = authorized.map { AccessGate(keys: $0, security: .curve, clock: clock) } ?? .open()
        coordinator = try Coordinator(settings: coordinator.settings, store: store, clock: clock, access: access, logger: logger)
        let transport = network.transport(name: "coordinator-2")
        if let authorized { transport.admit(authorized.publicKeys) }
        coordinatorTransport = transport
        let listener = try await transport.listen(at: EmbeddedCluster.address)
        service = CoordinatorService(coordinator: coordinator, listener: listener, clock: clock, maxPoll: .milliseconds(1),
                                     logger: logger)
    }

    /// Where workers added from now on log (every level), when set; else `logger`.
    var workerLogs: LogCapture?

    @discardableResult
    func addWorker(_ name: String, roles: Set<WorkerRole>, version: String = DistilleryVersion.current) async throws -> Worker {
        let settings = WorkerSettings(name: name, roles: roles, coordinator: EmbeddedCluster.address, dataBind: "mem://*",
                                      cacheDirectory: "\(stateDir)/cache-\(name)", version: version, cores: 2,
                                      memoryBytes: 1 << 30, shardWindow: 4, stallTolerance: workerStallTolerance,
                                      uploadWait: workerUploadWait)
        if var known = keys, known[name] == nil, let listed = authorized {
            known[name] = EmbeddedCluster.key(name)
            keys = known
            authorize(AuthorizedKeys(listed.entries + [AuthorizedKey(publicKey: EmbeddedCluster.key(name), name: name, role: .worker)]))
        }
        let transport = network.transport(name: name, key: keys?[name])
        if keys != nil { transport.admit(Set<String>()) }
        let w = try await WorkerService.make(settings: settings, transport: transport, clock: clock,
                                             logger: workerLogs?.logger(label: name) ?? logger)
        workers[name] = w
        dataPlanes.append(Task { await w.runDataPlane() })
        return w.worker
    }

    /// One round: the coordinator handles at most one message and ticks; every worker that
    /// is not frozen takes one step. Errors of refused workers are returned by name.
    @discardableResult
    func pumpOnce() async -> [String: any Error] {
        var errors: [String: any Error] = [:]
        await service.step()
        for (name, w) in workers.sorted(by: { $0.key < $1.key }) where !frozen.contains(name) {
            do { try await w.worker.step(maxWait: .milliseconds(1)) } catch { errors[name] = error }
        }
        return errors
    }

    /// Steps every worker that is not frozen, but not the coordinator (a coordinator that is
    /// paused while its workers go on: their messages queue up).
    func pumpWorkersOnly() async {
        for (name, w) in workers.sorted(by: { $0.key < $1.key }) where !frozen.contains(name) {
            _ = try? await w.worker.step(maxWait: .milliseconds(1))
        }
    }

    /// `rounds` rounds (enough to drain the queues of a quiet cluster).
    @discardableResult
    func pump(_ rounds: Int = 12) async -> [String: any Error] {
        var errors: [String: any Error] = [:]
        for _ in 0..<rounds { errors.merge(await pumpOnce()) { a, _ in a } }
        return errors
    }

    /// Moves the clock by `duration` in steps of `step`, pumping after each.
    func advance(_ duration: Duration, step: Duration = .milliseconds(250)) async {
        var left = duration
        while left > .zero {
            let d = min(step, left)
            clock.advance(by: d)
            left -= d
            await pump()
        }
    }

    /// Pumps until `condition` holds, at most `timeout` of real time (for work on real
    /// threads such as training); moves the manual clock by `tick` every round so
    /// heartbeats keep flowing.
    func pump(until condition: () async -> Bool, timeout: Duration = .seconds(60), tick: Duration = .milliseconds(20),
              sourceLocation: SourceLocation = #_sourceLocation) async {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if await condition() { return }
            clock.advance(by: tick)
            await pump(2)
        }
        Issue.record("condition not reached within \(timeout)", sourceLocation: sourceLocation)
    }

    /// Sends `body` from a CLI client (in a secured cluster with the key of `as`, "admin" by
    /// default) and pumps until the answer arrives.
    func request(_ body: Body, as client: String = "admin", key: String? = nil) async throws -> Body {
        let client = try await ControlClient(transport: network.transport(name: "cli", key: key ?? keys?[client]),
                                             coordinator: EmbeddedCluster.address, timeout: .seconds(20))
        let done = Flag()
        async let reply: Body = {
            defer { done.set() }
            return try await client.request(body)
        }()
        while !done.isSet { await pumpOnce() }
        let result = try await reply
        await client.close()
        return result
    }

    func liveness(of name: String) async -> Liveness? { await coordinator.member(name)?.liveness }
    func phase(of run: String) async -> RunPhase? { await coordinator.phase(ofRun: run) }

    /// A cluster with the synthetic data set (600 training, 200 test images) and these
    /// teacher and student workers, registered; returns it and the data set's directory.
    static func withSyntheticData(teachers: [String], students: [String],
                                  secured: [String: KeyRole]? = nil) async throws -> (EmbeddedCluster, String) {
        let cluster = try await EmbeddedCluster(secured: secured)
        let data = cluster.stateDir + "/data"
        try SyntheticFashion.write(to: data, train: 600, test: 200)
        for name in teachers { try await cluster.addWorker(name, roles: [.teacher]) }
        for name in students { try await cluster.addWorker(name, roles: [.student]) }
        await cluster.pump()
        return (cluster, data)
    }

    /// The parameters of the run's stored `student.safetensors`; empty when none was stored.
    func studentParameters(run: String) throws -> [Float] {
        guard let stored = try store.artifacts(runID: run).first(where: { $0.name == "student.safetensors" }) else { return [] }
        let model = try ModelCheckpoint.read(from: "\(stateDir)/\(stored.path)").model
        return Array(UnsafeBufferPointer(start: model.parameters.pointer, count: model.parameterCount))
    }

    /// The messages of the run's event log, oldest first.
    func events(run: String) async throws -> [String] {
        guard case .eventList(let list) = try await request(.listEvents(ListEvents(runID: run))) else {
            throw TestFailure("no events for \(run)")
        }
        return list.events.map(\.message)
    }
}

final class Flag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func set() { lock.lock(); value = true; lock.unlock() }
    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return value }
}

/// A small Fashion-MNIST look-alike (raw IDX files): 28×28 images whose brightest band
/// depends on the label, so a model can learn it in one epoch.
enum SyntheticFashion {
    static func write(to directory: String, train: Int, test: Int) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try split(prefix: "train", count: train, seed: 1, directory: directory)
        try split(prefix: "t10k", count: test, seed: 2, directory: directory)
    }

    private static func split(prefix: String, count: Int, seed: UInt64, directory: String) throws {
        var state = seed
        var images = [UInt8](repeating: 0, count: count * 784)
        var labels = [UInt8](repeating: 0, count: count)
        for i in 0..<count {
            let label = i % 10
            labels[i] = UInt8(label)
            for k in 0..<784 {
                state = state &* 6364136223846793005 &+ 1442695040888963407
                let noise = UInt8(truncatingIfNeeded: state >> 59)
                let row = k / 28
                images[i * 784 + k] = (row / 3 == label ? 200 : 20) &+ noise
            }
        }
        try Data(idx(dims: [count, 28, 28], data: images)).write(to: URL(fileURLWithPath: "\(directory)/\(prefix)-images-idx3-ubyte"))
        try Data(idx(dims: [count], data: labels)).write(to: URL(fileURLWithPath: "\(directory)/\(prefix)-labels-idx1-ubyte"))
    }

    private static func idx(dims: [Int], data: [UInt8]) -> [UInt8] {
        var bytes: [UInt8] = [0, 0, 0x08, UInt8(dims.count)]
        for d in dims { bytes += [UInt8(d >> 24 & 0xFF), UInt8(d >> 16 & 0xFF), UInt8(d >> 8 & 0xFF), UInt8(d & 0xFF)] }
        return bytes + data
    }
}
