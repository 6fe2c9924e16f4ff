import ArgumentParser
import CLIOutput
import Foundation
import NN
import Training

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a model from scratch on Fashion-MNIST and save a checkpoint.",
        discussion: """
            Model spec grammar:
              mlp:IN-HIDDEN…-OUT[,dropout=P][,in-dropout=P][,bn]      e.g. mlp:784-1200-1200-10,dropout=0.2
              cnn:CxHxW-BLOCK…-fcOUT[,dropout=P][,bn]                  e.g. cnn:1x28x28-c32-p2-c64-p2-fc128-fc10,bn
            blocks: cN[kK][sS][pP] convolution (kernel 3, stride 1, same padding), pK[sS] max pool, fcN dense.
            """)

    @Option(help: "Model spec.") var model: String
    @Option(help: "Checkpoint to write (safetensors).") var out: String
    @Flag(help: "Train on a bootstrap resample of the training split (drawn with replacement from --seed), for bagged ensembles.")
    var bootstrap = false
    @OptionGroup var training: TrainingOptions
    @OptionGroup var data: DataOptions

    func run() throws {
        let spec = try parseSpec(model)
        var bundle = try data.load(seed: training.seed)
        if bootstrap { bundle.train = bundle.train.subset(bundle.train.bootstrapIndices(seed: training.seed)) }
        let settings = try training.settings(trainCount: bundle.train.count)
        let net: Sequential
        do { net = try spec.build(dataShape: bundle.train.sampleShape, seed: training.seed) } catch { throw ValidationError(error.description) }
        print("training \(spec) — \(Format.count(net.parameterCount)) parameters, \(bundle.train.count) train / \(bundle.validation?.count ?? 0) validation / \(bundle.test.count) test images")
        let progress = EpochCheckpointer(
            next: ProgressPrinter(label: "train", epochs: settings.epochs), path: out, model: net, spec: spec,
            metadata: ["seed": String(settings.seed), "normalization.mean": bundle.normalization.metadataText.mean,
                       "normalization.std": bundle.normalization.metadataText.std], epochs: settings.epochs)
        let trainer = Trainer(model: net, settings: settings, observer: progress)
        let reports = trainer.fit(train: bundle.train, validation: bundle.validation)
        let test = Evaluation.run(net, on: bundle.test)
        print("test loss \(Format.fixed(test.loss, 4))  test accuracy \(Format.percent(test.accuracy))  (\(test.count) images)")
        var meta = trainingMetadata(settings: settings, bundle: bundle, test: test, reports: reports)
        if bootstrap { meta["bootstrap"] = "true" }
        meta["complete"] = "true"
        meta["epoch"] = "\(settings.epochs)/\(settings.epochs)"
        do { try ModelCheckpoint(model: net, spec: spec, metadata: meta).write(to: out) } catch { throw CLIError(error.description) }
        print("saved \(out)")
    }
}

/// Training state stored in a checkpoint's metadata.
func trainingMetadata(settings: TrainingSettings, bundle: DataBundle, test: Evaluation, reports: [EpochReport]) -> [String: String] {
    var m: [String: String] = [
        "epochs": String(settings.epochs), "seed": String(settings.seed), "batch": String(settings.batchSize),
        "lr": String(settings.learningRate), "schedule": settings.schedule.description,
        "optimizer": settings.optimizer.description, "weight_decay": String(settings.weightDecay),
        "normalization.mean": bundle.normalization.metadataText.mean, "normalization.std": bundle.normalization.metadataText.std,
        "test.accuracy": String(test.accuracy), "test.loss": String(test.loss), "test.count": String(test.count),
        "train.count": String(bundle.train.count),
    ]
    if let last = reports.last {
        m["train.samples_per_second"] = String(Int(last.samplesPerSecond))
        if let v = last.validation { m["validation.accuracy"] = String(v.accuracy) }
    }
    return m
}
