import ClusterCore
import ClusterRuntime
import Foundation
import Wire

/// What `distillery watch` shows on a terminal, redrawn in place at every `RunUpdate`: the
/// run's phase with a bar, rate and ETA; one line per teacher while teachers train (epoch,
/// loss, validation accuracy); once the student trains, its numbers and the curves of its
/// training loss and validation accuracy per epoch (and of each teacher that trains on, in an
/// online run); samples/s; the split of a step (compute / waiting for logits / all-reduce); the
/// replicas in the ring. Pure: the frame is a function of the updates seen and the time.
public struct WatchScreen: Sendable {
    /// Terminal columns.
    public var width: Int
    /// Where the phase's progress stood when this phase was first seen (for the rate).
    private var phaseStart: (phase: String, done: UInt64, at: Double)?
    private var latestRate: Double?
    /// When the run was first seen, and its elapsed time at the last update (for the final line).
    private var firstSeen: Double?
    private var elapsed: Double = 0
    /// The last placement seen: an ended run's update has none, and its screen still names the
    /// workers it used.
    private var lastWorkers: (teachers: [String], students: [String]) = ([], [])

    public init(width: Int) { self.width = max(40, width) }

    /// Notes `u`'s progress at `now` (seconds, any origin): the phase's rate comes from it.
    public mutating func observe(_ u: RunUpdate, now: Double) {
        if firstSeen == nil { firstSeen = now }
        elapsed = now - (firstSeen ?? now)
        if !u.teacherWorkers.isEmpty || !u.studentWorkers.isEmpty { lastWorkers = (u.teacherWorkers, u.studentWorkers) }
        if phaseStart?.phase != u.phase { phaseStart = (u.phase, u.phaseDone, now); latestRate = nil; return }
        guard let start = phaseStart, now > start.at + 0.5, u.phaseDone > start.done else { return }
        latestRate = Double(u.phaseDone - start.done) / (now - start.at)
    }

    /// The frame's lines for `u` (none wider than ``width``).
    public func lines(_ u: RunUpdate) -> [String] {
        let figures = Dictionary(u.latest.map { ($0.name, $0.value) }, uniquingKeysWith: { _, b in b })
        var history: [String: [UInt32: Double]] = [:]
        for p in u.history { history[p.name, default: [:]][p.epoch] = p.value }
        var out = ["\(u.run.runID)  \(u.run.name)  \(u.run.state.text)"]
        out.append(progressLine(u))
        let teachers = RunFigures.teacherIndices(in: Array(figures.keys) + Array(history.keys))
        let studentTrains = history.keys.contains { $0.hasPrefix("student.") } || u.run.state == .distilling
        if !studentTrains || u.run.state == .preparingTeachers {
            for t in teachers { out.append(teacherLine(t, figures, history)) }
        }
        if studentTrains {
            out.append(studentLine(figures, history))
            out += curve("train loss", history["student.train_loss"], format: { Format.fixed($0, 4) })
            out += curve("validation accuracy", history["student.val_accuracy"], format: Format.percent)
            // Teachers that train on during distillation (online): their loss too.
            for t in teachers {
                out += curve("teacher \(t) (online) train loss", history["teacher\(t).online_train_loss"], format: { Format.fixed($0, 4) })
                out += curve("teacher \(t) (online) validation accuracy", history["teacher\(t).online_val_accuracy"], format: Format.percent)
            }
            if let split = stepSplit(figures) { out.append(split) }
            if let replicas = figures["student.replicas"] {
                let generation = figures["student.ring_generation"].map { " (ring generation \(Int($0)))" } ?? ""
                out.append("replicas: \(Int(replicas))\(generation)")
            }
        }
        if let workers = workersLine(u) { out.append(workers) }
        if u.run.state.isTerminal, !u.run.reason.isEmpty { out.append("\(u.run.state.text): \(u.run.reason)") }
        return out.map { String($0.prefix(width)) }
    }

