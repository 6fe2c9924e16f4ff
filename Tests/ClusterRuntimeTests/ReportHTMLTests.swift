import ClusterRuntime
import Foundation
import Testing
import Wire

/// `report.html` as a reader of it would check it: self-contained, the table's numbers those
/// of the report (and so of report.json), one chart point per epoch of each curve.
@Suite struct ReportHTMLTests {
    static let figures: [String: Double] = [
        "teacher0.parameters": 101_770, "teacher0.test_accuracy": 0.8521, "teacher0.latency_us": 40,
        "teacher1.parameters": 55_050, "teacher1.test_accuracy": 0.8312, "teacher1.latency_us": 30,
        "ensemble.test_accuracy": 0.8633, "student.parameters": 25_450, "student.test_accuracy": 0.8319,
        "student.latency_us": 9,
    ]

    static func history(epochs: Int) -> [EpochPoint] {
        (1...epochs).flatMap { e -> [EpochPoint] in
            let x = Double(e)
            return [EpochPoint(name: "student.train_loss", epoch: UInt32(e), value: 1 / x),
                    EpochPoint(name: "student.val_accuracy", epoch: UInt32(e), value: 0.7 + 0.01 * x),
                    EpochPoint(name: "student.compute_ms_per_step", epoch: UInt32(e), value: 1.5),
                    EpochPoint(name: "student.logits_wait_ms_per_step", epoch: UInt32(e), value: 0.2),
                    EpochPoint(name: "student.allreduce_ms_per_step", epoch: UInt32(e), value: 0.9)]
        } + [EpochPoint(name: "teacher0.val_accuracy", epoch: 1, value: 0.8), EpochPoint(name: "teacher0.val_accuracy", epoch: 2, value: 0.85),
             EpochPoint(name: "teacher1.train_loss", epoch: 1, value: 0.6)]
    }

    /// The `data-value` of the cell `field` in the row of `model`.
    static func cell(_ html: String, model: String, field: String) -> Double? {
        guard let row = html.range(of: "<tr data-model=\"\(model)\">"),
              let end = html[row.upperBound...].range(of: "</tr>") else { return nil }
        let text = html[row.upperBound..<end.lowerBound]
        guard let c = text.range(of: "data-field=\"\(field)\" data-value=\"") else { return nil }
        return Double(text[c.upperBound...].prefix { $0 != "\"" })
    }

    @Test func theTableHasTheReportsNumbersAndEachCurveAPointPerEpoch() throws {
        let report = RunReport(runID: "run-3-k7q2m9xa", name: "fashion <ensemble>", state: "completed", reason: "done", figures: Self.figures)
        let html = report.html(history: Self.history(epochs: 7))
        // The report.json of the same figures reads back to the same numbers.
        let json = try RunReport(json: report.json())
        for (model, m) in [("teacher0", json.teachers[0]), ("teacher1", json.teachers[1]), ("student", json.student)] {
            #expect(Self.cell(html, model: model, field: "parameters") == m.parameters, "\(model)")
            #expect(Self.cell(html, model: model, field: "test_accuracy") == m.testAccuracy, "\(model)")
            #expect(Self.cell(html, model: model, field: "latency_us") == m.latencyMicroseconds, "\(model)")
        }
        #expect(Self.cell(html, model: "ensemble", field: "parameters") == json.ensemble.parameters)
        #expect(Self.cell(html, model: "ensemble", field: "test_accuracy") == json.ensemble.testAccuracy)
        #expect(html.contains(">83.19%<") && html.contains(">86.33%<"))
        #expect(html.contains("data-value=\"\(json.compression!)\""))
        // Charts: loss, accuracy, step time (no samples/s reported: no chart for it).
        #expect(html.components(separatedBy: "<svg class=\"chart\"").count - 1 == 3)
        func points(_ series: String) -> [Int] {
            html.components(separatedBy: "<circle class=\"point\" data-series=\"\(series)\" data-epoch=\"").dropFirst()
                .compactMap { Int($0.prefix { $0 != "\"" }) }
        }
        #expect(points("student.train_loss") == Array(1...7))
        #expect(points("student.val_accuracy") == Array(1...7))
        #expect(points("student.allreduce_ms_per_step") == Array(1...7))
        #expect(points("teacher0.val_accuracy") == [1, 2])
        #expect(points("teacher1.train_loss") == [1])
        // Self-contained and escaped.
        #expect(!html.contains("<script") && !html.contains("src=") && !html.contains("href="))
        #expect(html.contains("fashion &lt;ensemble&gt;") && !html.contains("fashion <ensemble>"))
        #expect(html.hasPrefix("<!DOCTYPE html>") && html.hasSuffix("</html>\n"))
    }

