import Foundation
import Testing

/// `distillery coordinator --metrics-listen`: a real coordinator and workers, scraped over HTTP
/// as Prometheus would, while a run distils and after it ended; `promtool check metrics`
/// (Debian's prometheus package, which Scripts/test installs) accepts every scrape.
@Suite(.enabled(if: dataAvailable, "Fashion-MNIST is not installed: run Scripts/setup"))
struct MetricsProcessTests {
    /// GET `path` from 127.0.0.1:`port` with a raw socket: (status code, headers, body), nil when
    /// nothing answers.
    static func get(_ path: String, port: Int) -> (status: Int, headers: String, body: String)? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        let connected = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { return nil }
        let request = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n\r\n"
        guard request.withCString({ send(fd, $0, strlen($0), 0) }) > 0 else { return nil }
        var data = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n <= 0 { break }
            data += buffer[0..<n]
        }
        let text = String(decoding: data, as: UTF8.self)
        guard let split = text.range(of: "\r\n\r\n"), let status = Int(text.split(separator: " ").dropFirst().first ?? "") else { return nil }
        return (status, String(text[..<split.lowerBound]), String(text[split.upperBound...]))
    }

    /// `promtool check metrics` on `text`: nil when it passes (or promtool is not installed), else its complaint.
    static func promtoolProblem(_ text: String) throws -> String? {
        let promtool = URL(fileURLWithPath: "/usr/bin/promtool")
        guard FileManager.default.isExecutableFile(atPath: promtool.path) else { return nil }
        let p = Process()
        p.executableURL = promtool
        p.arguments = ["check", "metrics"]
        let input = Pipe(), output = Pipe()
        p.standardInput = input
        p.standardOutput = output
        p.standardError = output
        try p.run()
        input.fileHandleForWriting.write(Data(text.utf8))
        try input.fileHandleForWriting.close()
        let said = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        return p.terminationStatus == 0 ? nil : "promtool check metrics: \(said)"
    }

    static func value(_ text: String, _ series: String) -> Double? {
        text.split(separator: "\n").first { $0.hasPrefix(series + " ") }.flatMap { Double($0.split(separator: " ").last ?? "") }
    }

    @Test(.timeLimit(.minutes(3))) func aScrapeShowsTheClusterAndTheRunInFlightAndNothingOfItOnceItEnded() throws {
        let dir = try scratchDirectory()
        defer { if ProcessInfo.processInfo.environment["KEEP_TEST_DIRS"] == nil { try? FileManager.default.removeItem(at: dir) } }
        let address = "tcp://127.0.0.1:\(freePort())", metricsPort = freePort()
        let coordinator = try Node(["coordinator", "--listen", address, "--state-dir", dir.appendingPathComponent("state").path,
                                    "--metrics-listen", "127.0.0.1:\(metricsPort)"], log: dir.appendingPathComponent("coordinator.log"))
        let workers = try workerNodes(dir, address, [("t1", "teacher"), ("s1", "student")])
        #expect(eventually(timeout: 20) { Self.get("/metrics", port: metricsPort).map { Self.value($0.body, #"distillery_workers{state="alive"}"#) == 2 } ?? false },
                "\(coordinator.output)")
        let idle = try #require(Self.get("/metrics", port: metricsPort))
        #expect(idle.status == 200 && idle.headers.lowercased().contains("content-type: text/plain; version=0.0.4"), "\(idle.headers)")
        #expect(try Self.promtoolProblem(idle.body) == nil)
        #expect(Self.value(idle.body, "distillery_runs_in_flight") == 0)
        #expect(Self.get("/nothing", port: metricsPort)?.status == 404)

        let spec = dir.appendingPathComponent("run.yaml")
        try """
        name: scraped
        dataset: { train-limit: 12000, validation: 500 }
        teachers: [{ model: "mlp:784-32-10", train: { epochs: 1, batch: 100 } }]
        student: { model: "mlp:784-64-10" }
        training: { epochs: 30, batch: 50 }
        """.write(to: spec, atomically: true, encoding: .utf8)
        let submitted = try distillery(["submit", spec.path, "--coordinator", address])
        #expect(submitted.status == 0, "\(submitted.err)")
        let runID = String(submitted.out.split(separator: " ").dropFirst().first ?? "")
        // While it distils, after its first student epoch: its series, with the run's id.
        var during = ""
        let seen = eventually(timeout: 60) {
            during = Self.get("/metrics", port: metricsPort)?.body ?? ""
            // The teacher reports its logits' bytes when it has streamed them (an offline run's
            // teacher streams epoch 0 only), beside the student's first epoch.
            return during.contains(#"phase="distilling""#) && during.contains("distillery_run_student_validation_accuracy_ratio{")
                && during.contains("distillery_run_logits_sent_bytes_total{")
        }
        #expect(seen, "\(during)")
        #expect(try Self.promtoolProblem(during) == nil)
        #expect(during.contains(#"distillery_run_info{run="\#(runID)",name="scraped",phase="distilling"} 1"#), "\(during)")
        for name in ["distillery_run_step", "distillery_run_epoch", "distillery_run_samples_per_second", "distillery_run_student_train_loss",
                     "distillery_run_phase_progress_ratio", "distillery_run_gradients_sent_bytes_total", "distillery_run_logits_sent_bytes_total"] {
            #expect(Self.value(during, "\(name){run=\"\(runID)\"}") != nil, "\(name): \(during)")
        }
        #expect(Self.value(during, #"distillery_run_step_seconds{run="\#(runID)",part="compute"}"#).map { $0 > 0 } == true, "\(during)")
        #expect(Self.value(during, #"distillery_run_teacher_validation_accuracy_ratio{run="\#(runID)",teacher="0"}"#).map { (0...1).contains($0) } == true)
        #expect(Self.value(during, "distillery_runs_in_flight") == 1)

        // Once it ended: counted as finished, and no series of it any more.
        #expect(eventually(timeout: 120) {
            Self.get("/metrics", port: metricsPort).map { Self.value($0.body, #"distillery_runs_finished_total{state="completed"}"#) == 1 } ?? false
        })
        let after = try #require(Self.get("/metrics", port: metricsPort))
        #expect(!after.body.contains(runID), "\(after.body)")
        #expect(Self.value(after.body, "distillery_runs_in_flight") == 0)
        #expect(try Self.promtoolProblem(after.body) == nil)
        print("metrics endpoint: \(during.split(separator: "\n").filter { !$0.hasPrefix("#") }.count) series while distilling, "
              + "\(after.body.split(separator: "\n").filter { !$0.hasPrefix("#") }.count) after")
        withExtendedLifetime((coordinator, workers)) {}
    }
}
