import Foundation
import Wire

/// What a run came to: each teacher's, the ensemble's and the student's parameters, test
/// accuracy and single-sample latency, the compression, and the latest of every figure
/// reported (DESIGN.md §2 step 6).
///
/// The coordinator builds it when a run ends and writes it to
/// `<state-dir>/artifacts/<run>/report.json` (``Coordinator/writeReport(_:)``); `distillery
/// report` builds it from the same figures (the coordinator's latest ones, which it sends to
/// any client) and only prints it, so the two never disagree on a sum or a ratio. The JSON
/// keys are snake_case and stable: Scripts/bench-cluster reads `figures`, and any reader of
/// `report.json` may rely on the others.
public struct RunReport: Codable, Sendable, Equatable {
    /// One model's figures; a figure that was not reported is absent (nil).
    public struct Model: Codable, Sendable, Equatable {
        /// The teacher's index i (figures `teacher<i>.…`); nil for the student.
        public var index: Int?
        public var parameters: Double?
        /// Accuracy on the test split, 0…1.
        public var testAccuracy: Double?
        /// Inference time of one sample, in microseconds.
        public var latencyMicroseconds: Double?
        /// A teacher taken from a store of trained teachers instead of trained for this run.
        public var reused: Bool?

        public init(index: Int? = nil, parameters: Double? = nil, testAccuracy: Double? = nil,
                    latencyMicroseconds: Double? = nil, reused: Bool? = nil) {
            self.index = index
            self.parameters = parameters
            self.testAccuracy = testAccuracy
            self.latencyMicroseconds = latencyMicroseconds
            self.reused = reused
        }

        enum CodingKeys: String, CodingKey {
            case index, parameters, reused
            case testAccuracy = "test_accuracy"
            case latencyMicroseconds = "latency_us"
        }
    }

    /// The teachers together: their parameters and latencies summed (running them all for one
    /// sample), and the accuracy of the mean of their probabilities.
    public struct Ensemble: Codable, Sendable, Equatable {
        public var parameters: Double
        public var rule: String
        public var testAccuracy: Double?
        /// Σ of the teachers' latencies; nil when none reported one.
        public var latencyMicroseconds: Double?

        public init(parameters: Double, rule: String = "mean of probabilities", testAccuracy: Double? = nil,
                    latencyMicroseconds: Double? = nil) {
            self.parameters = parameters
            self.rule = rule
            self.testAccuracy = testAccuracy
            self.latencyMicroseconds = latencyMicroseconds
        }

        enum CodingKeys: String, CodingKey {
            case parameters
            case rule = "rule for accuracy"
            case testAccuracy = "test_accuracy"
            case latencyMicroseconds = "latency_us"
        }
    }

    /// The student written as ONNX (artifact `student.onnx`, sent beside `student.safetensors`):
    /// figures `student.onnx_bytes`, `student.onnx_latency_us` (one sample in Distillery's own
    /// ONNX executor) and `student.onnx_export_failed` (1 when the export failed; the reason is
    /// artifact `student.onnx-error.txt`).
    public struct StudentONNX: Codable, Sendable, Equatable {
        /// Size of `student.onnx`.
        public var bytes: Double?
        /// Inference time of one sample in Distillery's ONNX executor, in microseconds.
        public var latencyMicroseconds: Double?
        /// True when the export failed (the run went on without `student.onnx`).
        public var exportFailed: Bool?

        public init(bytes: Double? = nil, latencyMicroseconds: Double? = nil, exportFailed: Bool? = nil) {
            self.bytes = bytes
            self.latencyMicroseconds = latencyMicroseconds
            self.exportFailed = exportFailed
        }

        /// From a run's figures; nil when none of the three was reported (runs before
        /// `student.onnx` existed, or runs still going).
        init?(figures: [String: Double]) {
            let bytes = figures["student.onnx_bytes"], latency = figures["student.onnx_latency_us"]
            let failed = figures["student.onnx_export_failed"].map { $0 == 1 }
            guard bytes != nil || latency != nil || failed != nil else { return nil }
            self.init(bytes: bytes, latencyMicroseconds: latency, exportFailed: failed)
        }

        enum CodingKeys: String, CodingKey {
            case bytes
            case latencyMicroseconds = "latency_us"
            case exportFailed = "export_failed"
        }
    }

    /// Class by class on the test split: the student's and the ensemble's confusion matrices
    /// (figures `student.classes`, `student.confusion.<t>.<p>`, `ensemble.confusion.<t>.<p>`).
    public struct Classes: Codable, Sendable, Equatable {
        public var count: Int
        public var student: ConfusionMatrix?
        public var ensemble: ConfusionMatrix?

        public init(count: Int, student: ConfusionMatrix? = nil, ensemble: ConfusionMatrix? = nil) {
            self.count = count
            self.student = student
            self.ensemble = ensemble
        }

        /// One class's figures: its test samples, the ensemble's and the student's accuracy on
        /// it, and student − ensemble (nil where a figure is missing).
        public struct Row: Sendable, Equatable {
            public var index: Int
            public var samples: Int?
            public var ensemble: Double?
            public var student: Double?
            public var difference: Double? { student.flatMap { s in ensemble.map { s - $0 } } }
        }

        /// A row per class, in class order.
        public var rows: [Row] {
            let s = student?.perClassAccuracy, e = ensemble?.perClassAccuracy
            let samples = (student ?? ensemble)?.samplesPerClass ?? []
            return (0..<count).map { c in
                Row(index: c, samples: c < samples.count ? samples[c] : nil, ensemble: e.flatMap { c < $0.count ? $0[c] : nil },
                    student: s.flatMap { c < $0.count ? $0[c] : nil })
            }
        }

