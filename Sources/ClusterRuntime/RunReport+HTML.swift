import Foundation
import Wire

extension RunReport {
    /// `report.html`: the run as one self-contained page (inline SVG and CSS, no scripts, nothing
    /// fetched) — the outcome, the teachers / ensemble / student table (parameters, test
    /// accuracy, latency, compression) with each number also in `data-value`, and charts of the
    /// run's curves (`history`, `RunUpdate.history`): training loss and validation accuracy per
    /// epoch of the student and the teachers, and the split of the student's step time — and,
    /// class by class, the ensemble's and the student's test accuracy side by side with the
    /// student's confusion matrix as a heat map (what compression cost, class by class). The
    /// coordinator writes it beside `report.json` when a run ends; `distillery report RUN --html
    /// FILE` writes the same page on the client.
    public func html(history: [EpochPoint], version: String = DistilleryVersion.current) -> String {
        var curves: [String: [(epoch: UInt32, value: Double)]] = [:]
        for p in history where p.value.isFinite { curves[p.name, default: []].append((p.epoch, p.value)) }
        let teacherIndices = RunFigures.teacherIndices(in: curves.keys)
        func series(_ name: String, _ label: String) -> SVGChart.Series? {
            curves[name].map { SVGChart.Series(name: name, label: label, points: $0) }
        }
        let percent: (Double) -> String = { String(format: "%.2f%%", $0 * 100) }
        let loss: (Double) -> String = { String(format: "%.4f", $0) }
        let ms: (Double) -> String = { String(format: "%.2f ms", $0) }
        var charts: [SVGChart] = []
        charts.append(SVGChart(title: "Training loss per epoch", series: ([series("student.train_loss", "student (distillation loss)")]
            + teacherIndices.flatMap { [series("teacher\($0).train_loss", "teacher \($0)"),
                                        series("teacher\($0).online_train_loss", "teacher \($0) (online)")] }).compactMap { $0 },
            format: loss))
        charts.append(SVGChart(title: "Validation accuracy per epoch", series: ([series("student.val_accuracy", "student")]
            + teacherIndices.flatMap { [series("teacher\($0).val_accuracy", "teacher \($0)"),
                                        series("teacher\($0).online_val_accuracy", "teacher \($0) (online)")] }).compactMap { $0 },
            format: percent))
        charts.append(SVGChart(title: "Student step time per epoch", series: [
            series("student.compute_ms_per_step", "compute"), series("student.logits_wait_ms_per_step", "waiting for logits"),
            series("student.allreduce_ms_per_step", "all-reduce")].compactMap { $0 }, format: ms))
        charts.append(SVGChart(title: "Student training samples per second", series: [series("student.samples_per_s", "samples/s")]
            .compactMap { $0 }, format: { String(format: "%.0f", $0) }))

        var page = """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>\(SVGChart.escape("\(name) \(runID)")) — Distillery report</title>
            <style>
            body { font: 14px/1.45 system-ui, sans-serif; margin: 24px auto; max-width: 760px; color: #222; }
            h1 { font-size: 20px; margin-bottom: 4px; } h2 { font-size: 16px; margin-top: 28px; }
            .outcome { color: #555; margin-top: 0; }
            table { border-collapse: collapse; } th, td { padding: 4px 12px; border-bottom: 1px solid #ddd; text-align: right; }
            th:first-child, td:first-child { text-align: left; }
            svg.chart { display: block; margin: 12px 0; } .plot { fill: #fafafa; stroke: #ccc; } .grid { stroke: #e4e4e4; }
            .line { fill: none; stroke-width: 2; } .title { font-weight: 600; font-size: 14px; }
            .ytick { font-size: 11px; text-anchor: end; fill: #555; } .xtick, .xlabel { font-size: 11px; text-anchor: middle; fill: #555; }
            .legend { font-size: 12px; } .count { font-size: 10px; text-anchor: middle; }
            .maps { display: flex; flex-wrap: wrap; } svg.confusion { margin: 12px 0; }
            td.worse { color: #b71c1c; } td.better { color: #1b5e20; } footer { color: #888; font-size: 12px; margin-top: 32px; }
            </style></head><body>
            <h1>\(SVGChart.escape(name)) <small>\(SVGChart.escape(runID))</small></h1>
            <p class="outcome" data-state="\(SVGChart.escape(state))">\(SVGChart.escape(state))\(reason.isEmpty ? "" : " — " + SVGChart.escape(reason))</p>
            <h2>Teachers, ensemble and student</h2>

            """
        page += modelsTable()
        if let compression {
            page += "<p class=\"compression\" data-value=\"\(compression)\">The student has "
                + String(format: "%.1f×", compression) + " fewer parameters than the ensemble"
                + (latencyRatio.map { String(format: " and %.1f× its speed on one sample", $0) } ?? "") + ".</p>\n"
        }
        if let gain, let baseline {
            page += "<p class=\"gain\" data-value=\"\(gain)\">Distillation gained <b>" + String(format: "%+.2f points", gain * 100)
                + "</b> of test accuracy over the same student trained from scratch" + (baseline.detail.map { " (\($0))" } ?? "") + ".</p>\n"
        }
        let drawn = charts.map { $0.render() }.filter { !$0.isEmpty }
        if !drawn.isEmpty { page += "<h2>Curves</h2>\n" + drawn.joined(separator: "\n") + "\n" }
        if let classes { page += classesSection(classes) }
        page += "<footer>Distillery \(SVGChart.escape(version)) · report.json has every figure of this run.</footer>\n</body></html>\n"
        return page
    }

