import CLIOutput
import Testing
import Wire

@Suite struct CurveChartTests {
    @Test func eachColumnIsItsValueInEighthsBetweenTheLowestAndTheHighest() {
        // lo 0, hi 3, 8 eighths: 0 → 1, 1 → round(7/3) + 1 = 3, 2 → round(14/3) + 1 = 6, 3 → 8.
        #expect(CurveChart(width: 10, rows: 1).heights([0, 1, 2, 3]) == [1, 3, 6, 8])
        let lines = CurveChart(width: 10, rows: 1).render([0, 1, 2, 3]) { String(Int($0)) }
        #expect(lines == ["3 ┤▁▃▆█", "  └epoch 1 4"], "\(lines)")
        // Two rows: 16 eighths; the top row starts at the 9th.
        #expect(CurveChart(width: 10, rows: 2).heights([0, 1]) == [1, 16])
        #expect(CurveChart(width: 10, rows: 2).render([0, 1]) { String(Int($0)) }.prefix(2) == ["1 ┤ █", "0 ┤▁█"])
    }

    @Test func aFlatCurveSitsMidHeightAndALongOneIsGroupedToTheWidth() {
        #expect(CurveChart(width: 5, rows: 2).heights([0.5, 0.5, 0.5]) == [8, 8, 8])
        let chart = CurveChart(width: 4, rows: 1)
        // 12 epochs in 4 columns: each column is the last epoch of its group of 3.
        #expect(chart.columns((1...12).map(Double.init)) == [3, 6, 9, 12])
        #expect(chart.render((1...12).map(Double.init)) { String(Int($0)) }.first == "12 ┤▁▃▆█")
        #expect(chart.render([1, .nan]) { "\($0)" }.isEmpty, "a value that is not finite draws nothing")
    }
}

@Suite struct WatchScreenTests {
    static func update(_ state: RunState, phase: String, done: UInt64, total: UInt64, latest: [String: Double],
                       history: [(String, [Double])]) -> RunUpdate {
        RunUpdate(run: RunSummary(runID: "run-3-k7q2m9xa", name: "fashion", state: state), phase: phase, phaseDone: done,
                  phaseTotal: total, latest: latest.sorted { $0.key < $1.key }.map { MetricValue(name: $0.key, value: $0.value) },
                  history: history.flatMap { name, values in values.enumerated().map { EpochPoint(name: name, epoch: UInt32($0.offset + 1), value: $0.element) } })
    }

    @Test func whileTheStudentTrainsTheScreenHasTheBarTheCurvesAndTheLastEpochsNumbers() {
        var screen = WatchScreen(width: 100)
        let first = Self.update(.distilling, phase: "distilling", done: 100, total: 1000, latest: [:], history: [])
        screen.observe(first, now: 0)
        let u = Self.update(.distilling, phase: "distilling", done: 400, total: 1000,
                            latest: ["student.train_loss": 0.3125, "student.val_accuracy": 0.8412, "student.samples_per_s": 5120,
                                     "student.compute_ms_per_step": 8, "student.logits_wait_ms_per_step": 0.5,
                                     "student.allreduce_ms_per_step": 1.5, "student.replicas": 2, "student.ring_generation": 1],
                            history: [("student.train_loss", [0.9, 0.6, 0.45, 0.3125]), ("student.val_accuracy", [0.7, 0.78, 0.82, 0.8412])])
        screen.observe(u, now: 10)
        let lines = screen.lines(u)
        let text = lines.joined(separator: "\n")
        #expect(lines[0] == "run-3-k7q2m9xa  fashion  distilling")
        #expect(lines[1].hasPrefix("█") && lines[1].contains("40%  400/1000 steps  30.0 steps/s  ETA 20.0 s"), "\(lines[1])")
        #expect(text.contains("student  epoch 4  train loss 0.3125  val acc 84.12%  5.1K samples/s"), "\(text)")
        #expect(text.contains("train loss by epoch:") && text.contains("validation accuracy by epoch:"), "\(text)")
        #expect(text.contains("84.12% ┤") && text.contains("70.00% ┤"), "the accuracy curve's axis: \(text)")
        #expect(text.contains("└epoch 1"), "\(text)")
        #expect(text.contains("step 10.0 ms: compute 8.0 ms (80%) · logits wait 0.5 ms (5%) · all-reduce 1.5 ms (15%)"), "\(text)")
        #expect(text.contains("replicas: 2 (ring generation 1)"))
        #expect(lines.allSatisfy { $0.count <= 100 })
    }

    @Test func anOnlineTeachersLossIsACurveBesideTheStudents() {
        let u = Self.update(.distilling, phase: "distilling", done: 30, total: 60, latest: ["student.train_loss": 0.4],
                            history: [("student.train_loss", [0.5, 0.4]), ("teacher1.online_train_loss", [0.3, 0.25]),
                                      ("teacher1.online_val_accuracy", [0.81, 0.83]),
                                      ("teacher0.val_accuracy", [0.8, 0.85])])
        let text = WatchScreen(width: 80).lines(u).joined(separator: "\n")
        #expect(text.contains("teacher 1 (online) train loss by epoch:\n0.3000 ┤"), "\(text)")
        #expect(text.contains("teacher 1 (online) validation accuracy by epoch:\n83.00% ┤"), "\(text)")
        #expect(!text.contains("teacher 0"), "a teacher that trained before distillation has no curve here: \(text)")
    }

    @Test func whileTeachersTrainThereIsALinePerTeacher() {
        let u = Self.update(.preparingTeachers, phase: "preparing-teachers", done: 10, total: 40,
                            latest: ["teacher0.train_loss": 0.5, "teacher0.val_accuracy": 0.8, "teacher1.val_accuracy": 0.75],
                            history: [("teacher0.train_loss", [0.7, 0.5]), ("teacher0.val_accuracy", [0.7, 0.8]), ("teacher1.val_accuracy", [0.75])])
        let lines = WatchScreen(width: 80).lines(u)
        #expect(lines.contains("teacher 0  epoch 2  loss 0.5000  val acc 80.00%"), "\(lines)")
        #expect(lines.contains("teacher 1  epoch 1  val acc 75.00%"), "\(lines)")
        #expect(!lines.contains { $0.contains("student") })
        #expect(!lines.contains { $0.hasPrefix("workers:") }, "no placement, no workers line")
    }

    @Test func theWorkersInUseAreNamedWithTheirParts() {
        var u = Self.update(.distilling, phase: "distilling", done: 1, total: 4, latest: [:], history: [])
        u.teacherWorkers = ["teacher-1", "", "teacher-1"]
        u.studentWorkers = ["student-1", "student-2"]
        let lines = WatchScreen(width: 200).lines(u)
        #expect(lines.contains("workers: teacher-1 (teacher 0, teacher 2) · student-1 (replica 0) · student-2 (replica 1) · "
            + "waiting for a worker: teacher 1"), "\(lines)")
        // The update of an ended run has no placement: the screen keeps the last one seen.
        var screen = WatchScreen(width: 200)
        screen.observe(u, now: 0)
        let ended = Self.update(.completed, phase: "completed", done: 0, total: 0, latest: [:], history: [])
        screen.observe(ended, now: 1)
        #expect(screen.lines(ended).contains { $0.hasPrefix("workers: teacher-1 (teacher 0, teacher 2) · student-1") })
        #expect(!WatchScreen(width: 200).lines(ended).contains { $0.hasPrefix("workers:") })
    }
}
