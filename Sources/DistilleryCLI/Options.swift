import ArgumentParser
import Datasets
import Distillation
import NN
import Training

/// Where the data comes from and how much of it to use.
struct DataOptions: ParsableArguments {
    @Option(help: "Directory with the Fashion-MNIST IDX files (default: $DISTILLERY_DATA_DIR or /usr/share/datasets/fashion-mnist).")
    var dataDir: String?

    @Option(help: "Training images held out for validation.")
    var validation: Int = 5000

    @Option(help: "Use only the first N training images (quick runs).")
    var trainLimit: Int?

    @Option(help: "Use only the first N test images.")
    var testLimit: Int?

    func load(seed: UInt64, normalization: Normalization? = nil) throws -> DataBundle {
        guard validation >= 0 else { throw ValidationError("--validation must be ≥ 0, got \(validation)") }
        if let trainLimit, trainLimit < 1 { throw ValidationError("--train-limit must be ≥ 1, got \(trainLimit)") }
        if let testLimit, testLimit < 1 { throw ValidationError("--test-limit must be ≥ 1, got \(testLimit)") }
        do {
            return try DataBundle.load(directory: dataDir, validationCount: validation, seed: seed,
                                       trainLimit: trainLimit, testLimit: testLimit, normalization: normalization)
        } catch {
            throw CLIError(error.description)
        }
    }
}

/// Optimisation settings shared by `train` and `distill`.
struct TrainingOptions: ParsableArguments {
    @Option(help: "Passes over the training set.")
    var epochs: Int = 10

    @Option(name: .customLong("batch"), help: "Mini-batch size.")
    var batchSize: Int = 128

    @Option(help: "Optimizer: \(OptimizerChoice.allowed).")
    var optimizer: String = "adamw"

    @Option(name: .customLong("lr"), help: "Base learning rate.")
    var learningRate: Float = 1e-3

    @Option(help: "Weight decay (decoupled for adamw, L2 for sgd).")
    var weightDecay: Float = 0

    @Option(help: "Learning-rate schedule: constant, cosine, cosine:WARMUP_EPOCHS, step:EPOCHS:GAMMA.")
    var schedule: String = "cosine"

    @Option(help: "Label smoothing for the cross-entropy term.")
    var labelSmoothing: Float = 0

    @Option(help: "Seed for initialisation, shuffling, dropout and the validation split.")
    var seed: UInt64 = 1

    func settings(trainCount: Int) throws -> TrainingSettings {
        do {
            let steps = (trainCount + batchSize - 1) / max(1, batchSize)
            let s = TrainingSettings(
                epochs: epochs, batchSize: batchSize, learningRate: learningRate,
                optimizer: try OptimizerChoice(parsing: optimizer), weightDecay: weightDecay,
                schedule: try TrainingSettings.parseSchedule(schedule, stepsPerEpoch: steps),
                labelSmoothing: labelSmoothing, seed: seed)
            try s.validate()
            return s
        } catch {
            throw ValidationError(error.description)
        }
    }
}

/// A failure with a message for the user (printed without a stack trace, exit code 1).
struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }
}

func parseSpec(_ text: String) throws -> ModelSpec {
    do { return try ModelSpec(parsing: text) } catch { throw ValidationError(error.description) }
}

func readCheckpoint(_ path: String) throws -> ModelCheckpoint {
    do { return try ModelCheckpoint.read(from: path) } catch { throw CLIError(error.description) }
}

/// Normalisation recorded in a checkpoint, if any.
func normalization(of checkpoint: ModelCheckpoint) -> Normalization? {
    guard let m = checkpoint.metadata["normalization.mean"], let s = checkpoint.metadata["normalization.std"] else { return nil }
    return Normalization(metadataMean: m, std: s)
}