    /// "Class by class": per class, its test samples, the ensemble's and the student's accuracy
    /// and their difference (`tr data-class`, cells with `data-field` and `data-value`), then the
    /// student's confusion matrix (and the ensemble's, for comparison).
    func classesSection(_ classes: Classes) -> String {
        let percent: (Double) -> String = { String(format: "%.1f%%", $0 * 100) }
        func cell(_ field: String, _ value: Double?, _ text: (Double) -> String, _ extra: String = "") -> String {
            guard let value else { return "<td data-field=\"\(field)\">–</td>" }
            return "<td data-field=\"\(field)\" data-value=\"\(value)\"\(extra)>\(SVGChart.escape(text(value)))</td>"
        }
        var out = "<h2>Class by class</h2>\n<p>Accuracy on each class of the test split: what the student kept of the ensemble, "
            + "class by class.</p>\n<table class=\"classes\"><thead><tr><th>class</th><th>test samples</th><th>ensemble</th>"
            + "<th>student</th><th>student − ensemble</th></tr></thead><tbody>\n"
        for r in classes.rows {
            let tone = r.difference.map { $0 < -0.005 ? " class=\"worse\"" : $0 > 0.005 ? " class=\"better\"" : "" } ?? ""
            out += "<tr data-class=\"\(r.index)\"><td>\(r.index)</td>" + cell("samples", r.samples.map(Double.init), { String(Int($0)) })
                + cell("ensemble_accuracy", r.ensemble, percent) + cell("student_accuracy", r.student, percent)
                + cell("difference", r.difference, { String(format: "%+.1f points", $0 * 100) }, tone) + "</tr>\n"
        }
        out += "</tbody></table>\n"
        // Side by side: the student's matrix, then the ensemble's; rows are true classes, the
        // blue a cell's share of its row.
        out += "<div class=\"maps\">"
        if let m = classes.student { out += SVGConfusion(title: "Student: true class (rows) → predicted", matrix: m).render() }
        if let m = classes.ensemble { out += SVGConfusion(title: "Ensemble: true class (rows) → predicted", matrix: m).render() }
        return out + "</div>\n"
    }

    /// The table: one row per teacher, the ensemble (several teachers) and the student.
    func modelsTable() -> String {
        func cell(_ field: String, _ value: Double?, _ text: (Double) -> String) -> String {
            guard let value else { return "<td data-field=\"\(field)\">–</td>" }
            return "<td data-field=\"\(field)\" data-value=\"\(value)\">\(SVGChart.escape(text(value)))</td>"
        }
        let count: (Double) -> String = { String(Int($0)) }
        let percent: (Double) -> String = { String(format: "%.2f%%", $0 * 100) }
        let micro: (Double) -> String = { String(format: "%.0f µs", $0) }
        func row(_ key: String, _ label: String, _ parameters: Double?, _ accuracy: Double?, _ latency: Double?) -> String {
            "<tr data-model=\"\(key)\"><td>\(SVGChart.escape(label))</td>" + cell("parameters", parameters, count)
                + cell("test_accuracy", accuracy, percent) + cell("latency_us", latency, micro) + "</tr>\n"
        }
        var out = "<table class=\"models\"><thead><tr><th>model</th><th>parameters</th><th>test accuracy</th>"
            + "<th>latency (1 sample)</th></tr></thead><tbody>\n"
        for t in teachers {
            let i = t.index.map(String.init) ?? "?"
            out += row("teacher\(i)", "teacher \(i)\(t.reused == true ? " (reused)" : "")", t.parameters, t.testAccuracy, t.latencyMicroseconds)
        }
        if teachers.count > 1 {
            out += row("ensemble", "ensemble (\(ensemble.rule))", ensemble.parameters > 0 ? ensemble.parameters : nil,
                       ensemble.testAccuracy, ensemble.latencyMicroseconds)
        }
        out += row("student", "student", student.parameters, student.testAccuracy, student.latencyMicroseconds)
        if let baseline { out += row("baseline", "student from scratch", student.parameters, baseline.testAccuracy, nil) }
        return out + "</tbody></table>\n"
    }
}
