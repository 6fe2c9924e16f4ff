import Foundation
import Testing

/// `distillery watch` as a person sees it: run under a real pseudo-terminal (tmux, 120 × 50),
/// its screen read back with `tmux capture-pane` once the run ended: the bar, the student's
/// curves and the last epoch's numbers are on it, drawn in place (the title line once).
@Suite(.enabled(if: dataAvailable && FileManager.default.isExecutableFile(atPath: "/usr/bin/tmux"),
                "needs Fashion-MNIST and tmux (Scripts/setup --test)"))
struct WatchTerminalTests {
    /// Runs a tmux command with no pipes of ours: the tmux server outlives it and keeps the
    /// descriptors a client hands it, so output goes through files (`save-buffer`), not pipes.
    @discardableResult
    static func tmux(_ args: [String]) throws -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/tmux")
        p.arguments = args
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        p.standardInput = FileHandle.nullDevice
        try p.run()
        // Polled, not `waitUntilExit()`: that also waits for descriptors the forked server keeps.
        let deadline = Date().addingTimeInterval(20)
        while p.isRunning && Date() < deadline { usleep(20_000) }
        if p.isRunning { p.terminate(); return -1 }
        return p.terminationStatus
    }

    /// Starts a detached session running `command` and waits (bounded) until it exists. The
    /// first tmux client forks the server, and Foundation's Process would wait for that server
    /// too: the client is started in the background by a shell that returns at once.
    static func startSession(_ session: String, columns: Int, rows: Int, _ command: String) throws -> Bool {
        let starter = Process()
        starter.executableURL = URL(fileURLWithPath: "/bin/sh")
        starter.arguments = ["-c", "tmux \"$@\" </dev/null >/dev/null 2>&1 &", "sh",
                             "new-session", "-d", "-s", session, "-x", String(columns), "-y", String(rows), command]
        try starter.run()
        return eventually(timeout: 10) { (try? tmux(["has-session", "-t", session])) == 0 }
    }

    @Test(.timeLimit(.minutes(3))) func watchOnATerminalDrawsTheBarTheCurvesAndTheLastEpoch() throws {
        let dir = try scratchDirectory()
        defer { if ProcessInfo.processInfo.environment["KEEP_TEST_DIRS"] == nil { try? FileManager.default.removeItem(at: dir) } }
        let address = "tcp://127.0.0.1:\(freePort())"
        let coordinator = try Node(["coordinator", "--listen", address, "--state-dir", dir.appendingPathComponent("state").path],
                                   log: dir.appendingPathComponent("coordinator.log"))
        let workers = try workerNodes(dir, address, [("t1", "teacher"), ("s1", "student")])
        #expect(eventually(timeout: 20) { nodeStates(address).count == 2 })
        let spec = dir.appendingPathComponent("run.yaml")
        try """
        name: watched
        dataset: { train-limit: 6000, validation: 500 }
        teachers: [{ model: "mlp:784-32-10", train: { epochs: 1, batch: 100 } }]
        student: { model: "mlp:784-64-10" }
        training: { epochs: 12, batch: 50 }
        """.write(to: spec, atomically: true, encoding: .utf8)
        let submitted = try distillery(["submit", spec.path, "--coordinator", address])
        #expect(submitted.status == 0, "\(submitted.err)")
        let runID = String(submitted.out.split(separator: " ").dropFirst().first ?? "")
        let session = "distillery-watch-\(getpid())"
        let done = dir.appendingPathComponent("watch.status")
        let command = "'\(binary.path)' watch \(runID) --coordinator \(address); echo $? > '\(done.path)'; sleep 60"
        #expect(try Self.startSession(session, columns: 120, rows: 50, command), "the tmux session started")
        defer { _ = try? Self.tmux(["kill-session", "-t", session]) }
        #expect(eventually(timeout: 150) { FileManager.default.fileExists(atPath: done.path) }, "\(coordinator.output)")
        let capture = dir.appendingPathComponent("screen.txt")
        #expect(try Self.tmux(["capture-pane", "-t", session, "-b", session]) == 0)
        #expect(try Self.tmux(["save-buffer", "-b", session, capture.path]) == 0)
        _ = try? Self.tmux(["delete-buffer", "-b", session])
        let screen = (try? String(contentsOf: capture, encoding: .utf8)) ?? ""
        let status = (try? String(contentsOf: done, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
        print("watch on a 120-column terminal, its last screen:\n\(screen)")
        #expect(status == "0", "watch exits 0 for a completed run")
        #expect(screen.components(separatedBy: "\(runID)  watched").count == 2, "one title line: drawn in place, not scrolled: \(screen)")
        #expect(screen.contains("██████") && screen.contains("100%"), "the bar: \(screen)")
        #expect(screen.contains("student  epoch 12  train loss "), "the last epoch's numbers: \(screen)")
        #expect(screen.contains("validation accuracy by epoch:") && screen.contains("train loss by epoch:"), "\(screen)")
        #expect(screen.contains("└epoch 1") && screen.contains(" 12"), "the curves' x-axis: \(screen)")
        #expect(screen.unicodeScalars.contains { "▁▂▃▄▅▆▇".unicodeScalars.contains($0) }, "the curves' blocks: \(screen)")
        #expect(screen.contains("step ") && screen.contains("compute") && screen.contains("all-reduce"), "the step split: \(screen)")
        #expect(screen.contains("\(runID) completed"), "\(screen)")
        #expect(screen.contains("workers: t1 (teacher 0) · s1 (replica 0)"), "the workers it used: \(screen)")
        withExtendedLifetime((coordinator, workers)) {}
    }

    /// `status --watch` on a terminal: redrawn in place every second, nodes sorted by state
    /// (alive before dead, whatever their names) and coloured by state; with NO_COLOR, no colour.
    @Test(.timeLimit(.minutes(2))) func statusWatchKeepsTheTableInPlaceSortedAndColouredByState() throws {
        let dir = try scratchDirectory()
        defer { if ProcessInfo.processInfo.environment["KEEP_TEST_DIRS"] == nil { try? FileManager.default.removeItem(at: dir) } }
        let address = "tcp://127.0.0.1:\(freePort())"
        let coordinator = try Node(["coordinator", "--listen", address, "--state-dir", dir.appendingPathComponent("state").path,
                                    "--heartbeat-ms", "250", "--suspect-ms", "1000", "--dead-ms", "2000"],
                                   log: dir.appendingPathComponent("coordinator.log"))
        let workers = try workerNodes(dir, address, [("a-lost", "teacher"), ("b-alive", "teacher")])
        #expect(eventually(timeout: 20) { nodeStates(address).count == 2 })
        workers[0].kill()
        #expect(eventually(timeout: 20) { nodeStates(address)["a-lost"] == "dead" })
        var screens: [String: String] = [:]
        for (variant, env) in [("colour", "env -u NO_COLOR "), ("plain", "env NO_COLOR=1 ")] {  // whatever the test runner set
            let session = "distillery-status-\(variant)-\(getpid())"
            defer { _ = try? Self.tmux(["kill-session", "-t", session]) }
            #expect(try Self.startSession(session, columns: 140, rows: 30, "\(env)'\(binary.path)' status --watch --coordinator \(address)"))
            usleep(3_500_000)  // three refreshes or more
            let capture = dir.appendingPathComponent("\(variant).txt")
            #expect(try Self.tmux(["capture-pane", "-e", "-t", session, "-b", session]) == 0)
            #expect(try Self.tmux(["save-buffer", "-b", session, capture.path]) == 0)
            _ = try? Self.tmux(["delete-buffer", "-b", session])
            screens[variant] = (try? String(contentsOf: capture, encoding: .utf8)) ?? ""
        }
        let colour = screens["colour"] ?? "", plain = screens["plain"] ?? ""
        print("status --watch on a terminal (NO_COLOR=1):\n\(plain)")
        for screen in [colour, plain] {
            #expect(screen.components(separatedBy: "coordinator \(address)").count == 2, "one table, redrawn in place: \(screen)")
            let alive = screen.range(of: "b-alive"), lost = screen.range(of: "a-lost")
            #expect(alive != nil && lost != nil && alive!.lowerBound < lost!.lowerBound, "alive is listed before dead: \(screen)")
        }
        let lines = colour.split(separator: "\n")
        #expect(lines.first { $0.contains("b-alive") }?.contains("\u{1B}[32m") == true, "alive in green: \(colour)")
        #expect(lines.first { $0.contains("a-lost") }?.contains("\u{1B}[31m") == true, "dead in red: \(colour)")
        #expect(!plain.contains("\u{1B}[3"), "NO_COLOR: no colour: \(plain)")
        withExtendedLifetime((coordinator, workers)) {}
    }
}
