import ArgumentParser
import CLIOutput
import Clocks
import Datasets
import ClusterRuntime
import Distillation
import FileSupport
import Foundation
import NN
import RunSpec
import Training

struct Distill: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Distil an ensemble of teacher checkpoints into a student (offline, cached soft targets).",
        discussion: """
            Loss: alpha·T²·KL(ensemble_T ‖ student_T) + (1−alpha)·CE(labels, student).
            Ensemble rules: \(EnsembleRule.allowed).
            --baseline also trains the same student from scratch (same seed, same budget) and prints both.
            --label-fraction F keeps only a stratified fraction F of the labels (semi-supervised transfer);
            the baseline then trains on the labelled images only.
            """)

    @Option(help: "Teacher checkpoints, comma-separated.") var teachers: String
    @Option(help: "Student model spec (required unless --like-run gives it).") var student: String?
    @Option(help: "Softmax temperature T.") var temperature: Float = 4
    @Option(help: "Weight of the soft (distillation) term.") var alpha: Float = 0.9
    @Option(help: "Ensemble rule: \(EnsembleRule.allowed).") var ensemble: String = "mean-probs"
    @Option(help: "Student checkpoint to write.") var out: String
    @Flag(help: "Also train the student from scratch with the same budget and compare.") var baseline = false
    @Option(help: "Epochs for the baseline (default: same number of optimizer steps as the student).") var baselineEpochs: Int?
    @Option(help: "Fraction of training labels the student may see (0 < F ≤ 1).") var labelFraction: Double = 1
    @Option(help: "Write the report as JSON to this file.") var report: String?
    @Option(help: "Directory caching each teacher's training-set logits (reused while the checkpoint and data selection are unchanged).")
    var logitsCache: String?
    @Option(help: ArgumentHelp("Take the student, distillation and training settings and the data selection from this run spec "
                               + "(the single-process twin of a cluster run; other options are ignored).", valueName: "run.yaml"))
    var likeRun: String?
    @OptionGroup var training: TrainingOptions
    @OptionGroup var data: DataOptions

    /// Copies a run spec's student, distillation, training and data settings over the options
    /// (the typed values in their canonical spellings: the options are text).
    mutating func adopt(_ spec: RunSpec) {
        student = spec.student.model.description
        temperature = spec.distillation.temperature
        alpha = spec.distillation.alpha
        ensemble = spec.distillation.ensemble.description
        training.epochs = spec.training.epochs
        training.batchSize = spec.training.batch
        training.learningRate = spec.training.learningRate
        training.optimizer = spec.training.optimizer.description
        training.weightDecay = spec.training.weightDecay
        training.schedule = spec.training.schedule.description
        training.labelSmoothing = 0
        training.seed = spec.training.seed
        data.dataDir = spec.dataset.path
        data.validation = spec.dataset.validation
        data.trainLimit = spec.dataset.trainLimit == 0 ? nil : spec.dataset.trainLimit
    }

    mutating func run() throws {
        if let likeRun {
            let spec: RunSpec
            do { spec = try RunSpec(contentsOfFile: likeRun).resolvingPaths(ofFile: likeRun) } catch { throw CLIError("\(error)") }
            guard spec.dataset.format == .idx, spec.dataset.preprocessing == .idxDefault else {
                throw CLIError("\(likeRun): --like-run takes runs on the IDX files with their default pre-processing; this one "
                    + "reads \(spec.dataset.format == .npz ? "an .npz data set" : "other pre-processing"), which only the cluster runs "
                    + "(distillery submit)")
            }
            adopt(spec)
            print("settings of run spec \(likeRun): student \(student ?? "?"), T=\(temperature), alpha=\(alpha), \(ensemble), "
                + "\(training.epochs) epochs of batch \(training.batchSize), seed \(training.seed)")
        }
        let paths = teachers.split(separator: ",").map(String.init)
        guard !paths.isEmpty else { throw ValidationError("--teachers needs at least one checkpoint") }
        guard labelFraction > 0 && labelFraction <= 1 else { throw ValidationError("--label-fraction must be in (0, 1], got \(labelFraction)") }
        let kd = KDLoss(temperature: temperature, alpha: alpha, labelSmoothing: training.labelSmoothing)
        if let problem = kd.problem { throw ValidationError(problem) }
        let rule: EnsembleRule
        do { rule = try EnsembleRule(parsing: ensemble); try rule.validate(teacherCount: paths.count) } catch { throw ValidationError(error.description) }
        guard let student else { throw ValidationError("--student is required (or --like-run RUN.yaml)") }
        let studentSpec = try parseSpec(student)

        let checkpoints = try paths.map(readCheckpoint)
        let norm = normalization(of: checkpoints[0])
        for (p, c) in zip(paths, checkpoints) where normalization(of: c) != norm {
            print("warning: \(p) was trained with different input normalisation than \(paths[0]); using the first teacher's")
        }
        let bundle = try data.load(seed: training.seed, normalization: norm)
        let settings = try training.settings(trainCount: bundle.train.count)

        // Teachers and their ensemble on the test split.
        var teacherRows: [[String]] = []
        var testLogits: [[Float]] = []
        var reportTeachers: [DistillReport.Teacher] = []
        for (p, c) in zip(paths, checkpoints) {
            let logits = Evaluation.logits(c.model, on: bundle.test)
            let acc = Evaluation.accuracy(logits: logits, labels: bundle.test.labels, classes: bundle.test.classCount)
            testLogits.append(logits)
            teacherRows.append([p, c.spec.description, Format.count(c.model.parameterCount), Format.percent(acc)])
            reportTeachers.append(DistillReport.Teacher(path: p, spec: c.spec.description, parameters: c.model.parameterCount, testAccuracy: acc))
        }
        let ensembleAccuracy = EnsembleTargets.accuracy(logits: testLogits, labels: bundle.test.labels, classes: bundle.test.classCount)
        let ensembleParams = checkpoints.reduce(0) { $0 + $1.model.parameterCount }

        // Soft targets for every training image, computed once.
        let distiller = Distiller(kd: kd, rule: rule, settings: settings)
        print("computing \(rule) targets at T=\(temperature) from \(paths.count) teacher(s) on \(bundle.train.count) images…")
        let trainLogits = try zip(paths, checkpoints).map { p, c in
            try cachedLogits(teacher: p, model: c.model, data: bundle.train, cacheDirectory: logitsCache)
        }
        let targets: [Float]
        do { targets = try distiller.ensembleTargets(teacherLogits: trainLogits, on: bundle.train) } catch { throw CLIError(error.description) }

        var labelMask: [Float]?
        var labelled: [Int] = Array(0..<bundle.train.count)
        if let mask = bundle.train.labelMask(fraction: labelFraction, seed: training.seed) {
            labelled = mask.indices.filter { mask[$0] > 0 }
            labelMask = mask
            print("semi-supervised: labels visible for \(labelled.count) of \(bundle.train.count) images")
        }

        let net: Sequential
        do { net = try studentSpec.build(dataShape: bundle.train.sampleShape, seed: training.seed) } catch { throw ValidationError(error.description) }
        print("distilling into \(studentSpec) — \(Format.count(net.parameterCount)) parameters (ensemble \(Format.count(ensembleParams)), \(Format.fixed(Double(ensembleParams) / Double(net.parameterCount), 1))× smaller)")
        let clock = SystemRuntimeClock()
        let started = clock.instant()
        let checkpointer = EpochCheckpointer(
            next: ProgressPrinter(label: "distil", epochs: settings.epochs), path: out, model: net, spec: studentSpec,
            metadata: ["seed": String(settings.seed), "normalization.mean": bundle.normalization.metadataText.mean,
                       "normalization.std": bundle.normalization.metadataText.std, "distilled_from": paths.joined(separator: ",")],
            epochs: settings.epochs)
        let reports = distiller.train(student: net, train: bundle.train, targets: targets, labelMask: labelMask,
                                      validation: bundle.validation, observer: checkpointer)
        let distillSeconds = clock.elapsed(since: started).inSeconds
        let studentTest = Evaluation.run(net, on: bundle.test)
        var meta = trainingMetadata(settings: settings, bundle: bundle, test: studentTest, reports: reports)
        meta["distilled_from"] = paths.joined(separator: ",")
        meta["distillation"] = "T=\(temperature) alpha=\(alpha) ensemble=\(rule) label_fraction=\(labelFraction)"
        meta["complete"] = "true"
        meta["epoch"] = "\(settings.epochs)/\(settings.epochs)"
        do { try ModelCheckpoint(model: net, spec: studentSpec, metadata: meta).write(to: out) } catch { throw CLIError(error.description) }

        var baselineAccuracy: Float?
        if baseline {
            let base = try studentSpec.build(dataShape: bundle.train.sampleShape, seed: training.seed)
            let baseData = labelFraction < 1 ? bundle.train.subset(labelled) : bundle.train
            var baseSettings = settings
            let studentSteps = settings.epochs * ((bundle.train.count + settings.batchSize - 1) / settings.batchSize)
            let baseStepsPerEpoch = (baseData.count + settings.batchSize - 1) / settings.batchSize
            baseSettings.epochs = baselineEpochs ?? max(1, Int((Double(studentSteps) / Double(baseStepsPerEpoch)).rounded()))
            baseSettings.schedule = try TrainingSettings.parseSchedule(training.schedule, stepsPerEpoch: baseStepsPerEpoch)
            print("baseline: same student from scratch on \(baseData.count) labelled images, \(baseSettings.epochs) epochs")
            Trainer(model: base, settings: baseSettings, observer: ProgressPrinter(label: "baseline", epochs: baseSettings.epochs))
                .fit(train: baseData, validation: bundle.validation)
            baselineAccuracy = Evaluation.run(base, on: bundle.test).accuracy
        }

        let studentLatency = LatencyMeasurement.measure(net)
        var rows = teacherRows
        rows.append(["ensemble (\(paths.count), mean-probs)", "", Format.count(ensembleParams), Format.percent(ensembleAccuracy)])
        rows.append(["student (distilled)", studentSpec.description, Format.count(net.parameterCount), Format.percent(studentTest.accuracy)])
        if let b = baselineAccuracy { rows.append(["student (from scratch)", studentSpec.description, Format.count(net.parameterCount), Format.percent(b)]) }
        print("")
        TextTable(header: ["model", "spec", "params", "test acc"], rows: rows, alignments: [.left, .left, .right, .right], rule: true).print()
        print("compression \(Format.fixed(Double(ensembleParams) / Double(net.parameterCount), 1))×  student latency \(Format.fixed(studentLatency.singleSampleMilliseconds, 3)) ms/sample (batch 1), \(Int(studentLatency.rowsPerSecond)) rows/s (batch 1000)")
        if let b = baselineAccuracy {
            print("distillation gain over scratch: \(String(format: "%+.2f", Double(studentTest.accuracy - b) * 100)) points")
        }
        print("saved \(out)")

        if let report {
            let r = DistillReport(
                teachers: reportTeachers, ensembleAccuracy: ensembleAccuracy,
                student: DistillReport.Student(spec: studentSpec.description, parameters: net.parameterCount, testAccuracy: studentTest.accuracy,
                                               latencyMs: studentLatency.singleSampleMilliseconds,
                                               rowsPerSecond: studentLatency.rowsPerSecond, trainSeconds: distillSeconds),
                settings: DistillReport.Settings(temperature: temperature, alpha: alpha, ensemble: rule.description, epochs: settings.epochs,
                                                 seed: settings.seed, labelFraction: labelFraction),
                data: DistillReport.DataSizes(train: bundle.train.count, validation: bundle.validation?.count ?? 0, test: bundle.test.count),
                baselineAccuracy: baselineAccuracy)
            do { try AtomicFile.write([UInt8](JSONCoding.encoder().encode(r)), to: report) } catch {
                throw CLIError("cannot write the report \(report): \(error)")
            }
        }
    }
}