    /// "workers: teacher-1 (teacher 0) · student-1 (replica 0, replica 1)": each worker in use
    /// with the parts it hosts, teachers' first; a part waiting for a worker is named alone.
    /// An ended run shows the last placement seen.
    func workersLine(_ u: RunUpdate) -> String? {
        var order: [String] = [], parts: [String: [String]] = [:], waiting: [String] = []
        let (teachers, students) = u.teacherWorkers.isEmpty && u.studentWorkers.isEmpty && u.run.state.isTerminal
            ? lastWorkers : (u.teacherWorkers, u.studentWorkers)
        let all = teachers.enumerated().map { ($0.element, "teacher \($0.offset)") }
            + students.enumerated().map { ($0.element, "replica \($0.offset)") }
        for (worker, part) in all {
            if worker.isEmpty { waiting.append(part); continue }
            if parts[worker] == nil { order.append(worker) }
            parts[worker, default: []].append(part)
        }
        guard !order.isEmpty || !waiting.isEmpty else { return nil }
        var items = order.map { "\($0) (\(parts[$0]!.joined(separator: ", ")))" }
        if !waiting.isEmpty { items.append("waiting for a worker: " + waiting.joined(separator: ", ")) }
        return "workers: " + items.joined(separator: " · ")
    }

    func progressLine(_ u: RunUpdate) -> String {
        let barWidth = max(10, min(40, width - 50))
        if u.run.state == .completed {
            return ProgressBar(width: barWidth).render(fraction: 1) + " 100%  completed"
                + (elapsed > 0 ? " (watched for " + Duration.milliseconds(Int64(elapsed * 1000)).shortDescription + ")" : "")
        }
        guard u.phaseTotal > 0 else { return u.run.state.isTerminal ? "" : "\(u.phase)…" }
        var line = ProgressBar(width: barWidth).render(done: u.phaseDone, of: u.phaseTotal)
        line += String(format: " %3.0f%%  %llu/%llu steps", Double(u.phaseDone) / Double(u.phaseTotal) * 100, u.phaseDone, u.phaseTotal)
        if let rate = latestRate, rate > 0, phaseStart?.phase == u.phase {
            line += String(format: "  %.1f steps/s", rate)
            let left = Double(u.phaseTotal - min(u.phaseDone, u.phaseTotal)) / rate
            line += "  ETA " + Duration.milliseconds(Int64(left * 1000)).shortDescription
        }
        return line
    }

    func teacherLine(_ t: Int, _ figures: [String: Double], _ history: [String: [UInt32: Double]]) -> String {
        var line = "teacher \(t)"
        let epochs = Set((history["teacher\(t).train_loss"] ?? [:]).keys).union((history["teacher\(t).val_accuracy"] ?? [:]).keys)
        if let last = epochs.max() { line += "  epoch \(last)" }
        if let loss = figures["teacher\(t).train_loss"] { line += "  loss " + Format.fixed(loss, 4) }
        if let acc = figures["teacher\(t).val_accuracy"] { line += "  val acc " + Format.percent(acc) }
        if let test = figures["teacher\(t).test_accuracy"] { line += "  test acc " + Format.percent(test) }
        return line
    }

    func studentLine(_ figures: [String: Double], _ history: [String: [UInt32: Double]]) -> String {
        var line = "student"
        if let last = history["student.val_accuracy"]?.keys.max() ?? history["student.train_loss"]?.keys.max() { line += "  epoch \(last)" }
        if let loss = figures["student.train_loss"] { line += "  train loss " + Format.fixed(loss, 4) }
        if let acc = figures["student.val_accuracy"] { line += "  val acc " + Format.percent(acc) }
        if let rate = figures["student.samples_per_s"] { line += "  " + Format.count(Int(rate)) + " samples/s" }
        if let test = figures["student.test_accuracy"] { line += "  test acc " + Format.percent(test) }
        return line
    }

    func curve(_ title: String, _ points: [UInt32: Double]?, format: (Double) -> String) -> [String] {
        guard let points, !points.isEmpty else { return [] }
        let epochs = points.keys.sorted()
        let values = epochs.map { points[$0]! }
        let labelWidth = values.map(format).map(\.count).max() ?? 0
        let chart = CurveChart(width: max(10, width - labelWidth - 3), rows: 3)
        return ["\(title) by epoch:"] + chart.render(values, firstEpoch: Int(epochs[0]), format: format)
    }

    func stepSplit(_ figures: [String: Double]) -> String? {
        guard let compute = figures["student.compute_ms_per_step"], let wait = figures["student.logits_wait_ms_per_step"],
              let reduce = figures["student.allreduce_ms_per_step"] else { return nil }
        let total = compute + wait + reduce
        func part(_ ms: Double) -> String { Format.fixed(ms, 1) + " ms (" + Format.fixed(total > 0 ? ms / total * 100 : 0, 0) + "%)" }
        return "step " + Format.fixed(total, 1) + " ms: compute " + part(compute) + " · logits wait " + part(wait) + " · all-reduce " + part(reduce)
    }

}