        /// From a run's figures; nil unless `student.classes` and a matrix were reported.
        init?(figures: [String: Double]) {
            guard let n = figures["student.classes"], let count = Int(exactly: n) else { return nil }
            let student = ConfusionMatrix(figures: figures, prefix: "student.confusion", classes: count)
            let ensemble = ConfusionMatrix(figures: figures, prefix: "ensemble.confusion", classes: count)
            guard student != nil || ensemble != nil else { return nil }
            self.init(count: count, student: student, ensemble: ensemble)
        }
    }

    /// The same student trained from scratch on the labels it saw, for as many steps
    /// (`training.baseline`; figures `baseline.test_accuracy`, `baseline.epochs`,
    /// `baseline.labelled`).
    public struct Baseline: Codable, Sendable, Equatable {
        public var testAccuracy: Double
        public var epochs: Double?
        /// The training images it learnt from (those whose labels the student saw).
        public var labelled: Double?

        public init(testAccuracy: Double, epochs: Double? = nil, labelled: Double? = nil) {
            self.testAccuracy = testAccuracy
            self.epochs = epochs
            self.labelled = labelled
        }

        /// "2750 labelled images, 391 epochs" (what is known of it); nil when nothing is.
        public var detail: String? {
            let parts = [labelled.map { "\(Int($0)) labelled images" }, epochs.map { "\(Int($0)) epochs" }].compactMap { $0 }
            return parts.isEmpty ? nil : parts.joined(separator: ", ")
        }

        enum CodingKeys: String, CodingKey {
            case epochs, labelled
            case testAccuracy = "test_accuracy"
        }
    }

    public var runID: String
    public var name: String
    /// The run's phase as the coordinator names it: "completed", "preparing-teachers", …
    public var state: String
    public var reason: String
    public var teachers: [Model]
    public var ensemble: Ensemble
    public var student: Model
    /// The student as ONNX; nil in reports of runs that did not send its figures (optional,
    /// so older `report.json` files decode).
    public var studentONNX: StudentONNX?
    /// Σ teacher parameters / student parameters; nil unless both are known.
    public var compression: Double?
    /// Ensemble latency / student latency; nil unless both are known.
    public var latencyRatio: Double?
    /// The student from scratch; nil unless the run trained one (`training.baseline`).
    public var baseline: Baseline?
    /// What distillation gained: the student's test accuracy − the baseline's (0.0766 = 7.66
    /// points); nil unless both are known.
    public var gain: Double?
    /// Per-class results; nil for runs that did not report them (older runs, more than
    /// ``ConfusionMatrix/maxClasses`` classes, runs that did not get to the test).
    public var classes: Classes?
    /// The latest value of every figure reported, by name (`student.samples_per_s`, …), but for
    /// the confusion-matrix cells, which are in `classes`.
    public var figures: [String: Double]
    /// From the run spec; known to the coordinator, absent when a client built the report.
    public var replicas: Int?
    public var mode: String?

    enum CodingKeys: String, CodingKey {
        case runID = "run_id"
        case name, state, reason, teachers, ensemble, student, compression, figures, replicas, mode, classes, baseline, gain
        case latencyRatio = "latency_ratio"
        case studentONNX = "student_onnx"
    }

    /// The report of a run from its latest figures (`teacher<i>.<figure>`, `ensemble.<figure>`,
    /// `student.<figure>`; see ``RunFigures``).
    public init(runID: String, name: String, state: String, reason: String, figures: [String: Double],
                replicas: Int? = nil, mode: String? = nil) {
        func model(_ prefix: String, index: Int? = nil) -> Model {
            Model(index: index, parameters: figures["\(prefix).parameters"], testAccuracy: figures["\(prefix).test_accuracy"],
                  latencyMicroseconds: figures["\(prefix).latency_us"], reused: figures["\(prefix).reused"].map { $0 == 1 })
        }
        self.runID = runID
        self.name = name
        self.state = state
        self.reason = reason
        self.figures = figures.filter { !ConfusionMatrix.isCell($0.key) }
        classes = Classes(figures: figures)
        baseline = figures["baseline.test_accuracy"].map {
            Baseline(testAccuracy: $0, epochs: figures["baseline.epochs"], labelled: figures["baseline.labelled"])
        }
        self.replicas = replicas
        self.mode = mode
        teachers = RunFigures.teacherIndices(in: figures.keys).map { model("teacher\($0)", index: $0) }
        student = model("student")
        studentONNX = StudentONNX(figures: figures)
        let latencies = teachers.compactMap(\.latencyMicroseconds)
        ensemble = Ensemble(parameters: teachers.compactMap(\.parameters).reduce(0, +), testAccuracy: figures["ensemble.test_accuracy"],
                            latencyMicroseconds: latencies.isEmpty ? nil : latencies.reduce(0, +))
        if let p = student.parameters, p > 0, ensemble.parameters > 0 { compression = ensemble.parameters / p }
        if let l = student.latencyMicroseconds, l > 0, let e = ensemble.latencyMicroseconds, e > 0 { latencyRatio = e / l }
        if let b = baseline, let s = student.testAccuracy { gain = s - b.testAccuracy }
    }

    /// The report as `report.json` holds it (``JSONCoding``: sorted keys, pretty-printed).
    public func json() throws -> Data { try JSONCoding.encoder().encode(self) }

    /// A report read back from `report.json`.
    public init(json: Data) throws { self = try JSONCoding.decoder().decode(RunReport.self, from: json) }
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

    /// The latest value of each figure by name; where a name repeats, the last one counts.
    public static func latest(_ metrics: [MetricValue]) -> [String: Double] {
        Dictionary(metrics.map { ($0.name, $0.value) }, uniquingKeysWith: { _, last in last })
    }
}