    @Test func classByClassTheTableHasBothAccuraciesAndTheHeatMapEveryCount() throws {
        // Three classes: the ensemble gets class 2 right 4 times of 5, the student 2 of 5.
        let ensemble = ConfusionMatrix(predicted: [0, 0, 1, 1, 1, 2, 2, 2, 2, 0], labels: [0, 0, 1, 1, 1, 2, 2, 2, 2, 2], classes: 3)
        let student = ConfusionMatrix(predicted: [0, 1, 1, 1, 1, 2, 2, 1, 0, 0], labels: [0, 0, 1, 1, 1, 2, 2, 2, 2, 2], classes: 3)
        var figures = Self.figures
        figures["student.classes"] = 3
        for (name, value) in student.figures(prefix: "student.confusion") + ensemble.figures(prefix: "ensemble.confusion") {
            figures[name] = value
        }
        let report = RunReport(runID: "run-4-aaaaaaaa", name: "k", state: "completed", reason: "", figures: figures)
        #expect(report.classes == RunReport.Classes(count: 3, student: student, ensemble: ensemble))
        #expect(try RunReport(json: report.json()) == report)
        let html = report.html(history: [])
        func value(_ c: Int, _ field: String) -> Double? {
            guard let row = html.range(of: "<tr data-class=\"\(c)\">"), let end = html[row.upperBound...].range(of: "</tr>"),
                  let f = html[row.upperBound..<end.lowerBound].range(of: "data-field=\"\(field)\" data-value=\"") else { return nil }
            return Double(html[f.upperBound...].prefix { $0 != "\"" })
        }
        #expect([0, 1, 2].map { value($0, "samples") } == [2, 3, 5])
        #expect([0, 1, 2].map { value($0, "ensemble_accuracy") } == [1, 1, 0.8])
        #expect([0, 1, 2].map { value($0, "student_accuracy") } == [0.5, 1, 0.4])
        #expect(abs((value(2, "difference") ?? 0) - -0.4) < 1e-12)
        #expect(html.contains("class=\"worse\">-40.0 points<"))
        // Two heat maps of 9 cells, each with its count; the student's first.
        let maps = html.components(separatedBy: "<svg class=\"confusion\"").dropFirst()
        #expect(maps.count == 2)
        let cells = maps.first!.components(separatedBy: "<rect class=\"cell\" ").dropFirst().map { String($0.prefix { $0 != ">" }) }
        #expect(cells.count == 9)
        #expect(cells.contains { $0.contains("data-true=\"2\" data-predicted=\"1\" data-value=\"1\"") })
        #expect(cells.contains { $0.contains("data-true=\"0\" data-predicted=\"1\" data-value=\"1\"") })
        #expect(cells.contains { $0.contains("data-true=\"2\" data-predicted=\"2\" data-value=\"2\" ") && $0.contains("fill=\"#") })
        // A full row is the darkest blue; an empty cell is white.
        #expect(cells.contains { $0.contains("data-true=\"1\" data-predicted=\"1\"") && $0.contains("fill=\"#08306b\"") })
        #expect(cells.contains { $0.contains("data-true=\"1\" data-predicted=\"0\"") && $0.contains("fill=\"#ffffff\"") })
    }

    @Test func theBaselineIsARowAndTheGainASentence() throws {
        var figures = Self.figures
        figures["baseline.test_accuracy"] = 0.7553
        figures["baseline.epochs"] = 390
        figures["baseline.labelled"] = 2750
        let report = RunReport(runID: "run-5-aaaaaaaa", name: "k", state: "completed", reason: "", figures: figures)
        #expect(report.baseline == RunReport.Baseline(testAccuracy: 0.7553, epochs: 390, labelled: 2750))
        let gain = try #require(report.gain)
        #expect(abs(gain - (0.8319 - 0.7553)) < 1e-12)
        #expect(try RunReport(json: report.json()) == report)
        let html = report.html(history: [])
        #expect(Self.cell(html, model: "baseline", field: "test_accuracy") == 0.7553)
        #expect(Self.cell(html, model: "baseline", field: "parameters") == 25_450)
        #expect(html.contains("<p class=\"gain\" data-value=\"\(gain)\">Distillation gained <b>+7.66 points</b>"))
        #expect(html.contains("(2750 labelled images, 390 epochs)"))
        #expect(RunReport(runID: "r", name: "k", state: "completed", reason: "", figures: Self.figures).gain == nil)
    }

    @Test func aRunWithoutCurvesHasTheTableOnly() {
        let html = RunReport(runID: "run-1-aaaaaaaa", name: "x", state: "failed", reason: "no worker", figures: [:]).html(history: [])
        #expect(!html.contains("<svg") && !html.contains("Class by class"))
        #expect(html.contains("<tr data-model=\"student\"><td>student</td><td data-field=\"parameters\">–</td>"))
        #expect(html.contains("failed — no worker"))
    }
}
