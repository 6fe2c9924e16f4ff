import Clocks
import ClusterCore

/// What a coordinator knows about its cluster, for monitoring: taken on the actor in one go
/// (``Coordinator/clusterMetrics()``) and rendered elsewhere (Observability's Prometheus text,
/// `distillery coordinator --metrics-listen`). Only what is true now: a run that ended is no
/// longer in ``runs``, so its series disappear from the next scrape.
public struct ClusterMetrics: Sendable, Equatable {
    /// A run in flight.
    public struct Run: Sendable, Equatable {
        public var id: String
        public var name: String
        /// `RunPhase` raw value ("preparing-teachers", "distilling", …).
        public var phase: String
        /// Progress in the phase (`RunUpdate.phase_done` / `phase_total`).
        public var phaseDone: UInt64
        public var phaseTotal: UInt64
        /// Of the latest metrics report: the student's once it trains, else a teacher's.
        public var epoch: UInt32
        public var step: UInt64
        /// The latest value of every figure the run reported ("student.val_accuracy", …).
        public var figures: [String: Double]

        public init(id: String, name: String, phase: String, phaseDone: UInt64 = 0, phaseTotal: UInt64 = 0,
                    epoch: UInt32 = 0, step: UInt64 = 0, figures: [String: Double] = [:]) {
            self.id = id
            self.name = name
            self.phase = phase
            self.phaseDone = phaseDone
            self.phaseTotal = phaseTotal
            self.epoch = epoch
            self.step = step
            self.figures = figures
        }
    }

    /// Workers by liveness state; every state is present (0 when none).
    public var workers: [Liveness: Int]
    /// Seconds since each worker that holds work (alive or suspect) was last heard.
    public var heartbeatAge: [String: Double]
    /// Runs in the store by state (`RunPhase` raw values), ended ones included.
    public var runsByState: [String: Int]
    /// Runs in flight, oldest first.
    public var runs: [Run]
    /// Messages the coordinator answered or dropped without acting on them, by kind
    /// (``Coordinator/ignored``: "not-registered", "metrics-not-member", …).
    public var ignored: [String: Int]
    /// Times the coordinator could not listen for longer than its tolerance, and for how long in all.
    public var stalls: Int
    public var stallSeconds: Double
    /// Refusals of listed or unknown keys (messages and handshakes), summed over keys.
    public var refusals: Int

    public init(workers: [Liveness: Int] = [:], heartbeatAge: [String: Double] = [:], runsByState: [String: Int] = [:],
                runs: [Run] = [], ignored: [String: Int] = [:], stalls: Int = 0, stallSeconds: Double = 0, refusals: Int = 0) {
        self.workers = Dictionary(uniqueKeysWithValues: Liveness.allCases.map { ($0, workers[$0] ?? 0) })
        self.heartbeatAge = heartbeatAge
        self.runsByState = runsByState
        self.runs = runs
        self.ignored = ignored
        self.stalls = stalls
        self.stallSeconds = stallSeconds
        self.refusals = refusals
    }
}

extension Coordinator {
    /// The cluster as it is now, for monitoring. Runs by state come from the store (a failed
    /// read leaves them out rather than failing the scrape).
    public func clusterMetrics() -> ClusterMetrics {
        let now = clock.now()
        var workers: [Liveness: Int] = [:]
        var ages: [String: Double] = [:]
        for m in membership.members {
            workers[m.liveness, default: 0] += 1
            if m.liveness.holdsWork { ages[m.name] = max(0, (now - m.lastHeard).inSeconds) }
        }
        let flying = runs.values.sorted { $0.submittedMs < $1.submittedMs || ($0.submittedMs == $1.submittedMs && $0.id < $1.id) }
            .map { run in
                let progress = run.lifecycle.phaseProgress
                return ClusterMetrics.Run(id: run.id, name: run.spec.name, phase: run.lifecycle.phase.rawValue,
                                          phaseDone: min(progress.done, progress.total), phaseTotal: progress.total,
                                          epoch: run.epoch, step: run.step,
                                          figures: Dictionary(run.latest.map { ($0.name, $0.value) }, uniquingKeysWith: { _, b in b }))
            }
        let stalls = liveness.stalls
        return ClusterMetrics(workers: workers, heartbeatAge: ages, runsByState: (try? store.runCounts()) ?? [:], runs: flying,
                              ignored: ignored.snapshot, stalls: stalls.count, stallSeconds: stalls.total.inSeconds,
                              refusals: access.refusedKeys().reduce(0) { $0 + Int($1.count) })
    }
}
