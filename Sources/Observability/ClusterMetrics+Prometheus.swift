import ClusterCore
import ClusterRuntime
import Prometheus

/// The Prometheus text exposition of a ``ClusterMetrics`` snapshot
/// (https://prometheus.io/docs/instrumenting/exposition_formats/), through swift-prometheus'
/// registry. A fresh registry per scrape: a run that ended has no series any more, and every
/// counter is a total kept elsewhere (the store, the coordinator's drop counters), so nothing
/// is lost between scrapes.
///
/// Names follow Prometheus' conventions: the `distillery_` prefix, base units (`_seconds`,
/// `_bytes`, `_ratio` for 0…1), `_total` on counters, and labels from bounded sets only (a
/// state, a kind, a worker, a run in flight, a teacher's index). docs/OPERATIONS.md
/// "Monitoring" lists them.
extension ClusterMetrics {
    /// The finished states `distillery_runs_finished_total` always has (0 when none).
    static let finishedStates: [RunPhase] = [.completed, .failed, .cancelled, .interrupted]

    /// The exposition text; `transportDrops` are the coordinator listener's drops by kind.
    public func prometheusText(version: String, transportDrops: [String: Int] = [:]) -> String {
        let r = PrometheusCollectorRegistry()
        r.makeGauge(name: "distillery_build_info", labels: [("version", version)],
                    help: "The coordinator's software version (always 1).").set(1.0)
        for state in Liveness.allCases {
            r.makeGauge(name: "distillery_workers", labels: [("state", state.rawValue)],
                        help: "Workers the coordinator knows, by liveness state.").set(Double(workers[state] ?? 0))
        }
        for (worker, age) in heartbeatAge.sorted(by: { $0.key < $1.key }) {
            r.makeGauge(name: "distillery_worker_heartbeat_age_seconds", labels: [("worker", worker)],
                        help: "Seconds since the coordinator last heard each worker that holds work.").set(age)
        }
        for (state, n) in runsByState.sorted(by: { $0.key < $1.key }) {
            r.makeGauge(name: "distillery_runs", labels: [("state", state)], help: "Runs in the coordinator's store, by state.").set(Double(n))
        }
        for state in Self.finishedStates {
            r.makeCounter(name: "distillery_runs_finished_total", labels: [("state", state.rawValue)],
                          help: "Runs that ended, by how (from the store: kept across restarts).")
                .increment(by: Int64(runsByState[state.rawValue] ?? 0))
        }
        r.makeGauge(name: "distillery_runs_in_flight", help: "Runs the coordinator is driving now.").set(Double(runs.count))
        for (kind, n) in ignored.sorted(by: { $0.key < $1.key }) {
            r.makeCounter(name: "distillery_coordinator_ignored_messages_total", labels: [("kind", kind)],
                          help: "Messages the coordinator answered or dropped without acting on them, by kind.").increment(by: Int64(n))
        }
        for (kind, n) in transportDrops.sorted(by: { $0.key < $1.key }) {
            r.makeCounter(name: "distillery_transport_dropped_messages_total", labels: [("kind", kind)],
                          help: "Messages the coordinator's socket dropped (undecodable, over a limit, unroutable), by kind.")
                .increment(by: Int64(n))
        }
        r.makeCounter(name: "distillery_coordinator_stalls_total",
                      help: "Times the coordinator could not listen for longer than its tolerance (paused, overloaded).")
            .increment(by: Int64(stalls))
        r.makeCounter(name: "distillery_coordinator_stall_seconds_total", help: "Seconds the coordinator's stalls lasted in all.")
            .increment(by: stallSeconds)
        r.makeCounter(name: "distillery_access_refusals_total", help: "Messages and handshakes refused for their key, in all.")
            .increment(by: Int64(refusals))
        for run in runs { run.register(in: r) }
        return r.emitToString()
    }
}

extension ClusterMetrics.Run {
    /// The run's series: only the figures it reported (nothing is invented as 0).
    func register(in r: PrometheusCollectorRegistry) {
        let label = [("run", id)]
        r.makeGauge(name: "distillery_run_info", labels: [("run", id), ("name", name), ("phase", phase)],
                    help: "A run in flight with its name and phase (always 1).").set(1.0)
        r.makeGauge(name: "distillery_run_phase_progress_ratio", labels: label,
                    help: "Progress in the run's phase: steps done of planned (teachers' or replicas'), 0 to 1.")
            .set(phaseTotal > 0 ? Double(phaseDone) / Double(phaseTotal) : 0)
        r.makeGauge(name: "distillery_run_epoch", labels: label, help: "Epoch of the run's latest metrics report.").set(Double(epoch))
        r.makeGauge(name: "distillery_run_step", labels: label, help: "Global step of the run's latest metrics report.")
            .set(Double(step))
        func gauge(_ name: String, _ figure: String, _ help: String, scale: Double = 1, labels: [(String, String)]? = nil) {
            guard let value = figures[figure], value.isFinite else { return }
            r.makeGauge(name: name, labels: labels ?? label, help: help).set(value * scale)
        }
        func counter(_ name: String, _ value: Double?, _ help: String) {
            guard let value, value.isFinite, value >= 0 else { return }
            r.makeCounter(name: name, labels: label, help: help).increment(by: value)
        }
        gauge("distillery_run_samples_per_second", "student.samples_per_s", "Training samples the student replicas take per second (last epoch).")
        gauge("distillery_run_student_train_loss", "student.train_loss", "The student's distillation loss on replica 0's micro-batches (last epoch).")
        gauge("distillery_run_student_validation_accuracy_ratio", "student.val_accuracy", "The student's validation accuracy (last epoch), 0 to 1.")
        gauge("distillery_run_student_validation_loss", "student.val_loss", "The student's validation cross-entropy (last epoch).")
        for (part, figure) in [("compute", "student.compute_ms_per_step"), ("logits_wait", "student.logits_wait_ms_per_step"),
                               ("allreduce", "student.allreduce_ms_per_step")] {
            gauge("distillery_run_step_seconds", figure, "Mean seconds of a student step, by part: compute, waiting for logits, all-reduce.",
                  scale: 0.001, labels: [("run", id), ("part", part)])
        }
        let teachers = RunFigures.teacherIndices(in: figures.keys)
        for t in teachers {
            let labels = [("run", id), ("teacher", String(t))]
            gauge("distillery_run_teacher_validation_accuracy_ratio", "teacher\(t).val_accuracy",
                  "Each teacher's validation accuracy (last epoch it trained), 0 to 1.", labels: labels)
            gauge("distillery_run_teacher_train_loss", "teacher\(t).train_loss", "Each teacher's training loss (last epoch it trained).",
                  labels: labels)
        }
        let logits = teachers.compactMap { figures["teacher\($0).logits_sent_bytes"] }
        counter("distillery_run_logits_sent_bytes_total", logits.isEmpty ? nil : logits.reduce(0, +),
                "Bytes of logits the run's teachers sent to its replicas.")
        counter("distillery_run_gradients_sent_bytes_total", figures["student.gradient_sent_bytes"],
                "Bytes of gradient chunks replica 0 sent around the ring (every replica sends as many).")
    }
}
