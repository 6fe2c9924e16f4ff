import Foundation
import NN
import Testing

/// A `distillery` node started in the background, its output going to a log file; killed
/// (SIGKILL) when released so a failing test never leaves processes behind.
final class Node: @unchecked Sendable {
    let process = Process()
    let log: URL

    /// Starts `executable` (the `distillery` binary unless told otherwise) with `args`.
    init(_ args: [String], log: URL, executable: URL = binary, environment: [String: String] = [:]) throws {
        self.log = log
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        process.executableURL = executable
        process.arguments = args
        if !environment.isEmpty { process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new } }
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    var pid: Int32 { process.processIdentifier }
    var output: String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }

    func kill(_ signal: Int32 = SIGKILL) {
        if process.isRunning { Foundation.kill(pid, signal) }
    }

    /// Waits (bounded) for the process to exit; true if it did.
    func waitForExit(timeout: TimeInterval) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        return !process.isRunning
    }

    deinit {
        kill()
        process.waitUntilExit()
    }
}

/// Polls `condition` every 100 ms for at most `timeout` seconds.
func eventually(timeout: TimeInterval, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    repeat {
        if try condition() { return true }
        usleep(100_000)
    } while Date() < deadline
    return false
}

/// Worker processes `(name, roles)` of the coordinator at `address`, each advertising
/// 127.0.0.1, with its cache under `dir/cache-NAME` and its log in `dir/NAME.log`.
func workerNodes(_ dir: URL, _ address: String, _ workers: [(String, String)]) throws -> [Node] {
    try workers.map { name, roles in
        try Node(["worker", "--coordinator", address, "--roles", roles, "--advertise", "127.0.0.1", "--name", name,
                  "--cache-dir", dir.appendingPathComponent("cache-\(name)").path], log: dir.appendingPathComponent("\(name).log"))
    }
}

/// A loopback port nothing listens on right now (bind to 0, read it, close).
func freePort() -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    addr.sin_port = 0
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
    _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
    return Int(UInt16(bigEndian: addr.sin_port))
}

/// True while `pid` exists and is not a zombie (a zombie has exited; only its parent has not
/// collected it yet).
func isRunning(_ pid: Int32) -> Bool {
    guard Foundation.kill(pid, 0) == 0 else { return false }
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let close = stat.lastIndex(of: ")") else { return false }
    return stat[stat.index(close, offsetBy: 2)] != "Z"
}

/// The nodes of `status --json`, by name → state.
func nodeStates(_ coordinator: String, keys: String? = nil) -> [String: String] {
    guard let r = try? distillery(["status", "--coordinator", coordinator, "--json", "--timeout", "3"] + (keys.map { ["--keys", $0] } ?? []),
                                  timeout: 20),
          r.status == 0, let data = r.out.data(using: .utf8),
          let json = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any],
          let nodes = json["nodes"] as? [[String: Any]] else { return [:] }
    return Dictionary(uniqueKeysWithValues: nodes.compactMap { n in
        (n["name"] as? String).map { ($0, n["state"] as? String ?? "") }
    })
}

/// Tier 3: real processes over ZeroMQ on loopback (127.0.0.1 only), every wait bounded.
@Suite(.serialized, .enabled(if: dataAvailable, "Fashion-MNIST is not installed: run Scripts/setup"))
struct ClusterProcessTests {
    /// Fast liveness so deaths show within a second or two.
    static let liveness = ["--heartbeat-ms", "250", "--suspect-ms", "1000", "--dead-ms", "3000"]

    func coordinator(_ dir: URL, _ address: String, log: String) throws -> Node {
        try Node(["coordinator", "--listen", address, "--state-dir", dir.appendingPathComponent("state").path] + Self.liveness,
                 log: dir.appendingPathComponent(log))
    }

    func worker(_ dir: URL, _ address: String, _ name: String, roles: String) throws -> Node {
        try Node(["worker", "--coordinator", address, "--roles", roles, "--advertise", "127.0.0.1", "--name", name,
                  "--cache-dir", dir.appendingPathComponent("cache-\(name)").path],
                 log: dir.appendingPathComponent("\(name).log"))
    }

