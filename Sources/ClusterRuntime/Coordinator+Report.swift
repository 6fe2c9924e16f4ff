import ClusterStore
import Datasets
import FileSupport
import Foundation
import Wire

extension Coordinator {
    /// Writes `<state-dir>/artifacts/<run>/report.json` when a run ends (DESIGN.md §2 step 6)
    /// and records it as an artifact: the outcome, each teacher's, the ensemble's and the
    /// student's parameters, test accuracy and single-sample latency, the compression ratio
    /// (Σ teacher parameters / student parameters) and the latest of every figure reported.
    func writeReport(_ run: ActiveRun) {
        let figures = Dictionary(run.latest.map { ($0.name, $0.value) }, uniquingKeysWith: { _, b in b })
        let teacherIndices = RunFigures.teacherIndices(in: figures.keys)
        func model(_ prefix: String) -> [String: Any] {
            var entry: [String: Any] = [:]
            for (figure, key) in [("parameters", "parameters"), ("test_accuracy", "test_accuracy"), ("latency_us", "latency_us"),
                                  ("reused", "reused")] {
                if let v = figures["\(prefix).\(key)"] { entry[figure] = v }
            }
            return entry
        }
        let teacherParameters = teacherIndices.compactMap { figures["teacher\($0).parameters"] }.reduce(0, +)
        var ensemble: [String: Any] = ["parameters": teacherParameters, "rule for accuracy": "mean of probabilities"]
        if let a = figures["ensemble.test_accuracy"] { ensemble["test_accuracy"] = a }
        var report: [String: Any] = [
            "run_id": run.id, "name": run.spec.name, "state": run.lifecycle.phase.rawValue, "reason": run.lifecycle.reason,
            "teachers": teacherIndices.map { model("teacher\($0)") }, "ensemble": ensemble, "student": model("student"),
            "figures": figures, "replicas": run.spec.replicas, "mode": run.spec.distillation.mode.rawValue,
        ]
        if let p = figures["student.parameters"], p > 0, teacherParameters > 0 { report["compression"] = teacherParameters / p }
        let relative = "artifacts/\(run.id)/report.json"
        let path = database.directory + "/" + relative
        do {
            let data = try JSONSerialization.data(withJSONObject: report, options: [.prettyPrinted, .sortedKeys])
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try AtomicFile.write([UInt8](data), to: path)
            try store.saveArtifact(ArtifactRecord(runID: run.id, name: "report.json", sha256: SHA256.hex([UInt8](data)),
                                                  bytes: Int64(data.count), path: relative, atMs: clock.wallMs()))
        } catch {
            logger.warning("could not write the report of \(run.id) to \(path): \(error)")
        }
    }
}

/// Reading the figures of a run (`teacher<i>.<figure>`, `ensemble.<figure>`, `student.<figure>`).
public enum RunFigures {
    /// The teacher indices i that have a `teacher<i>.<figure>`, ascending.
    public static func teacherIndices(in names: some Sequence<String>) -> [Int] {
        Set(names.compactMap { name -> Int? in
            guard name.hasPrefix("teacher"), let dot = name.firstIndex(of: ".") else { return nil }
            return Int(name[name.index(name.startIndex, offsetBy: 7)..<dot])
        }).sorted()
    }
}
