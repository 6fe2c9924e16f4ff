import ClusterCore
import ClusterRuntime
import Foundation
import Logging
import Testing
@testable import Observability

/// The exposition a Prometheus server scrapes: names, labels and values as docs/OPERATIONS.md
/// "Monitoring" lists them, in the text format's grammar, and nothing of a run that ended.
@Suite struct PrometheusTextTests {
    static let run = ClusterMetrics.Run(
        id: "run-3-k7q2m9xa", name: "fashion", phase: "distilling", phaseDone: 150, phaseTotal: 600, epoch: 2, step: 150,
        figures: ["student.samples_per_s": 5_120, "student.train_loss": 0.42, "student.val_accuracy": 0.8125,
                  "student.val_loss": 0.51, "student.compute_ms_per_step": 12.5, "student.logits_wait_ms_per_step": 0.75,
                  "student.allreduce_ms_per_step": 3, "teacher0.val_accuracy": 0.9, "teacher1.val_accuracy": 0.875,
                  "teacher1.train_loss": 0.2, "teacher0.logits_sent_bytes": 1_000, "teacher1.logits_sent_bytes": 500,
                  "student.gradient_sent_bytes": 4_096, "student.test_accuracy": .nan])

    static let metrics = ClusterMetrics(
        workers: [.alive: 2, .dead: 1], heartbeatAge: ["t1": 0.25, "s1": 1.5],
        runsByState: ["completed": 4, "failed": 1, "distilling": 1], runs: [run],
        ignored: ["not-registered": 3], stalls: 1, stallSeconds: 2.5, refusals: 7)

