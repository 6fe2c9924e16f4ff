import CLIOutput
import ClusterRuntime
import Foundation
import Testing
import Wire

/// The `--json` outputs and `report.json` keep the keys scripts and tests read, and read back.
@Suite struct JSONOutputTests {
    static let figures: [String: Double] = [
        "teacher0.parameters": 1000, "teacher0.test_accuracy": 0.8, "teacher0.latency_us": 30, "teacher0.reused": 1,
        "teacher1.parameters": 3000, "teacher1.test_accuracy": 0.85, "teacher1.latency_us": 50,
        "ensemble.test_accuracy": 0.875, "student.parameters": 500, "student.test_accuracy": 0.82, "student.latency_us": 8,
        "student.val_accuracy": 0.81, "student.compute_ms_per_step": 1.5, "student.logits_wait_ms_per_step": 0.25,
        "student.allreduce_ms_per_step": 0.75, "student.samples_per_s": 12_345,
    ]

    func keys(_ json: String) throws -> Set<String> {
        Set(try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]).keys)
    }

    @Test func theReportSumsTheTeachersAndDividesByTheStudent() {
        let r = RunReport(runID: "run-1", name: "fashion", state: "completed", reason: "done", figures: Self.figures,
                          replicas: 2, mode: "offline")
        #expect(r.teachers.map(\.index) == [0, 1])
        #expect(r.teachers.map(\.reused) == [true, nil])
        #expect(r.ensemble.parameters == 4000 && r.ensemble.latencyMicroseconds == 80 && r.ensemble.testAccuracy == 0.875)
        #expect(r.compression == 8)
        #expect(r.latencyRatio == 10)
        #expect(r.student.testAccuracy == 0.82)
    }

    @Test func aReportWithoutStudentFiguresHasNoRatios() {
        let r = RunReport(runID: "run-2", name: "x", state: "failed", reason: "no worker", figures: ["teacher3.parameters": 10])
        #expect(r.teachers.map(\.index) == [3])
        #expect(r.compression == nil && r.latencyRatio == nil && r.student.parameters == nil)
    }

    @Test func reportJSONKeepsItsKeysAndReadsBack() throws {
        let r = RunReport(runID: "run-1", name: "fashion", state: "completed", reason: "done", figures: Self.figures,
                          replicas: 2, mode: "offline")
        let text = String(decoding: try r.json(), as: UTF8.self)
        #expect(try keys(text).isSuperset(of: ["run_id", "name", "state", "reason", "teachers", "ensemble", "student", "figures",
                                               "replicas", "mode", "compression"]))
        #expect(text.contains("\"rule for accuracy\" : \"mean of probabilities\""), "\(text)")
        #expect(text.contains("\"test_accuracy\"") && text.contains("\"latency_us\""))
        #expect(try RunReport(json: r.json()) == r)
        // Sorted keys: the same report is the same bytes (its artifact hash is stable).
        #expect(try r.json() == RunReport(json: r.json()).json())
    }

    @Test func nonFiniteFiguresAreWrittenAsStringsInsteadOfFailingTheReport() throws {
        let r = RunReport(runID: "r", name: "n", state: "completed", reason: "", figures: ["student.train_loss": .nan,
                                                                                         "student.parameters": .infinity])
        let text = String(decoding: try r.json(), as: UTF8.self)
        #expect(text.contains("\"NaN\"") && text.contains("\"Infinity\""))
        let back = try RunReport(json: Data(text.utf8))
        #expect(back.figures["student.train_loss"]?.isNaN == true && back.student.parameters == .infinity)
    }

    @Test func theReportTextShowsTheTableTheCompressionAndTheStepTimes() {
        let text = RunReport(runID: "run-1", name: "fashion", state: "completed", reason: "done", figures: Self.figures).text
        #expect(text.hasPrefix("run-1 fashion: completed — done\n"))
        #expect(text.contains("teacher 0 (reused)"))
        #expect(text.range(of: #"ensemble \(mean of probabilities\)\s+4000\s+87\.50%\s+80 µs"#, options: .regularExpression) != nil, "\(text)")
        #expect(text.contains("compression: 8.0× fewer parameters than the ensemble (4000); 10.0× lower latency than running the teachers"))
        #expect(text.contains("student validation accuracy: 81.00%"))
        #expect(text.contains("time per step: compute 1.50 ms, waiting for logits 0.25 ms, all-reduce 0.75 ms"))
        #expect(!text.contains("from scratch") && !text.contains("class by class"))
        // A baseline and the confusion matrices add a row, the gain and a table per class.
        var more = Self.figures
        more["baseline.test_accuracy"] = 0.75
        more["baseline.labelled"] = 2750
        more["student.classes"] = 2
        for (name, value) in [("student.confusion.0.0", 3.0), ("student.confusion.1.0", 1), ("student.confusion.1.1", 1),
                              ("ensemble.confusion.0.0", 3), ("ensemble.confusion.1.1", 2)] { more[name] = value }
        let full = RunReport(runID: "run-1", name: "fashion", state: "completed", reason: "done", figures: more).text
        #expect(full.range(of: #"student from scratch\s+500\s+75\.00%"#, options: .regularExpression) != nil, "\(full)")
        #expect(full.contains("distillation gain: +7.00 points over the same student from scratch (2750 labelled images)"), "\(full)")
        #expect(full.range(of: #"\n\s*1\s+2\s+100\.00%\s+50\.00%\s+-50\.0$"#, options: .regularExpression) != nil, "\(full)")
        let lone = RunReport(runID: "r", name: "n", state: "placing", reason: "", figures: [:]).text
        #expect(lone.contains("student") && !lone.contains("ensemble") && !lone.contains("compression"), "\(lone)")
    }

    @Test func clientOutputsKeepTheirKeys() throws {
        let node = NodeStatus(nodeID: "w1", name: "w1", roles: [.teacher, .student], address: "tcp://127.0.0.1:5000", state: .alive,
                              lastHeardMsAgo: 12, cpuPercent: 50, rssBytes: 1 << 20, currentTask: "", version: "1.0")
        let refused = RefusedKey(publicKey: String(repeating: "k", count: 40), name: "w9", reason: "role read may not send SubmitRun",
                                 count: 3, lastMsAgo: 40)
        let status = StatusOutput(ClusterStatus(nodes: [node], coordinatorVersion: "1.0", security: .curve, refusedKeys: [refused]))
        let text = try JSONCoding.text(status)
        #expect(try keys(text) == ["coordinator_version", "nodes", "refused_keys", "security"])
        #expect(text.contains("\"security\" : \"curve\""), "\(text)")
        #expect(try keys(try JSONCoding.text(status.refusedKeys[0])) == ["count", "last_ms_ago", "name", "public_key", "reason"])
        #expect(text.contains("\"tcp://127.0.0.1:5000\""), "slashes unescaped: \(text)")
        #expect(text.contains("\"roles\" : [\n        \"teacher\",\n        \"student\"") && text.contains("\"state\" : \"alive\""))
        let nodeKeys = try keys(try JSONCoding.text(status.nodes[0]))
        #expect(nodeKeys == ["name", "roles", "address", "state", "last_heard_ms_ago", "cpu_percent", "rss_bytes", "current_task", "version"])
        let run = RunOutput(RunSummary(runID: "run-1", name: "n", state: .preparingTeachers, reason: "", submittedUnixMs: 1, updatedUnixMs: 2))
        #expect(try keys(JSONCoding.text(run)) == ["run_id", "name", "state", "reason", "submitted_unix_ms", "updated_unix_ms"])
        #expect(run.state == "preparing-teachers")
        let watch = WatchOutput(RunUpdate(run: RunSummary(runID: "run-1", state: .distilling), phase: "distil", phaseDone: 3, phaseTotal: 9,
                                          latest: [MetricValue(name: "a", value: 1), MetricValue(name: "a", value: 2)]))
        #expect(try keys(JSONCoding.text(watch)) == ["run_id", "state", "phase", "done", "total", "reason", "latest"])
        #expect(watch.latest == ["a": 2], "the latest of a repeated figure")
        #expect(try keys(JSONCoding.text(SubmitOutput(runID: "r", accepted: true))) == ["run_id", "accepted"])
        #expect(try keys(JSONCoding.text(SubmitOutput(runID: "run-9", accepted: true, resumes: "run-7", resumeStep: 1200)))
            == ["run_id", "accepted", "resumes", "resume_step"])
        #expect(try keys(JSONCoding.text(CancelOutput(CancelRunReply(cancelled: true, message: "m")))) == ["cancelled", "message"])
        let event = EventOutput(EventEntry(atUnixMs: 5, kind: "state", message: "m", runID: "r"))
        #expect(try keys(JSONCoding.text(event)) == ["at_unix_ms", "kind", "message", "run_id"])
    }

    @Test func jsonLinesAreOneLineEach() throws {
        let line = try JSONCoding.text(SubmitOutput(runID: "r", accepted: true), lines: true)
        #expect(line == #"{"accepted":true,"run_id":"r"}"#)
    }

    @Test func theDistillReportKeepsTheKeysBenchClusterReads() throws {
        let r = DistillReport(
            teachers: [.init(path: "t1", spec: "mlp:784-10", parameters: 7850, testAccuracy: 0.8),
                       .init(path: "t2", spec: "mlp:784-10", parameters: 7850, testAccuracy: 0.81)],
            ensembleAccuracy: 0.82,
            student: .init(spec: "mlp:784-10", parameters: 785, testAccuracy: 0.79, latencyMs: 0.01, rowsPerSecond: 1e6, trainSeconds: 4),
            settings: .init(temperature: 4, alpha: 0.9, ensemble: "mean-probs", epochs: 2, seed: 1, labelFraction: 1),
            data: .init(train: 1200, validation: 300, test: 500), baselineAccuracy: 0.75)
        #expect(r.ensemble.parameters == 15_700 && r.compression == 20)
        #expect(abs((r.gainPoints ?? 0) - 4) < 1e-4)
        let json = try #require(try JSONSerialization.jsonObject(with: JSONCoding.encoder().encode(r)) as? [String: Any])
        #expect((json["data"] as? [String: Any])?["train"] as? Int == 1200)
        #expect((json["settings"] as? [String: Any])?["epochs"] as? Int == 2)
        #expect((json["student"] as? [String: Any])?["train_seconds"] as? Double == 4)
        #expect((json["ensemble"] as? [String: Any])?["test_accuracy"] != nil)
        #expect((json["baseline"] as? [String: Any])?["test_accuracy"] != nil && json["gain_points"] != nil)
        #expect(try JSONCoding.decoder().decode(DistillReport.self, from: JSONCoding.encoder().encode(r)) == r)
    }
}
