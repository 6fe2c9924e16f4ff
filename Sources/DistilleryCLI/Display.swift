import Foundation
import Wire

/// "preparing-teachers", as the coordinator names run phases.
func stateText(_ state: RunState) -> String {
    switch state {
    case .pending: "pending"
    case .placing: "placing"
    case .sharding: "sharding"
    case .preparingTeachers: "preparing-teachers"
    case .distilling: "distilling"
    case .completed: "completed"
    case .failed: "failed"
    case .cancelled: "cancelled"
    case .interrupted: "interrupted"
    }
}

func ageText(ms: UInt64) -> String {
    ms < 1000 ? "\(ms) ms ago" : String(format: "%.1f s ago", Double(ms) / 1000)
}

func bytesText(_ bytes: UInt64) -> String {
    if bytes >= 1 << 30 { return String(format: "%.1f GiB", Double(bytes) / Double(1 << 30)) }
    return String(format: "%.0f MiB", Double(bytes) / Double(1 << 20))
}

func timeText(unixMs: UInt64) -> String {
    let formatter = DateFormatter()
    formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
    return formatter.string(from: Date(timeIntervalSince1970: Double(unixMs) / 1000))
}

/// Left-aligned columns, two spaces apart.
func printTable(header: [String], rows: [[String]]) {
    let all = [header] + rows
    let widths = header.indices.map { i in all.map { $0[i].count }.max() ?? 0 }
    for row in all {
        let cells = row.enumerated().map { i, cell in i == row.count - 1 ? cell : cell.padding(toLength: widths[i], withPad: " ", startingAt: 0) }
        print(cells.joined(separator: "  "))
    }
}

/// Shows `RunUpdate`s: on a terminal, one line redrawn in place (state, a progress bar for
/// the phase, latest metrics); otherwise one line per change of state or of whole percent.
final class ProgressDisplay {
    let json: Bool
    let interactive = isatty(STDOUT_FILENO) != 0
    private var lastLine = ""
    private var lastPhase = ""

    init(json: Bool) { self.json = json }

    func show(_ u: RunUpdate) {
        if json {
            printJSON(["run_id": u.run.runID, "state": stateText(u.run.state), "phase": u.phase, "done": u.phaseDone,
                       "total": u.phaseTotal, "reason": u.run.reason,
                       "latest": Dictionary(u.latest.map { ($0.name, $0.value) }, uniquingKeysWith: { a, _ in a })])
            return
        }
        let line = render(u)
        guard line != lastLine else { return }
        if interactive {
            if u.phase != lastPhase && !lastPhase.isEmpty { print("") }
            print("\r\u{1B}[2K" + line, terminator: "")
        } else {
            print(line)
        }
        fflush(nil)
        lastLine = line
        lastPhase = u.phase
    }

    func finish(_ u: RunUpdate) {
        if interactive && !json { print("") }
        if !json { print("\(u.run.runID) \(stateText(u.run.state)): \(u.run.reason)") }
    }

    private func render(_ u: RunUpdate) -> String {
        var line = "\(u.run.runID) \(stateText(u.run.state))"
        if u.phaseTotal > 0 {
            let fraction = Double(u.phaseDone) / Double(u.phaseTotal)
            let width = 24, filled = Int(fraction * Double(width))
            line += " [" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "]"
            line += String(format: " %3.0f%% (%llu/%llu)", fraction * 100, u.phaseDone, u.phaseTotal)
        }
        let shown = headline(u.latest)
        if !shown.isEmpty {
            line += "  " + shown.map { m in
                m.name.hasSuffix("accuracy") ? "\(m.name) \(String(format: "%.2f%%", m.value * 100))"
                                             : "\(m.name) \(String(format: "%.4g", m.value))"
            }.joined(separator: "  ")
        }
        return line
    }

    /// The figures worth a progress line: the student's once it trains, else each teacher's
    /// validation accuracy (`--json` shows them all).
    private func headline(_ latest: [MetricValue]) -> [MetricValue] {
        let student = latest.filter { $0.name.hasPrefix("student.") && ($0.name.hasSuffix("accuracy") || $0.name.hasSuffix("loss")) }
        if !student.isEmpty { return student }
        return latest.filter { $0.name.hasSuffix(".val_accuracy") }
    }
}
