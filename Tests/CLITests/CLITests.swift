import Foundation
import Testing

/// The directory of the built executables (next to the test bundle).
let buildDirectory: URL = {
    var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    if dir.pathExtension == "xctest" { dir = dir.deletingLastPathComponent() }
    return dir
}()

/// The built `distillery` executable.
let binary = buildDirectory.appendingPathComponent("distillery")

/// The built `distillery-bench` executable (the benchmarks, apart from the product CLI).
let benchBinary = buildDirectory.appendingPathComponent("distillery-bench")

let dataAvailable = FileManager.default.fileExists(atPath: "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz")
    || ProcessInfo.processInfo.environment["DISTILLERY_DATA_DIR"] != nil

struct Run { var status: Int32; var out: String; var err: String }

/// Runs the CLI with a time limit (the process is killed after `timeout` seconds).
func distillery(_ args: [String], timeout: TimeInterval = 120) throws -> Run {
    try run(binary, args, timeout: timeout)
}

/// Runs `executable` with a time limit (the process is killed after `timeout` seconds).
func run(_ executable: URL, _ args: [String], timeout: TimeInterval = 120, environment: [String: String] = [:]) throws -> Run {
    let p = Process()
    p.executableURL = executable
    p.arguments = args
    if !environment.isEmpty { p.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new } }
    let out = Pipe(), err = Pipe()
    p.standardOutput = out; p.standardError = err
    try p.run()
    let deadline = Date().addingTimeInterval(timeout)
    // Drain the pipes while waiting, so a chatty child cannot block on a full pipe.
    var outData = Data(), errData = Data()
    let group = DispatchGroup()
    let q = DispatchQueue(label: "drain", attributes: .concurrent)
    nonisolated(unsafe) var o = Data(), e = Data()
    group.enter(); q.async { o = out.fileHandleForReading.readDataToEndOfFile(); group.leave() }
    group.enter(); q.async { e = err.fileHandleForReading.readDataToEndOfFile(); group.leave() }
    while p.isRunning && Date() < deadline { usleep(20_000) }
    if p.isRunning { p.terminate(); p.waitUntilExit(); throw CLITimeout(args: args) }
    p.waitUntilExit()
    group.wait()
    outData = o; errData = e
    return Run(status: p.terminationStatus, out: String(decoding: outData, as: UTF8.self), err: String(decoding: errData, as: UTF8.self))
}

struct CLITimeout: Error { let args: [String] }

func scratchDirectory() throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("distillery-cli-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir
}

/// The artifacts directory of run `short` ("run-2") under a coordinator's state directory
/// `dir/state`: run ids are "run-2-xxxxxxxx" (a random part), so it is found by its prefix.
func artifactsDirectory(_ dir: URL, run short: String) -> URL {
    let parent = dir.appendingPathComponent("state/artifacts")
    let names = (try? FileManager.default.contentsOfDirectory(atPath: parent.path)) ?? []
    let name = names.first { $0.hasPrefix(short + "-") } ?? short
    return parent.appendingPathComponent(name)
}

