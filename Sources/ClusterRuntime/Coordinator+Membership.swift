import Clocks
import ClusterCore
import ClusterStore
import Transport
import Wire

extension Coordinator {
    /// `Register`: refuse a name other than the sender, a malformed version or data endpoint
    /// (`Registration.problem`) and an incompatible version, else (re-)admit the worker by
    /// name and answer `RegisterAck` with the heartbeat settings.
    func register(_ m: Register, _ request: Request) {
        if let refusal = Registration.problem(m, sender: request.sender, coordinatorVersion: settings.version) {
            logger.warning("refused worker \(Registration.short(request.sender)): \(refusal.message)")
            event(nil, "worker", "refused \(Registration.short(request.sender)): \(refusal.message)")
            return reply(.error(refusal), to: request)
        }
        if let problem = VersionPolicy.incompatibility(worker: m.version, coordinator: settings.version) {
            logger.warning("refused worker \(m.name): \(problem)")
            event(nil, "worker", "refused \(m.name): \(problem)")
            refuse(.version, problem, to: request)
            return
        }
        let info = WorkerInfo(name: m.name, roles: Set(m.roles.map(WorkerRole.init)), dataEndpoint: m.dataEndpoint,
                              cores: Int(m.cores), memoryBytes: m.memoryBytes, version: m.version, incarnation: m.incarnation)
        apply(liveness.register(info, at: clock.now()))
        peers[m.name] = request.peer
        saveWorker(m.name)
        reply(.registerAck(RegisterAck(
            nodeID: m.name,
            heartbeatIntervalMs: UInt32(clamping: settings.liveness.heartbeatInterval.wholeMilliseconds),
            livenessTimeoutMs: UInt32(clamping: settings.liveness.deadAfter.wholeMilliseconds))), to: request)
        // A worker can only heartbeat once it has its ack: its silence counts from now, not
        // from before a store write that may have stalled (the record above).
        liveness.heard(from: m.name, at: clock.now())
    }

    /// `Heartbeat` (when one reaches the actor; the service's liveness lane answers them
    /// itself): record the load and answer with a heartbeat, so the worker hears the
    /// coordinator too. An unknown (or dead) sender is told to register again.
    func heartbeat(_ m: Heartbeat, _ request: Request, arrivedAt: ClockTime) {
        let (events, answer) = Self.answer(m, from: request.sender, arrivedAt: arrivedAt, liveness: liveness, clock: clock)
        apply(events)
        reply(answer, to: request)
        if !m.runs.isEmpty, case .heartbeat = answer { stopOrphans(m.runs, on: request.sender) }
    }

    /// The heartbeat rule, shared by the actor and the liveness lane: a member that holds work
    /// gets its load recorded (a suspect one recovers) and a `Heartbeat` back; anyone else
    /// `Error{NOT_FOUND}`, so it registers again.
    nonisolated static func answer(_ m: Heartbeat, from sender: String, arrivedAt: ClockTime, liveness: LivenessDesk,
                                   clock: any RuntimeClock) -> (events: [MembershipEvent], reply: Body) {
        let load = WorkerLoad(cpuPercent: m.cpuPercent, rssBytes: m.rssBytes, currentTask: m.currentTask)
        guard let events = liveness.heartbeat(from: sender, load: load, at: arrivedAt) else {
            return ([], .error(Registration.registerFirst(sender, .heartbeat(m))))
        }
        return (events, .heartbeat(Heartbeat(sentUnixMs: UInt64(max(0, clock.wallMs())))))
    }

    /// `Deregister`: the worker leaves cleanly; runs that needed it fail. No answer, except
    /// `Error{NOT_FOUND}` to a name that never registered (it may have mistyped its name).
    func deregister(_ m: Deregister, _ request: Request) {
        guard liveness.member(request.sender) != nil else {
            return refuse(.notFound, "unknown worker \"\(Registration.short(request.sender))\": it never registered, so it "
                + "cannot deregister; nothing was changed", to: request)
        }
        let reason = m.reason.isEmpty ? "deregistered" : m.reason
        apply(liveness.deregister(request.sender, reason: reason, at: clock.now()))
    }

