import ClusterRuntime
import Foundation
import FileSupport

extension RunReport {
    /// `distillery report RUN`: the outcome, a table of the teachers, their ensemble (when
    /// there are several) and the student, the compression, and the student's time per step.
    public var text: String {
        var lines = ["\(runID) \(name): \(state)\(reason.isEmpty ? "" : " — " + reason)"]
        func cell(_ value: Double?, _ format: (Double) -> String) -> String { value.map(format) ?? "-" }
        let count: (Double) -> String = { String(Int($0)) }
        let micro: (Double) -> String = { String(format: "%.0f µs", $0) }
        var rows = teachers.map { t in
            ["teacher \(t.index.map(String.init) ?? "?")\(t.reused == true ? " (reused)" : "")", cell(t.parameters, count),
             cell(t.testAccuracy, Format.percent), cell(t.latencyMicroseconds, micro)]
        }
        if teachers.count > 1 {
            rows.append(["ensemble (\(ensemble.rule))", ensemble.parameters > 0 ? count(ensemble.parameters) : "-",
                         cell(ensemble.testAccuracy, Format.percent), cell(ensemble.latencyMicroseconds, micro)])
        }
        rows.append(["student", cell(student.parameters, count), cell(student.testAccuracy, Format.percent),
                     cell(student.latencyMicroseconds, micro)])
        if let baseline {
            rows.append(["student from scratch", cell(student.parameters, count), Format.percent(baseline.testAccuracy), "-"])
        }
        lines.append(TextTable(header: ["MODEL", "PARAMETERS", "TEST ACCURACY", "LATENCY (1 SAMPLE)"], rows: rows,
                               alignments: [.left, .right, .right, .right]).render())
        if let compression {
            var line = String(format: "compression: %.1f× fewer parameters than the ensemble (%.0f)", compression, ensemble.parameters)
            if let latencyRatio { line += String(format: "; %.1f× lower latency than running the teachers", latencyRatio) }
            lines.append(line)
        }
        if let gain, let baseline { lines.append(Self.gainText(gain, baseline)) }
        if let onnx = studentONNX { lines.append(Self.text(of: onnx)) }
        if let v = figures["student.val_accuracy"] { lines.append("student validation accuracy: \(Format.percent(v))") }
        let timing = ["student.compute_ms_per_step", "student.logits_wait_ms_per_step", "student.allreduce_ms_per_step"]
            .compactMap { figures[$0] }
        if timing.count == 3 {
            lines.append(String(format: "time per step: compute %.2f ms, waiting for logits %.2f ms, all-reduce %.2f ms",
                                timing[0], timing[1], timing[2]))
        }
        if let classes { lines.append(Self.text(of: classes)) }
        return lines.joined(separator: "\n")
    }

    /// Per class: test samples, the ensemble's and the student's accuracy and their difference
    /// (up to 20 classes; more are in report.json and report.html).
    static func text(of classes: Classes) -> String {
        guard classes.count <= 20 else {
            return "class by class: \(classes.count) classes, in report.json (classes) and report.html"
        }
        let rows = classes.rows.map { r -> [String] in
            [String(r.index), r.samples.map(String.init) ?? "-", r.ensemble.map(Format.percent) ?? "-", r.student.map(Format.percent) ?? "-",
             r.difference.map { String(format: "%+.1f", $0 * 100) } ?? "-"]
        }
        return "class by class (test split):\n" + TextTable(header: ["CLASS", "SAMPLES", "ENSEMBLE", "STUDENT", "Δ POINTS"], rows: rows,
                                                              alignments: [.right, .right, .right, .right, .right]).render()
    }

    /// "distillation gain: +7.66 points over the same student from scratch (2750 labelled images, 390 epochs)"
    public static func gainText(_ gain: Double, _ baseline: Baseline) -> String {
        String(format: "distillation gain: %+.2f points over the same student from scratch", gain * 100)
            + (baseline.detail.map { " (\($0))" } ?? "")
    }

    /// "student.onnx: 203.4 KiB, 0.02 ms per sample (our ONNX executor)", or why there is none.
    static func text(of onnx: StudentONNX) -> String {
        if onnx.exportFailed == true {
            return "student.onnx: not exported — the export failed (the reason is in artifact student.onnx-error.txt "
                + "and the worker's log); student.safetensors is the run's model"
        }
        let size = onnx.bytes.flatMap { Int64(exactly: $0.rounded()) }.map { ByteCount.text($0) } ?? "size unknown"
        let latency = onnx.latencyMicroseconds.map { String(format: "%.2f ms per sample (our ONNX executor)", $0 / 1000) }
            ?? "latency not measured"
        return "student.onnx: \(size), \(latency)"
    }
}