    @Test func coordinatorAndThreeWorkersSurviveAKilledWorkerAndACoordinatorRestart() throws {
        let dir = try scratchDirectory()
        defer { if ProcessInfo.processInfo.environment["KEEP_TEST_DIRS"] == nil { try? FileManager.default.removeItem(at: dir) } }
        let address = "tcp://127.0.0.1:\(freePort())"
        var coord: Node? = try coordinator(dir, address, log: "coordinator.log")
        let workers = try [("w1", "teacher"), ("w2", "teacher,student"), ("w3", "student")].map {
            try worker(dir, address, $0.0, roles: $0.1)
        }
        let allAlive = eventually(timeout: 20) {
            nodeStates(address) == ["w1": "alive", "w2": "alive", "w3": "alive"]
        }
        #expect(allAlive, "status: \(nodeStates(address)); coordinator log: \(coord?.output ?? "")")

        // The human table lists every worker with its roles and address.
        let table = try distillery(["status", "--coordinator", address])
        #expect(table.status == 0)
        for name in ["w1", "w2", "w3"] { #expect(table.out.contains(name)) }
        #expect(table.out.contains("teacher,student") && table.out.contains("tcp://127.0.0.1:"))

        // A refused run is not recorded; one the cluster can place is, and stays in history.
        let spec = dir.appendingPathComponent("run.yaml")
        try """
        name: history
        dataset: { train-limit: 600, validation: 100 }
        teachers: [{ model: "mlp:784-16-10", train: { epochs: 200, batch: 50 } }]
        student: { model: "mlp:784-8-10" }
        training: { batch: 50 }
        replicas: 2
        """.write(to: spec, atomically: true, encoding: .utf8)
        let submitted = try distillery(["submit", spec.path, "--coordinator", address])
        #expect(submitted.status == 0, "\(submitted.err)")
        #expect(submitted.out.contains("submitted run-1-"), "\(submitted.out)")

        // kill -9 one worker: status shows it dead within the window (3 s, plus polling).
        workers[0].kill()
        let dead = eventually(timeout: 10) { nodeStates(address)["w1"] == "dead" }
        #expect(dead, "w1 should be dead: \(nodeStates(address))")
        #expect(nodeStates(address)["w2"] == "alive")

        // Restart the coordinator: the workers register again by themselves, history is intact.
        coord?.kill()
        _ = coord?.waitForExit(timeout: 5)
        coord = nil
        let down = try distillery(["status", "--coordinator", address, "--timeout", "1"], timeout: 15)
        #expect(down.status != 0 && down.err.contains("no answer from the coordinator"))
        coord = try coordinator(dir, address, log: "coordinator-2.log")
        let back = eventually(timeout: 20) {
            let s = nodeStates(address)
            return s["w2"] == "alive" && s["w3"] == "alive"
        }
        #expect(back, "after restart: \(nodeStates(address))")
        let runs = try distillery(["runs", "--coordinator", address, "--json"])
        #expect(runs.status == 0)
        let list = try JSONSerialization.jsonObject(with: Data(runs.out.utf8)) as? [[String: Any]]
        #expect(list?.count == 1)
        let run = list?.first
        #expect((run?["run_id"] as? String)?.hasPrefix("run-1-") == true, "\(run ?? [:])")
        // Failed with w1 (a teacher on it, before distilling, when no other worker could take
        // it), or taken back by the new coordinator and going on: never interrupted, since its
        // workers report it.
        let state = (run?["state"] as? String) ?? ""
        #expect(state != "interrupted" && !state.isEmpty, "\(run ?? [:])")
        if state == "failed" { #expect(!((run?["reason"] as? String) ?? "").isEmpty) }
        let logs = try distillery(["logs", "run-1", "--coordinator", address])
        #expect(logs.status == 0 && logs.out.contains("pending → placing"), "\(logs.out)")
        if state != "failed" { #expect(logs.out.contains("the coordinator restarted while the run was"), "\(logs.out)") }
        withExtendedLifetime(workers) {}  // a released Node kills its process
    }

    @Test func badInputIsRefusedClearlyAndTheCoordinatorKeepsServing() throws {
        let dir = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let address = "tcp://127.0.0.1:\(freePort())"
        let coord = try coordinator(dir, address, log: "coordinator.log")
        let w = try worker(dir, address, "only", roles: "teacher,student")
        #expect(eventually(timeout: 20) { nodeStates(address)["only"] == "alive" }, "\(coord.output)")
        let good = """
        name: bad-input
        dataset: { train-limit: 600, validation: 100 }
        teachers: [{ model: "mlp:784-16-10", train: {} }]
        student: { model: "mlp:784-8-10" }
        training: { batch: 50 }
        """
        // (spec text, what the error must mention)
        let cases: [(String, [String])] = [
            ("name: [unclosed\n", ["line"]),
            (good + "\ncolour: blue\n", ["colour", "allowed"]),
            (good.replacingOccurrences(of: "training: { batch: 50 }", with: "training: { batch: 50, epochs: -2 }"),
             ["training.epochs"]),
            // An offline run may start on fewer student workers, but not below elastic.min-replicas.
            (good + "\nreplicas: 2\nelastic: { min-replicas: 2 }\n", ["replicas", "student"]),
            (good.replacingOccurrences(of: "train-limit: 600", with: "path: /nonexistent/data, train-limit: 600"),
             ["dataset.path", "/nonexistent/data"]),
        ]
        for (i, (text, words)) in cases.enumerated() {
            let file = dir.appendingPathComponent("bad-\(i).yaml")
            try text.write(to: file, atomically: true, encoding: .utf8)
            let r = try distillery(["submit", file.path, "--coordinator", address], timeout: 30)
            #expect(r.status != 0, "case \(i) was accepted: \(r.out)")
            for word in words { #expect(r.err.contains(word), "case \(i): '\(word)' missing in: \(r.err)") }
        }
        // A missing file is an error too, and the coordinator still answers.
        let missing = try distillery(["submit", dir.appendingPathComponent("nope.yaml").path, "--coordinator", address])
        #expect(missing.status != 0 && missing.err.contains("nope.yaml"))
        #expect(nodeStates(address)["only"] == "alive")
        let runs = try distillery(["runs", "--coordinator", address])
        #expect(runs.status == 0 && runs.out.contains("no runs yet"))
        withExtendedLifetime(w) {}  // a released Node kills its process
    }

    @Test func anUnreachableCoordinatorFailsFastWithAClearMessage() throws {
        let address = "tcp://127.0.0.1:\(freePort())"
        for command in [["status"], ["runs"], ["cancel", "run-1"], ["logs"], ["watch", "run-1"]] {
            let started = Date()
            let r = try distillery(command + ["--coordinator", address, "--timeout", "2"], timeout: 30)
            let seconds = Date().timeIntervalSince(started)
            #expect(r.status != 0)
            #expect(r.err.contains("no answer from the coordinator at \(address)"), "\(command): \(r.err)")
            #expect(seconds < 10, "\(command) took \(seconds) s")
        }
    }

    @Test func submitRetriesASilentCoordinatorTwiceAndRefusesAnOversizedSpecUnsent() throws {
        let dir = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let address = "tcp://127.0.0.1:\(freePort())"
        let spec = dir.appendingPathComponent("run.yaml")
        let good = """
        name: retry
        teachers: [{ model: "mlp:784-16-10", train: {} }]
        student: { model: "mlp:784-8-10" }
        """
        try good.write(to: spec, atomically: true, encoding: .utf8)
        let started = Date()
        let r = try distillery(["submit", spec.path, "--coordinator", address, "--timeout", "1"], timeout: 30)
        let seconds = Date().timeIntervalSince(started)
        #expect(r.status != 0)
        #expect(r.err.components(separatedBy: "retrying (attempt").count == 3, "two retries: \(r.err)")
        #expect(r.err.contains("attempt 2 of 3") && r.err.contains("attempt 3 of 3"))
        #expect(r.err.contains("no answer from the coordinator at \(address)"))
        #expect(seconds >= 3 && seconds < 15, "3 attempts of 1 s took \(seconds) s")

        let big = dir.appendingPathComponent("big.yaml")
        try (good + "\n" + String(repeating: "# padding\n", count: 30_000)).write(to: big, atomically: true, encoding: .utf8)
        let refused = try distillery(["submit", big.path, "--coordinator", address, "--timeout", "1"], timeout: 30)
        #expect(refused.status != 0)
        #expect(refused.err.contains("262144 bytes (256 KiB)") && refused.err.contains("big.yaml"), "\(refused.err)")
        #expect(!refused.err.contains("no answer"), "refused before sending: \(refused.err)")
    }

    @Test func upStartsALocalClusterAndStopsEveryProcess() throws {
        let dir = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let address = "tcp://127.0.0.1:\(freePort())", metricsPort = freePort()
        let topology = dir.appendingPathComponent("local.yaml")
        try """
        coordinator: { listen: "\(address)", state-dir: "\(dir.path)/state", metrics-listen: "127.0.0.1:\(metricsPort)" }
        logs: "\(dir.path)/logs"
        cache: "\(dir.path)/cache"
        keys: "\(dir.path)/keys"
        workers:
          - { name: t1, roles: [teacher] }
          - { name: s1, roles: [student] }
        """.write(to: topology, atomically: true, encoding: .utf8)
        // `up` secures its cluster with throw-away keys; its admin key lets the client commands in.
        let keys = ["--keys", dir.appendingPathComponent("keys/coordinator").path]
        for stop in [SIGTERM, SIGKILL] {
            let up = try Node(["up", topology.path], log: dir.appendingPathComponent("up-\(stop).log"))
            #expect(eventually(timeout: 40) { up.output.contains("local cluster up") }, "\(up.output)")
            #expect(nodeStates(address, keys: keys[1]) == ["t1": "alive", "s1": "alive"])
            #expect(up.output.contains("Prometheus metrics: http://127.0.0.1:\(metricsPort)/metrics"), "\(up.output)")
            #expect(MetricsProcessTests.get("/metrics", port: metricsPort)?.body.contains(#"distillery_workers{state="alive"} 2"#) == true)
            let pids = up.output.split(separator: "\n").compactMap { line -> Int32? in
                let cols = line.split(separator: " ", omittingEmptySubsequences: true)
                return cols.count >= 3 && ["coordinator", "t1", "s1"].contains(String(cols[0])) ? Int32(cols[1]) : nil
            }
            #expect(pids.count == 3, "\(up.output)")
            if stop == SIGTERM {
                // A whole run over ZeroMQ: shard, teacher trained on t1, logits streamed to the
                // replica on s1, student trained, run completed.
                let spec = dir.appendingPathComponent("tiny.yaml")
                try """
                name: tiny
                dataset: { train-limit: 600, validation: 100 }
                teachers: [{ model: "mlp:784-32-10", count: 2, train: { epochs: 1, batch: 50 } }]
                student: { model: "mlp:784-16-10" }
                distillation: { temperature: 4, alpha: 0.9, ensemble: mean-probs }
                training: { epochs: 2, batch: 50, lr: 0.001, optimizer: adamw, weight-decay: 0, schedule: cosine, seed: 1 }
                """.write(to: spec, atomically: true, encoding: .utf8)
                let run = try distillery(["submit", spec.path, "--watch", "--coordinator", address] + keys, timeout: 120)
                #expect(run.status == 0, "\(run.out)\n\(run.err)")
                #expect(run.out.contains("completed: the student was distilled from 2 teachers on 1 replica"), "\(run.out)")
                #expect(run.out.contains("student.test_accuracy"), "\(run.out)")
                let report = try distillery(["report", "run-1", "--coordinator", address] + keys)
                #expect(report.status == 0, "\(report.err)")
                for word in ["teacher 0", "teacher 1", "ensemble (mean of probabilities)", "student", "compression:", "time per step:",
                             "(our ONNX executor)"] {
                    #expect(report.out.contains(word), "report lacks '\(word)': \(report.out)")
                }
                #expect(report.out.range(of: #"ensemble \(mean of probabilities\)\s+\d+\s+\d+\.\d\d%"#, options: .regularExpression) != nil,
                        "the ensemble's accuracy is measured: \(report.out)")
                let artifacts = artifactsDirectory(dir, run: "run-1")
                // `report --json` prints the report the coordinator wrote to report.json, built
                // from the same figures: the same teachers, sums and compression.
                let reportJSON = try distillery(["report", "run-1", "--coordinator", address, "--json"] + keys)
                let printed = try #require(try JSONSerialization.jsonObject(with: Data(reportJSON.out.utf8)) as? [String: Any])
                let written = try #require(try JSONSerialization.jsonObject(
                    with: Data(contentsOf: artifacts.appendingPathComponent("report.json"))) as? [String: Any])
                #expect((printed["figures"] as? [String: Double]).map { !$0.isEmpty } == true, "\(reportJSON.out)")
                #expect(printed["figures"] as? [String: Double] == written["figures"] as? [String: Double])
                #expect((printed["teachers"] as? [[String: Any]])?.count == 2)
                #expect(printed["compression"] as? Double == written["compression"] as? Double && written["compression"] != nil)
                #expect((printed["ensemble"] as? [String: Any])?["parameters"] as? Double
                        == (written["ensemble"] as? [String: Any])?["parameters"] as? Double)
                // report.html beside it, and `report --html` writes the same table with the run's curves.
                let page = dir.appendingPathComponent("report.html")
                let htmlReport = try distillery(["report", "run-1", "--coordinator", address, "--html", page.path] + keys)
                #expect(htmlReport.status == 0 && htmlReport.out.contains("report page: \(page.path)"), "\(htmlReport.err)")
                let html = try String(contentsOf: page, encoding: .utf8)
                let stored = try String(contentsOf: artifacts.appendingPathComponent("report.html"), encoding: .utf8)
                let studentAccuracy = (written["student"] as? [String: Any])?["test_accuracy"] as? Double
                for text in [html, stored] {
                    #expect(studentAccuracy.map { text.contains("data-field=\"test_accuracy\" data-value=\"\($0)\"") } == true)
                    // Two epochs of the student: two points on its loss and accuracy curves.
                    #expect(text.components(separatedBy: "data-series=\"student.val_accuracy\" data-epoch=").count - 1 == 2, "\(text)")
                    #expect(text.components(separatedBy: "data-series=\"student.train_loss\" data-epoch=").count - 1 == 2)
                }
                let student = artifacts.appendingPathComponent("student.safetensors").path
                let eval = try distillery(["eval", student, "--test-limit", "500"])
                #expect(eval.status == 0 && eval.out.contains("test accuracy"), "\(eval.err)")
                // The same student as ONNX, beside it: every node runs in our executor.
                let onnx = try distillery(["inspect", artifacts.appendingPathComponent("student.onnx").path])
                #expect(onnx.status == 0 && onnx.out.contains("nodes supported"), "\(onnx.out)\n\(onnx.err)")
                // The same distillation in one process, from the teachers the cluster stored,
                // gives the same student (DESIGN.md §2: the cluster changes speed, not results).
                let teachers = (0..<2).map { artifacts.appendingPathComponent("teacher-\($0).safetensors").path }
                let single = dir.appendingPathComponent("single.safetensors").path
                let distill = try distillery(["distill", "--teachers", teachers.joined(separator: ","), "--student", "mlp:784-16-10",
                                              "--temperature", "4", "--alpha", "0.9", "--ensemble", "mean-probs", "--out", single,
                                              "--epochs", "2", "--batch", "50", "--lr", "0.001", "--optimizer", "adamw",
                                              "--weight-decay", "0", "--schedule", "cosine", "--seed", "1",
                                              "--train-limit", "600", "--validation", "100"], timeout: 120)
                #expect(distill.status == 0, "\(distill.out)\n\(distill.err)")
                let a = try ModelCheckpoint.read(from: student).model, b = try ModelCheckpoint.read(from: single).model
                let diff = zip(UnsafeBufferPointer(start: a.parameters.pointer, count: a.parameterCount),
                               UnsafeBufferPointer(start: b.parameters.pointer, count: b.parameterCount)).map { abs($0 - $1) }.max() ?? .infinity
                print("cluster run vs distillery distill: max |θ_cluster − θ_single| = \(diff)")
                #expect(a.parameterCount == b.parameterCount && diff <= 1e-5)
                // A second run with the same teachers reuses them from the workers' caches.
                let again = try distillery(["submit", spec.path, "--watch", "--coordinator", address] + keys, timeout: 120)
                #expect(again.status == 0, "\(again.out)\n\(again.err)")
                let report2 = try distillery(["report", "run-2", "--coordinator", address] + keys)
                #expect(report2.out.contains("teacher 0 (reused)") && report2.out.contains("teacher 1 (reused)"), "\(report2.out)")
            }
            // SIGTERM: up stops them all; SIGKILL: they notice their parent is gone and stop.
            up.kill(stop)
            #expect(up.waitForExit(timeout: 20))
            let gone = eventually(timeout: 15) { pids.allSatisfy { !isRunning($0) } }
            #expect(gone, "processes left after \(stop): \(pids.filter(isRunning))")
        }
        let bad = dir.appendingPathComponent("bad.yaml")
        try "workers: [{ name: a, roles: [chef] }]\n".write(to: bad, atomically: true, encoding: .utf8)
        let r = try distillery(["up", bad.path], timeout: 20)
        #expect(r.status != 0 && r.err.contains("chef"))
    }
}
