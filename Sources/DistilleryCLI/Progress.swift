#if canImport(Glibc)
import Glibc
#endif
import CLIOutput
import Clocks
import ClusterCore
import Foundation
import NN
import Training

/// Draws a progress bar on stderr while training (redrawn in place on a terminal, at most
/// every 100 ms), and one summary line per epoch on stdout.
final class ProgressPrinter: TrainingObserver {
    let label: String
    let epochs: Int
    let interactive = isatty(2) != 0
    private let clock: any RuntimeClock = SystemRuntimeClock()
    private var lastDraw: ClockInstant?

    init(label: String, epochs: Int) { self.label = label; self.epochs = epochs }

    func stepCompleted(epoch: Int, step: Int, of steps: Int, loss: Float) {
        guard interactive else { return }
        let now = clock.instant()
        guard step == steps || lastDraw.map({ now - $0 > .milliseconds(100) }) ?? true else { return }
        lastDraw = now
        let bar = ProgressBar(width: 30).render(done: step, of: steps)
        let line = "\r\(label) epoch \(epoch + 1)/\(epochs) \(bar) \(step)/\(steps) loss \(Format.fixed(loss, 4))"
        FileHandle.standardError.write(line.data(using: .utf8)!)
    }

    func epochCompleted(_ r: EpochReport) {
        if interactive { FileHandle.standardError.write("\r\u{1B}[K".data(using: .utf8)!) }
        // Long runs print about 20 epoch lines (and always the first and the last).
        let every = max(1, (epochs + 19) / 20)
        guard r.epoch == 0 || (r.epoch + 1) % every == 0 || r.epoch + 1 == epochs else { return }
        var line = "\(label) epoch \(r.epoch + 1)/\(epochs)  loss \(Format.fixed(r.trainLoss, 4))  train acc \(Format.percent(r.trainAccuracy))"
        if let v = r.validation { line += "  val loss \(Format.fixed(v.loss, 4))  val acc \(Format.percent(v.accuracy))" }
        line += "  \(Int(r.samplesPerSecond)) samples/s  lr \(Format.fixed(r.learningRate, 5))  \(Duration.seconds(r.seconds).shortDescription)"
        print(line)
        fflush(nil)
    }
}

/// Writes the model to `path` after every epoch (atomically), so a crash or Ctrl-C loses at
/// most one epoch; the metadata says `complete = false` and which epoch it holds until the
/// final write of the command replaces it. Forwards progress to `next`.
final class EpochCheckpointer: TrainingObserver {
    let next: any TrainingObserver
    let path: String
    let model: Sequential
    let spec: ModelSpec
    let metadata: [String: String]
    let epochs: Int

    init(next: any TrainingObserver, path: String, model: Sequential, spec: ModelSpec, metadata: [String: String], epochs: Int) {
        self.next = next; self.path = path; self.model = model; self.spec = spec; self.metadata = metadata; self.epochs = epochs
    }

    func stepCompleted(epoch: Int, step: Int, of steps: Int, loss: Float) {
        next.stepCompleted(epoch: epoch, step: step, of: steps, loss: loss)
    }

    func epochCompleted(_ r: EpochReport) {
        next.epochCompleted(r)
        var meta = metadata
        meta["complete"] = "false"
        meta["epoch"] = "\(r.epoch + 1)/\(epochs)"
        if let v = r.validation { meta["validation.accuracy"] = String(v.accuracy) }
        do { try ModelCheckpoint(model: model, spec: spec, metadata: meta).write(to: path) } catch {
            FileHandle.standardError.write("warning: could not write the epoch checkpoint: \(error)\n".data(using: .utf8)!)
        }
    }
}
