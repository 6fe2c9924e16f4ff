import Foundation
import Testing

/// `distillery submit` resolves a spec's relative paths against the spec file's directory,
/// from whatever directory it is run in, and the coordinator (another process, another working
/// directory) finds the files (docs/PROTOCOL.md "Submit", Cluster/runs/README.md "Paths").
/// No worker is needed: the run is refused for placement, and the test looks at which fields
/// were refused.
@Suite(.serialized) struct SubmitPathsProcessTests {
    /// Runs the CLI in `directory` (its working directory), killed after `timeout` seconds.
    func distillery(_ args: [String], in directory: URL, timeout: TimeInterval = 60) throws -> Run {
        let p = Process()
        p.executableURL = binary
        p.arguments = args
        p.currentDirectoryURL = directory
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let deadline = Date().addingTimeInterval(timeout)
        while p.isRunning && Date() < deadline { usleep(20_000) }
        if p.isRunning { p.terminate(); p.waitUntilExit(); throw CLITimeout(args: args) }
        p.waitUntilExit()
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        return Run(status: p.terminationStatus, out: String(decoding: o, as: UTF8.self), err: String(decoding: e, as: UTF8.self))
    }

    @Test func relativePathsAreTheSpecFilesNotTheWorkingDirectorys() throws {
        let dir = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let runs = dir.appendingPathComponent("project/runs"), elsewhere = dir.appendingPathComponent("elsewhere")
        try FileManager.default.createDirectory(at: runs.appendingPathComponent("data"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: elsewhere, withIntermediateDirectories: true)
        for stem in ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"] {
            try Data([1, 2, 3]).write(to: runs.appendingPathComponent("data/\(stem)"))
        }
        func spec(_ path: String) -> String {
            """
            name: paths
            dataset: { path: \(path), train-limit: 600, validation: 100 }
            teachers: [{ model: "mlp:784-16-10", train: {} }]
            student: { model: "mlp:784-8-10" }
            training: { batch: 50 }
            """
        }
        try spec("data").write(to: runs.appendingPathComponent("good.yaml"), atomically: true, encoding: .utf8)
        try spec("missing").write(to: runs.appendingPathComponent("bad.yaml"), atomically: true, encoding: .utf8)

        let address = "tcp://127.0.0.1:\(freePort())"
        // The coordinator runs in yet another directory (its state directory's parent).
        let coord = try Node(["coordinator", "--listen", address, "--state-dir", dir.appendingPathComponent("state").path],
                             log: dir.appendingPathComponent("coordinator.log"))
        defer { coord.kill() }
        var good = Run(status: -1, out: "", err: "")
        let answered = try eventually(timeout: 20) {
            good = try distillery(["submit", "../project/runs/good.yaml", "--coordinator", address, "--timeout", "2"], in: elsewhere)
            return good.err.contains("refused")
        }
        #expect(answered, "no answer from the coordinator: \(good.err)\n\(coord.output)")
        // Refused only because no worker can take it: the data set was found.
        #expect(good.status != 0)
        #expect(!good.err.contains("dataset.path"), "\(good.err)")
        // A path missing next to the spec file is reported as the absolute path it resolved to.
        let bad = try distillery(["submit", "../project/runs/bad.yaml", "--coordinator", address, "--timeout", "5"], in: elsewhere)
        #expect(bad.status != 0)
        let resolved = runs.appendingPathComponent("missing").standardizedFileURL.path
        #expect(bad.err.contains("dataset.path") && bad.err.contains(resolved), "\(bad.err)")
        #expect(!bad.err.contains("elsewhere/missing"))
    }
}
