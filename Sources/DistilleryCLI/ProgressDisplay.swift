import CLIOutput
import Foundation
import Wire

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
            printJSON(WatchOutput(u))
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
        if !json { print("\(u.run.runID) \(u.run.state.text): \(u.run.reason)") }
    }

    private func render(_ u: RunUpdate) -> String {
        var line = "\(u.run.runID) \(u.run.state.text)"
        if u.phaseTotal > 0 {
            let fraction = Double(u.phaseDone) / Double(u.phaseTotal)
            line += " " + ProgressBar(width: 24).render(done: u.phaseDone, of: u.phaseTotal)
            line += String(format: " %3.0f%% (%llu/%llu)", fraction * 100, u.phaseDone, u.phaseTotal)
        }
        let shown = headline(u.latest)
        if !shown.isEmpty {
            line += "  " + shown.map { m in
                m.name.hasSuffix("accuracy") ? "\(m.name) \(Format.percent(m.value))"
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