    /// Performs membership events: log, persist, and fail the runs of workers that are gone.
    func apply(_ events: [MembershipEvent]) {
        for e in events {
            switch e {
            case .joined(let name):
                logger.info("worker \(name) joined")
                event(nil, "worker", "\(name) joined (\(describe(name)))")
                workersChanged()
            case .rejoined(let name, let previously):
                logger.info("worker \(name) registered again (was \(previously.rawValue))")
                event(nil, "worker", "\(name) registered again (was \(previously.rawValue))")
                workersChanged()
                // An offer sent while its connection was being replaced may be lost: send the
                // shards it still awaits again (a worker already receiving one ignores a repeat).
                for id in runs.keys.sorted() where runs[id]?.lifecycle.workersAwaitingShard.contains(name) == true {
                    offerShard(of: id, to: name)
                }
            case .restarted(let name, _):
                // A new process under a known name: whatever the old one held is gone now; the
                // new process may take work again (even the part it lost).
                logger.warning("worker \(name) restarted (a new process registered under its name); its work is lost")
                event(nil, "worker", "\(name) restarted (a new process registered under its name); the work it held is lost")
                workerGone(name, keepRoute: true)
                heldRunsByWorker[name] = nil  // the new process holds nothing yet
                workersChanged()
            case .suspected(let name, let silentFor):
                logger.warning("worker \(name) is suspect: silent for \(silentFor.shortDescription)")
                event(nil, "worker", "\(name) is suspect: silent for \(silentFor.shortDescription)")
            case .recovered(let name):
                logger.info("worker \(name) is alive again")
                event(nil, "worker", "\(name) is alive again")
                workersChanged()
            case .died(let name, let silentFor):
                logger.warning("worker \(name) is dead: silent for \(silentFor.shortDescription)")
                event(nil, "worker", "\(name) is dead: silent for \(silentFor.shortDescription)")
                workerGone(name)
            case .left(let name, let reason):
                logger.info("worker \(name) left: \(reason)")
                event(nil, "worker", "\(name) left: \(reason)")
                workerGone(name)
            }
            saveWorker(e.workerName)
        }
    }

    private func workerGone(_ name: String, keepRoute: Bool = false) {
        if !keepRoute { peers[name] = nil }
        for (id, run) in runs where run.lifecycle.involvedWorkers.contains(name) {
            drive(id, .workerLost(name))
        }
    }

    private func describe(_ name: String) -> String {
        guard let m = membership.member(name) else { return "" }
        return "roles \(m.info.roles.sorted().map(\.rawValue).joined(separator: ",")), data \(m.info.dataEndpoint), "
            + "\(m.info.cores) cores, version \(m.info.version)"
    }

    func saveWorker(_ name: String) {
        guard let m = membership.member(name) else { return }
        let record = WorkerRecord(name: m.name, roles: m.info.roles.sorted().map(\.rawValue), address: m.info.dataEndpoint,
                                  cores: m.info.cores, memoryBytes: Int64(clamping: m.info.memoryBytes),
                                  version: m.info.version, state: m.liveness.rawValue, lastSeenMs: clock.wallMs(),
                                  reason: m.reason)
        persist("worker \(name)") { store throws(ClusterStoreError) in try store.saveWorker(record) }
    }
}

extension MembershipEvent {
    var workerName: String {
        switch self {
        case .joined(let n), .rejoined(let n, _), .restarted(let n, _), .suspected(let n, _), .recovered(let n), .died(let n, _),
             .left(let n, _): n
        }
    }
}

extension Coordinator {
    /// A registered worker's heartbeats come from `peer` (``HeartbeatRoutes``): messages to it
    /// go there from now on. A worker without a route (not registered, or gone) gets none.
    public func routeHeard(_ worker: String, peer: PeerID) {
        guard let known = peers[worker], known != peer else { return }
        logger.info("worker \(worker) is heard on a new connection: messages to it go there")
        peers[worker] = peer
    }
}