    /// Sample lines "name{labels} value" → value, keyed by "name{labels}" as printed.
    static func samples(_ text: String) -> [String: Double] {
        var out: [String: Double] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " ") else { continue }
            out[String(line[..<space])] = Double(line[line.index(after: space)...])
        }
        return out
    }

    @Test func theClusterAndARunInFlightHaveTheirSeries() throws {
        let text = Self.metrics.prometheusText(version: "0.11.0", transportDrops: ["undecodable": 2])
        let s = Self.samples(text)
        #expect(s[#"distillery_build_info{version="0.11.0"}"#] == 1)
        #expect(s[#"distillery_workers{state="alive"}"#] == 2)
        #expect(s[#"distillery_workers{state="suspect"}"#] == 0, "every state is present")
        #expect(s[#"distillery_workers{state="dead"}"#] == 1)
        #expect(s[#"distillery_workers{state="left"}"#] == 0)
        #expect(s[#"distillery_worker_heartbeat_age_seconds{worker="s1"}"#] == 1.5)
        #expect(s[#"distillery_runs{state="completed"}"#] == 4)
        #expect(s[#"distillery_runs_finished_total{state="completed"}"#] == 4)
        #expect(s[#"distillery_runs_finished_total{state="failed"}"#] == 1)
        #expect(s[#"distillery_runs_finished_total{state="cancelled"}"#] == 0)
        #expect(s[#"distillery_runs_finished_total{state="interrupted"}"#] == 0)
        #expect(s["distillery_runs_in_flight"] == 1)
        #expect(s[#"distillery_coordinator_ignored_messages_total{kind="not-registered"}"#] == 3)
        #expect(s[#"distillery_transport_dropped_messages_total{kind="undecodable"}"#] == 2)
        #expect(s["distillery_coordinator_stalls_total"] == 1)
        #expect(s["distillery_coordinator_stall_seconds_total"] == 2.5)
        #expect(s["distillery_access_refusals_total"] == 7)

        let run = #"run="run-3-k7q2m9xa""#
        #expect(s[#"distillery_run_info{run="run-3-k7q2m9xa",name="fashion",phase="distilling"}"#] == 1, "\(text)")
        #expect(s["distillery_run_phase_progress_ratio{\(run)}"] == 0.25)
        #expect(s["distillery_run_epoch{\(run)}"] == 2)
        #expect(s["distillery_run_step{\(run)}"] == 150)
        #expect(s["distillery_run_samples_per_second{\(run)}"] == 5_120)
        #expect(s["distillery_run_student_train_loss{\(run)}"] == 0.42)
        #expect(s["distillery_run_student_validation_accuracy_ratio{\(run)}"] == 0.8125)
        #expect(s["distillery_run_student_validation_loss{\(run)}"] == 0.51)
        #expect(s[#"distillery_run_step_seconds{\#(run),part="compute"}"#] == 0.0125)
        #expect(s[#"distillery_run_step_seconds{\#(run),part="logits_wait"}"#] == 0.00075)
        #expect(s[#"distillery_run_step_seconds{\#(run),part="allreduce"}"#] == 0.003)
        #expect(s[#"distillery_run_teacher_validation_accuracy_ratio{\#(run),teacher="0"}"#] == 0.9)
        #expect(s[#"distillery_run_teacher_validation_accuracy_ratio{\#(run),teacher="1"}"#] == 0.875)
        #expect(s[#"distillery_run_teacher_train_loss{\#(run),teacher="1"}"#] == 0.2)
        #expect(s[#"distillery_run_teacher_train_loss{\#(run),teacher="0"}"#] == nil, "teacher 0 reported no loss: no series")
        #expect(s["distillery_run_logits_sent_bytes_total{\(run)}"] == 1_500)
        #expect(s["distillery_run_gradients_sent_bytes_total{\(run)}"] == 4_096)
        #expect(!text.contains("NaN"), "a figure that is not finite is left out")
    }

    @Test func aRunThatEndedLeavesNoSeries() {
        var after = Self.metrics
        after.runs = []
        after.runsByState = ["completed": 5, "failed": 1]
        let text = after.prometheusText(version: "0.11.0")
        #expect(!text.contains("run-3-k7q2m9xa"), "\(text)")
        #expect(!text.contains("distillery_run_"), "\(text)")
        #expect(Self.samples(text)[#"distillery_runs_finished_total{state="completed"}"#] == 5)
        #expect(Self.samples(text)["distillery_runs_in_flight"] == 0)
    }

    /// The text format's grammar (exposition_formats.md): HELP and TYPE once per family before
    /// its samples, metric names [a-zA-Z_:][a-zA-Z0-9_:]*, label values quoted, counters `_total`.
    @Test func theTextFollowsTheFormatAndTheNamingConventions() throws {
        let text = Self.metrics.prometheusText(version: "0.11.0", transportDrops: ["undecodable": 2])
        let sample = try Regex(#"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="[^"\\\n]*",?)*\})? -?[0-9.e+-]+$"#)
        var types: [String: String] = [:]
        for line in text.split(separator: "\n") {
            if line.hasPrefix("# TYPE ") {
                let parts = line.split(separator: " ")
                #expect(types[String(parts[2])] == nil, "TYPE of \(parts[2]) twice")
                types[String(parts[2])] = String(parts[3])
                continue
            }
            if line.hasPrefix("# HELP ") { continue }
            #expect(line.wholeMatch(of: sample) != nil, "not a sample line: \(line)")
            let name = String(line.prefix { $0 != "{" && $0 != " " })
            #expect(name.hasPrefix("distillery_"), "\(name)")
            #expect(types[name] != nil, "\(name) has no TYPE line before it")
            if types[name] == "counter" { #expect(name.hasSuffix("_total"), "counter \(name)") }
        }
        #expect(types.count >= 20, "\(types.keys.sorted())")
    }
}

/// The endpoint on a real loopback socket: a second one on a taken port fails with a sentence
/// that names the address and what to do.
@Suite struct MetricsEndpointTests {
    @Test func aTakenPortIsSaidPlainly() async throws {
        let logger = Logger(label: "test")
        let first = try MetricsEndpoint(address: "127.0.0.1:0", logger: logger) { "" }
        let running = Task { try await first.run() }
        defer { running.cancel() }
        let port = try await first.listeningPort()
        let second = try MetricsEndpoint(address: "127.0.0.1:\(port)", logger: logger) { "" }
        do {
            try await second.run()
            Issue.record("a second endpoint served on the taken port \(port)")
        } catch let error as MetricsEndpoint.EndpointError {
            #expect(error.description.hasPrefix("cannot serve metrics on 127.0.0.1:\(port): "), "\(error)")
            #expect(error.description.contains("choose another --metrics-listen HOST:PORT"))
        }
    }
}
