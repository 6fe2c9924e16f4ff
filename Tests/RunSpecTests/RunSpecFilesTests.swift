import Foundation
import Testing
@testable import RunSpec

@Suite("RunSpec: files on the coordinator")
struct RunSpecFilesTests {
    /// A fresh directory, removed after `body`.
    func withTemporaryDirectory(_ body: (URL) throws -> Void) throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("runspec-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try body(dir)
    }

    func spec(datasetPath: String) throws -> RunSpec {
        var spec = try RunSpec(yaml: baseYAML)
        spec.dataset.path = datasetPath
        return spec
    }

    @Test("the IDX files may be .gz or raw; each missing one is named")
    func datasetFiles() throws {
        try withTemporaryDirectory { dir in
            let stems = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]
            let names = [stems[0] + ".gz", stems[1], stems[2] + ".gz", stems[3]]
            for name in names { try Data([1, 2, 3]).write(to: dir.appendingPathComponent(name)) }
            let spec = try spec(datasetPath: dir.path)
            #expect(spec.datasetProblems() == [])

            try FileManager.default.removeItem(at: dir.appendingPathComponent(names[1]))
            try FileManager.default.removeItem(at: dir.appendingPathComponent(names[2]))
            let found = spec.datasetProblems()
            #expect(found.map(\.field) == ["dataset.path", "dataset.path"])
            #expect(found[0].message.hasPrefix("missing train-labels-idx1-ubyte.gz (or train-labels-idx1-ubyte) in '\(dir.path)'"))
            #expect(found[1].message.hasPrefix("missing t10k-images-idx3-ubyte.gz (or t10k-images-idx3-ubyte) in '\(dir.path)'"))
            #expect(found[0].message.contains("Scripts/setup"))

            // An empty file is a problem; a directory in place of a file is one too.
            try Data().write(to: dir.appendingPathComponent(names[1]))
            try FileManager.default.createDirectory(at: dir.appendingPathComponent(stems[2]), withIntermediateDirectories: false)
            let again = spec.datasetProblems()
            #expect(again.count == 2)
            #expect(again[0].message.hasSuffix("is empty; download it again (Scripts/setup)"))
            #expect(again[1].message.hasSuffix("is a directory, not an IDX file"))
        }
    }

    @Test("a missing data directory, or a file in its place, is one problem")
    func datasetDirectory() throws {
        try withTemporaryDirectory { dir in
            let missing = try spec(datasetPath: dir.appendingPathComponent("nope").path).datasetProblems()
            #expect(missing.count == 1)
            #expect(missing.first?.field == "dataset.path")
            #expect(missing.first?.message.hasPrefix("directory '\(dir.path)/nope' does not exist") == true)

            let file = dir.appendingPathComponent("file")
            try Data([0]).write(to: file)
            let notDirectory = try spec(datasetPath: file.path).datasetProblems()
            #expect(notDirectory.map(\.message) == ["'\(file.path)' is not a directory; it must hold the fashion-mnist IDX files"])
        }
    }

    @Test("relative paths are kept as written and resolved on request")
    func resolvingPaths() throws {
        let spec = try RunSpec(yaml: base(line: 2, "dataset: { path: data/fmnist, train-limit: 2000, validation: 500 }"))
        #expect(spec.dataset.path == "data/fmnist")
        #expect(spec.teachers[3].source == .checkpoint(path: "teachers/cnn.safetensors"))

        let resolved = spec.resolvingPaths(relativeTo: "/srv/runs")
        #expect(resolved.dataset.path == "/srv/runs/data/fmnist")
        #expect(resolved.teachers[3].source == .checkpoint(path: "/srv/runs/teachers/cnn.safetensors"))
        #expect(Array(resolved.teachers.prefix(3)) == Array(spec.teachers.prefix(3)))
        #expect(resolved.training == spec.training)

        var absolute = spec
        absolute.teachers[3].source = .checkpoint(path: "/abs/t.safetensors")
        absolute.dataset.path = "/abs/data"
        #expect(absolute.resolvingPaths(relativeTo: "/srv") == absolute)
        #expect(RunSpec.resolve("../up/t.st", against: "/srv/runs/") == "/srv/up/t.st")
        #expect(RunSpec.resolve("./t.st", against: "/srv") == "/srv/t.st")
    }

    @Test("checkpoint files are checked where the coordinator reads them")
    func checkpoints() throws {
        try withTemporaryDirectory { dir in
            let present = dir.appendingPathComponent("t.safetensors")
            try Data([1]).write(to: present)
            var spec = try RunSpec(yaml: baseYAML)
            spec.teachers[3].source = .checkpoint(path: "t.safetensors")
            #expect(spec.resolvingPaths(relativeTo: dir.path).checkpointProblems() == [])
            spec.teachers[3].source = .checkpoint(path: "gone.safetensors")
            let found = spec.resolvingPaths(relativeTo: dir.path).checkpointProblems()
            #expect(found == [RunSpecError(field: "teachers[3].checkpoint", message: "file '\(dir.path)/gone.safetensors' does not exist")])
        }
    }

    @Test("a spec file is read with its name in the messages")
    func contentsOfFile() throws {
        try withTemporaryDirectory { dir in
            let file = dir.appendingPathComponent("mine.yaml")
            try baseYAML.write(to: file, atomically: true, encoding: .utf8)
            #expect(try RunSpec(contentsOfFile: file.path) == RunSpec(yaml: baseYAML))

            try base(line: 12, "replicas: 0").write(to: file, atomically: true, encoding: .utf8)
            #expect(throws: RunSpecErrors.self) { try RunSpec(contentsOfFile: file.path) }
            do throws(RunSpecErrors) {
                _ = try RunSpec(contentsOfFile: file.path)
            } catch {
                #expect(error.fileName == "mine.yaml")
                #expect(error.errors.map(\.field) == ["replicas"])
            }
            do throws(RunSpecErrors) {
                _ = try RunSpec(contentsOfFile: dir.appendingPathComponent("absent.yaml").path)
                Issue.record("expected an error")
            } catch {
                #expect(error.fileName == "absent.yaml")
                #expect(error.errors.first?.message.hasPrefix("cannot read") == true)
            }
        }
    }
}
