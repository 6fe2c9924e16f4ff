import CLIOutput
import Foundation
import Wire

/// Shows `RunUpdate`s. On a terminal: the ``WatchScreen`` frame, redrawn in place (the
/// cursor goes back up over the last frame, which is cleared) — curves, bar, rate and ETA.
/// Otherwise (piped, or `--no-tty`): one line per change of state or of whole percent. With
/// `--json`: one JSON object per update.
final class ProgressDisplay {
    let json: Bool
    let interactive: Bool
    private var lastLine = ""
    private var screen = WatchScreen(width: 80)
    private var drawnLines = 0
    private let started = Date()

    init(json: Bool, plain: Bool = false) {
        self.json = json
        interactive = !plain && isatty(STDOUT_FILENO) != 0
    }

    func show(_ u: RunUpdate) {
        if json {
            printJSON(WatchOutput(u))
            return
        }
        if interactive { return redraw(u) }
        let line = render(u)
        guard line != lastLine else { return }
        print(line)
        fflush(nil)
        lastLine = line
    }

    func finish(_ u: RunUpdate) {
        if !json { print("\(u.run.runID) \(u.run.state.text): \(u.run.reason)") }
    }

    /// The terminal's width in columns (80 when it cannot be read).
    static func terminalWidth() -> Int {
        var size = winsize()
        guard ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 else { return 80 }
        return Int(size.ws_col)
    }

    private func redraw(_ u: RunUpdate) {
        screen.width = Self.terminalWidth()
        screen.observe(u, now: Date().timeIntervalSince(started))
        let lines = screen.lines(u)
        var out = drawnLines > 0 ? "\u{1B}[\(drawnLines)A\r\u{1B}[J" : ""
        for line in lines { out += line + "\n" }
        print(out, terminator: "")
        fflush(nil)
        drawnLines = lines.count
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
