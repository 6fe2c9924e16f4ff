#if canImport(Glibc)
import Glibc
#endif
import Foundation
import NN
import Training

/// Draws a progress bar on stderr while training (redrawn in place on a terminal, at most
/// every 100 ms), and one summary line per epoch on stdout.
final class ProgressPrinter: TrainingObserver {
    let label: String
    let epochs: Int
    let interactive = isatty(2) != 0
    private var lastDraw: UInt64 = 0

    init(label: String, epochs: Int) { self.label = label; self.epochs = epochs }

    func stepCompleted(epoch: Int, step: Int, of steps: Int, loss: Float) {
        guard interactive else { return }
        let now = DispatchTime.now().uptimeNanoseconds
        guard step == steps || now - lastDraw > 100_000_000 else { return }
        lastDraw = now
        let width = 30, filled = width * step / max(steps, 1)
        let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
        let line = "\r\(label) epoch \(epoch + 1)/\(epochs) \(bar) \(step)/\(steps) loss \(fmt(loss, 4))"
        FileHandle.standardError.write(line.data(using: .utf8)!)
    }

    func epochCompleted(_ r: EpochReport) {
        if interactive { FileHandle.standardError.write("\r\u{1B}[K".data(using: .utf8)!) }
        // Long runs print about 20 epoch lines (and always the first and the last).
        let every = max(1, (epochs + 19) / 20)
        guard r.epoch == 0 || (r.epoch + 1) % every == 0 || r.epoch + 1 == epochs else { return }
        var line = "\(label) epoch \(r.epoch + 1)/\(epochs)  loss \(fmt(r.trainLoss, 4))  train acc \(pct(r.trainAccuracy))"
        if let v = r.validation { line += "  val loss \(fmt(v.loss, 4))  val acc \(pct(v.accuracy))" }
        line += "  \(Int(r.samplesPerSecond)) samples/s  lr \(fmt(r.learningRate, 5))  \(fmt(Float(r.seconds), 1))s"
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

func fmt(_ x: Float, _ digits: Int) -> String { String(format: "%.\(digits)f", Double(x)) }
func fmt(_ x: Double, _ digits: Int) -> String { String(format: "%.\(digits)f", x) }
func pct(_ x: Float) -> String { String(format: "%.2f%%", Double(x) * 100) }

/// Left-aligned text table.
func table(_ header: [String], _ rows: [[String]]) -> String {
    let all = [header] + rows
    let widths = (0..<header.count).map { c in all.map { $0[c].count }.max()! }
    func line(_ r: [String]) -> String {
        zip(r, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }.joined(separator: "  ")
    }
    let rule = widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")
    return ([line(header), rule] + rows.map(line)).joined(separator: "\n")
}

func humanCount(_ n: Int) -> String {
    if n >= 1_000_000 { return String(format: "%.2fM", Double(n) / 1e6) }
    if n >= 1_000 { return String(format: "%.1fK", Double(n) / 1e3) }
    return "\(n)"
}

func humanBytes(_ n: Int) -> String {
    if n >= 1 << 20 { return String(format: "%.2f MiB", Double(n) / Double(1 << 20)) }
    if n >= 1 << 10 { return String(format: "%.1f KiB", Double(n) / 1024) }
    return "\(n) B"
}