/// `text` with every run id "run-2-xxxxxxxx" written as "run-2", for tests that look for
/// a run's lines by the number it has in the test.
func shortRunIDs(_ text: String) -> String {
    text.replacingOccurrences(of: #"\b(run-[0-9]+)-[a-z2-9]{8}\b"#, with: "$1", options: .regularExpression)
}

let small = ["--train-limit", "1500", "--test-limit", "500", "--validation", "300"]

@Suite(.enabled(if: dataAvailable, "Fashion-MNIST is not installed: run Scripts/setup"))
struct CLIEndToEndTests {
    @Test func trainEvalInspect() throws {
        let dir = try scratchDirectory()
        let ckpt = dir.appendingPathComponent("m.safetensors").path
        let t = try distillery(["train", "--model", "mlp:784-64-10", "--epochs", "2", "--seed", "3", "--out", ckpt] + small)
        #expect(t.status == 0, "\(t.err)")
        #expect(t.out.contains("epoch 2/2"))
        let acc = try #require(t.out.split(separator: "\n").first { $0.hasPrefix("test loss") })
        #expect(FileManager.default.fileExists(atPath: ckpt))

        let e = try distillery(["eval", ckpt, "--test-limit", "500"])
        #expect(e.status == 0, "\(e.err)")
        // The checkpoint carries its normalisation, so eval reproduces the training run's figure.
        #expect(e.out.contains(String(acc)), "eval: \(e.out) train: \(acc)")

        let i = try distillery(["inspect", ckpt])
        #expect(i.status == 0)
        #expect(i.out.contains("parameters 50890"))
        #expect(i.out.contains("Linear"))
        #expect(i.out.contains("FLOPs"))
        #expect(i.out.contains("epoch: 2/2"))
        #expect(i.out.contains("complete: true"))
    }

    @Test func distilWithBaselinePrintsBothAndWritesReport() throws {
        let dir = try scratchDirectory()
        var teachers: [String] = []
        for s in 1...2 {
            let path = dir.appendingPathComponent("t\(s).safetensors").path
            let r = try distillery(["train", "--model", "mlp:784-128-10", "--epochs", "1", "--seed", "\(s)", "--out", path] + small)
            #expect(r.status == 0, "\(r.err)")
            teachers.append(path)
        }
        let student = dir.appendingPathComponent("s.safetensors").path
        let report = dir.appendingPathComponent("report.json").path
        let d = try distillery(["distill", "--teachers", teachers.joined(separator: ","), "--student", "mlp:784-16-10",
                                "--temperature", "4", "--alpha", "0.9", "--ensemble", "ebkd", "--epochs", "2",
                                "--out", student, "--baseline", "--report", report] + small)
        #expect(d.status == 0, "\(d.err)")
        #expect(d.out.contains("student (distilled)"))
        #expect(d.out.contains("student (from scratch)"))
        #expect(d.out.contains("distillation gain over scratch"))
        #expect(d.out.contains("baseline epoch 2/2"), "the baseline shows its progress too")
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: report))) as? [String: Any]
        let s = try #require(json?["student"] as? [String: Any])
        #expect((s["parameters"] as? Int) == 784 * 16 + 16 + 16 * 10 + 10)
        #expect((json?["teachers"] as? [Any])?.count == 2)
        let i = try distillery(["inspect", student])
        #expect(i.out.contains("distilled_from"))
    }

    /// A second run with the same teachers and data reads the cached logits and gives the same student.
    @Test func logitsCacheIsReusedAndGivesTheSameStudent() throws {
        let dir = try scratchDirectory()
        let t = dir.appendingPathComponent("t.safetensors").path
        #expect(try distillery(["train", "--model", "mlp:784-32-10", "--epochs", "1", "--out", t] + small).status == 0)
        let cache = dir.appendingPathComponent("cache").path
        var outputs: [String] = []
        for run in 1...2 {
            let s = dir.appendingPathComponent("s\(run).safetensors").path
            let r = try distillery(["distill", "--teachers", t, "--student", "mlp:784-16-10", "--epochs", "1",
                                    "--logits-cache", cache, "--out", s] + small)
            #expect(r.status == 0, "\(r.err)")
            outputs.append(try #require(r.out.split(separator: "\n").first { $0.hasPrefix("student (distilled)") }).description)
        }
        #expect(outputs[0] == outputs[1])
        let entries = try FileManager.default.contentsOfDirectory(atPath: cache)
        #expect(entries.count == 1 && entries[0].hasPrefix("logits-"), "\(entries)")
    }

    @Test func semiSupervisedRunUsesOnlyAFractionOfLabels() throws {
        let dir = try scratchDirectory()
        let t = dir.appendingPathComponent("t.safetensors").path
        #expect(try distillery(["train", "--model", "mlp:784-64-10", "--epochs", "1", "--out", t] + small).status == 0)
        let d = try distillery(["distill", "--teachers", t, "--student", "mlp:784-16-10", "--epochs", "1", "--label-fraction", "0.1",
                                "--out", dir.appendingPathComponent("s.safetensors").path, "--baseline"] + small)
        #expect(d.status == 0, "\(d.err)")
        #expect(d.out.contains("labels visible for 120 of 1200 images"), "\(d.out)")
        #expect(d.out.contains("same student from scratch on 120 labelled images"))
    }
}

@Suite struct CLIErrorTests {
    @Test func badModelSpecIsExplained() throws {
        let r = try distillery(["train", "--model", "mlp:784-x-10", "--out", "/tmp/never.safetensors"], timeout: 30)
        #expect(r.status != 0)
        #expect(r.err.contains("layer size 'x'"))
        #expect(r.err.contains("allowed:"))
    }

    @Test func missingCheckpointNamesTheFile() throws {
        let r = try distillery(["eval", "/nonexistent/model.safetensors"], timeout: 30)
        #expect(r.status != 0)
        #expect(r.err.contains("/nonexistent/model.safetensors"))
    }

    @Test func missingDataDirectoryNamesItAndSaysWhatToDo() throws {
        let r = try distillery(["train", "--model", "mlp:784-10", "--out", "/tmp/never.safetensors", "--data-dir", "/nonexistent-data"], timeout: 30)
        #expect(r.status != 0)
        #expect(r.err.contains("/nonexistent-data"))
        #expect(r.err.contains("Scripts/setup") || r.err.contains("dataset-fashion-mnist"))
    }

    @Test func badDistillationSettingsAreRejected() throws {
        let r = try distillery(["distill", "--teachers", "a", "--student", "mlp:784-10", "--temperature", "0", "--out", "/tmp/x"], timeout: 30)
        #expect(r.status != 0)
        #expect(r.err.contains("temperature"))
        let e = try distillery(["distill", "--teachers", "a,b", "--student", "mlp:784-10", "--ensemble", "weighted:1/2/3", "--out", "/tmp/x"], timeout: 30)
        #expect(e.status != 0)
        #expect(e.err.contains("3 weights for 2 teachers"))
    }

    @Test func inspectOfASpecNeedsNoFile() throws {
        let r = try distillery(["inspect", "cnn:1x28x28-c32-p2-c64-p2-fc256-fc10,bn"], timeout: 30)
        #expect(r.status == 0, "\(r.err)")
        #expect(r.out.contains("Conv2D"))
        #expect(r.out.contains("BatchNorm2D"))
    }
}