/// A teacher's logits on `data`, from `cacheDirectory` when an entry with the same key exists.
/// Key: FNV-1a of the checkpoint path, size and modification time, and the data's count and
/// label checksum; the entry is a safetensors file written atomically.
func cachedLogits(teacher path: String, model: Sequential, data: LabeledImages, cacheDirectory: String?) throws -> [Float] {
    guard let dir = cacheDirectory else { return Evaluation.logits(model, on: data) }
    let attrs = (try? FileManager.default.attributesOfItem(atPath: path)) ?? [:]
    let size = (attrs[.size] as? NSNumber)?.intValue ?? 0
    let mtime = (attrs[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    func mix(_ s: String) { for b in s.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01B3 } }
    mix(URL(fileURLWithPath: path).standardizedFileURL.path); mix("\(size) \(mtime) \(data.count)")
    for (i, y) in data.labels.enumerated() where i % 97 == 0 { mix("\(i):\(y)") }
    data.pixels.withUnsafeBufferPointer { p in for i in stride(from: 0, to: p.count, by: 7919) { mix("\(p[i].bitPattern)") } }
    let file = "\(dir)/logits-\(String(h, radix: 16)).safetensors"
    if let cached = try? SafeTensors.read(from: file), let t = cached[name: "logits"], let v = try? t.floats(),
       v.count == data.count * model.outputFeatures {
        return v
    }
    let logits = Evaluation.logits(model, on: data)
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    let entry = SafeTensors(tensors: [SafeTensors.Tensor(name: "logits", shape: [data.count, model.outputFeatures], floats: logits)],
                            metadata: ["teacher": path])
    do { try entry.write(to: file) } catch { print("warning: could not cache logits: \(error)") }
    return logits
}
