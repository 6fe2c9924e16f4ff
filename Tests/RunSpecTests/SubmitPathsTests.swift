import Foundation
import Testing
@testable import RunSpec

/// The one rule for paths in a spec (docs/PROTOCOL.md "Submit", Cluster/runs/README.md
/// "Paths"): in a spec file they are relative to the file's directory, and the client that
/// reads the file makes them absolute; a submitted spec has no directory, so the coordinator
/// takes only absolute paths and names every relative one.
@Suite("RunSpec: paths of a submitted spec")
struct SubmitPathsTests {
    @Test("distillery submit resolves against the spec file's directory, whatever its working directory")
    func resolvedAgainstTheFileNotTheWorkingDirectory() throws {
        let spec = try RunSpec(yaml: base(line: 2, "dataset: { path: data/fmnist, train-limit: 2000, validation: 500 }"))
        // `distillery submit runs/mine.yaml` run from /home/u: the file is /home/u/runs/mine.yaml.
        let fromHome = spec.resolvingPaths(ofFile: "runs/mine.yaml", currentDirectory: "/home/u")
        #expect(fromHome.dataset.path == "/home/u/runs/data/fmnist")
        #expect(fromHome.teachers[3].source == .checkpoint(path: "/home/u/runs/teachers/cnn.safetensors"))
        // The same file named from another working directory gives the same paths.
        let fromRuns = spec.resolvingPaths(ofFile: "mine.yaml", currentDirectory: "/home/u/runs")
        let fromElsewhere = spec.resolvingPaths(ofFile: "../u/runs/./mine.yaml", currentDirectory: "/home/other")
        let absoluteFile = spec.resolvingPaths(ofFile: "/home/u/runs/mine.yaml", currentDirectory: "/tmp")
        #expect(fromRuns == fromHome && fromElsewhere == fromHome && absoluteFile == fromHome)
        #expect(fromHome.relativePathProblems() == [])
        // Not the working directory: that is what the coordinator used to do.
        #expect(fromHome.dataset.path != "/home/u/data/fmnist")
    }

    @Test("the coordinator names every relative path and takes absolute ones")
    func relativePathsAreNamed() throws {
        let spec = try RunSpec(yaml: base(line: 2, "dataset: { path: data/fmnist, train-limit: 2000, validation: 500 }"))
        let found = spec.relativePathProblems()
        #expect(found.map(\.field) == ["dataset.path", "teachers[3].checkpoint"])
        #expect(found[0].message.hasPrefix("'data/fmnist' is a relative path; a submitted spec has no directory of its own"))
        #expect(found[1].message.contains("'teachers/cnn.safetensors' is a relative path"))
        #expect(found.allSatisfy { $0.message.contains("as `distillery submit` does") })
        // The default data set path is absolute; so is everything after resolving.
        var absolute = try RunSpec(yaml: baseYAML)
        absolute.teachers[3].source = .checkpoint(path: "/srv/t.safetensors")
        #expect(absolute.relativePathProblems() == [])
        #expect(spec.resolvingPaths(relativeTo: "/srv").relativePathProblems() == [])
    }

    @Test("a real spec file submitted from another working directory finds its data")
    func realFileFromAnotherDirectory() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("paths-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        let stems = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]
        try FileManager.default.createDirectory(atPath: "\(root)/project/runs/data", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: "\(root)/elsewhere", withIntermediateDirectories: true)
        for stem in stems { try Data([1, 2, 3]).write(to: URL(fileURLWithPath: "\(root)/project/runs/data/\(stem)")) }
        let spec = try RunSpec(yaml: base(line: 2, "dataset: { path: data, train-limit: 2000, validation: 500 }"))
        let resolved = spec.resolvingPaths(ofFile: "../project/runs/spec.yaml", currentDirectory: "\(root)/elsewhere")
        #expect(resolved.dataset.path == "\(root)/project/runs/data")
        #expect(resolved.datasetProblems() == [])
        // Taken against the working directory instead, the data would be missing.
        let wrong = spec.resolvingPaths(relativeTo: "\(root)/elsewhere")
        #expect(wrong.datasetProblems().map(\.field) == ["dataset.path"])
    }
}
