/// `distillery distill --report FILE`: the teachers, their ensemble and the student on the test
/// split, the settings and data sizes, and with `--baseline` the student trained from scratch.
/// Scripts/bench-cluster reads `data.train`, `settings.epochs`, `student.train_seconds` and the
/// accuracies; keep those keys.
public struct DistillReport: Codable, Sendable, Equatable {
    public struct Teacher: Codable, Sendable, Equatable {
        public var path: String
        public var spec: String
        public var parameters: Int
        public var testAccuracy: Float

        public init(path: String, spec: String, parameters: Int, testAccuracy: Float) {
            self.path = path
            self.spec = spec
            self.parameters = parameters
            self.testAccuracy = testAccuracy
        }

        enum CodingKeys: String, CodingKey {
            case path, spec, parameters
            case testAccuracy = "test_accuracy"
        }
    }

    public struct Ensemble: Codable, Sendable, Equatable {
        public var parameters: Int
        public var testAccuracy: Float

        enum CodingKeys: String, CodingKey {
            case parameters
            case testAccuracy = "test_accuracy"
        }
    }

    public struct Student: Codable, Sendable, Equatable {
        public var spec: String
        public var parameters: Int
        public var testAccuracy: Float
        /// Inference of one sample (batch 1), in milliseconds.
        public var latencyMs: Double
        /// Inference rows per second at batch 1000.
        public var rowsPerSecond: Double
        /// Wall time of the distillation training.
        public var trainSeconds: Double

        public init(spec: String, parameters: Int, testAccuracy: Float, latencyMs: Double, rowsPerSecond: Double, trainSeconds: Double) {
            self.spec = spec
            self.parameters = parameters
            self.testAccuracy = testAccuracy
            self.latencyMs = latencyMs
            self.rowsPerSecond = rowsPerSecond
            self.trainSeconds = trainSeconds
        }

        enum CodingKeys: String, CodingKey {
            case spec, parameters
            case testAccuracy = "test_accuracy"
            case latencyMs = "latency_ms"
            case rowsPerSecond = "rows_per_second"
            case trainSeconds = "train_seconds"
        }
    }

    public struct Settings: Codable, Sendable, Equatable {
        public var temperature: Float
        public var alpha: Float
        /// The ensemble rule, e.g. "mean-probs".
        public var ensemble: String
        public var epochs: Int
        public var seed: UInt64
        public var labelFraction: Double

        public init(temperature: Float, alpha: Float, ensemble: String, epochs: Int, seed: UInt64, labelFraction: Double) {
            self.temperature = temperature
            self.alpha = alpha
            self.ensemble = ensemble
            self.epochs = epochs
            self.seed = seed
            self.labelFraction = labelFraction
        }

        enum CodingKeys: String, CodingKey {
            case temperature, alpha, ensemble, epochs, seed
            case labelFraction = "label_fraction"
        }
    }

    /// Images in each split.
    public struct DataSizes: Codable, Sendable, Equatable {
        public var train: Int
        public var validation: Int
        public var test: Int

        public init(train: Int, validation: Int, test: Int) {
            self.train = train
            self.validation = validation
            self.test = test
        }
    }

    public struct Baseline: Codable, Sendable, Equatable {
        public var testAccuracy: Float

        enum CodingKeys: String, CodingKey { case testAccuracy = "test_accuracy" }
    }

    public var teachers: [Teacher]
    public var ensemble: Ensemble
    public var student: Student
    public var settings: Settings
    /// Σ teacher parameters / student parameters.
    public var compression: Double
    public var data: DataSizes
    public var baseline: Baseline?
    /// Student minus baseline test accuracy, in percentage points.
    public var gainPoints: Float?

    public init(teachers: [Teacher], ensembleAccuracy: Float, student: Student, settings: Settings, data: DataSizes,
                baselineAccuracy: Float?) {
        self.teachers = teachers
        let parameters = teachers.reduce(0) { $0 + $1.parameters }
        ensemble = Ensemble(parameters: parameters, testAccuracy: ensembleAccuracy)
        self.student = student
        self.settings = settings
        compression = Double(parameters) / Double(max(1, student.parameters))
        self.data = data
        baseline = baselineAccuracy.map { Baseline(testAccuracy: $0) }
        gainPoints = baselineAccuracy.map { (student.testAccuracy - $0) * 100 }
    }

    enum CodingKeys: String, CodingKey {
        case teachers, ensemble, student, settings, compression, data, baseline
        case gainPoints = "gain_points"
    }
}

/// `distillery eval --json`: a checkpoint's test loss and accuracy.
public struct EvalOutput: Codable, Sendable, Equatable {
    public var model: String
    public var spec: String
    public var accuracy: Float
    public var loss: Float
    public var count: Int

    public init(model: String, spec: String, accuracy: Float, loss: Float, count: Int) {
        self.model = model
        self.spec = spec
        self.accuracy = accuracy
        self.loss = loss
        self.count = count
    }
}
