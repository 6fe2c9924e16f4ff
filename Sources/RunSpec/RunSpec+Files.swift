import Foundation

extension RunSpec {
    /// Reads and parses the file at `path`; messages name the file by its last path component.
    /// Paths inside stay as written (see ``resolvingPaths(relativeTo:)``).
    public init(contentsOfFile path: String) throws(RunSpecErrors) {
        let fileName = URL(fileURLWithPath: path).lastPathComponent
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw RunSpecErrors(fileName: fileName, errors: [RunSpecError(
                field: "", message: "cannot read '\(path)' as UTF-8 text: \(error.localizedDescription)")])
        }
        try self.init(yaml: text, fileName: fileName)
    }

    /// The spec with relative paths — teachers' checkpoints and ONNX files, `dataset.path` — made
    /// absolute against `directory` (the directory of the spec file). Absolute paths and
    /// every other field are unchanged.
    public func resolvingPaths(relativeTo directory: String) -> RunSpec {
        var copy = self
        copy.dataset.path = RunSpec.resolve(dataset.path, against: directory)
        copy.teachers = teachers.map { teacher in
            var t = teacher
            if case .checkpoint(let p) = teacher.source { t.source = .checkpoint(path: RunSpec.resolve(p, against: directory)) }
            if case .onnx(let p) = teacher.source { t.source = .onnx(path: RunSpec.resolve(p, against: directory)) }
            return t
        }
        return copy
    }

    /// The spec of the file at `file` with relative paths made absolute against the file's own
    /// directory — the rule for paths in a spec file (docs/PROTOCOL.md "Submit"), applied by
    /// the client that reads the file (`distillery submit`), since only it knows where the file
    /// is. A relative `file` is taken against `currentDirectory` (the client's working directory).
    public func resolvingPaths(ofFile file: String,
                               currentDirectory: String = FileManager.default.currentDirectoryPath) -> RunSpec {
        let absoluteFile = RunSpec.resolve(file, against: currentDirectory)
        let directory = URL(fileURLWithPath: absoluteFile).deletingLastPathComponent().path
        return resolvingPaths(relativeTo: directory)
    }

    /// Paths the coordinator cannot place: relative ones. A submitted spec (`SubmitRun.spec_yaml`)
    /// has no directory of its own, and the coordinator's working directory means nothing to the
    /// client, so the coordinator takes only absolute paths (on its own machine) and names each
    /// relative one: `dataset.path`, `teachers[i].checkpoint`.
    public func relativePathProblems() -> [RunSpecError] {
        let advice = "a submitted spec has no directory of its own, so the coordinator takes only absolute paths "
            + "(on its machine); write it absolute, or resolve it against the spec file's directory before sending, "
            + "as `distillery submit` does"
        var problems: [RunSpecError] = []
        if !dataset.path.isEmpty, !dataset.path.hasPrefix("/") {
            problems.append(RunSpecError(field: "dataset.path", message: "'\(dataset.path)' is a relative path; \(advice)"))
        }
        for (i, teacher) in teachers.enumerated() {
            if case .checkpoint(let path) = teacher.source, !path.hasPrefix("/") {
                problems.append(RunSpecError(field: "teachers[\(i)].checkpoint", message: "'\(path)' is a relative path; \(advice)"))
            }
            if case .onnx(let path) = teacher.source, !path.hasPrefix("/") {
                problems.append(RunSpecError(field: "teachers[\(i)].onnx", message: "'\(path)' is a relative path; \(advice)"))
            }
        }
        return problems
    }

    static func resolve(_ path: String, against directory: String) -> String {
        guard !path.isEmpty, !path.hasPrefix("/") else { return path }
        let base = URL(fileURLWithPath: directory.isEmpty ? "." : directory, isDirectory: true)
        return URL(fileURLWithPath: path, relativeTo: base).standardizedFileURL.path
    }

    /// Checks on the machine that reads the data (the coordinator): the dataset files exist
    /// and are readable. Each problem names the field ("dataset.path") and the missing file.
    ///
    /// Every IDX file of the data set (Fashion-MNIST: train and t10k images and labels) must
    /// be in `dataset.path` as `STEM.gz` or `STEM`; like the data set reader, the `.gz` file
    /// is the one read when both exist. A relative `dataset.path` would be taken relative to
    /// the working directory: the coordinator refuses those first (``relativePathProblems()``).
    public func datasetProblems() -> [RunSpecError] {
        if dataset.format == .npz { return fileProblems(dataset.path, field: "dataset.path", what: "an .npz file") }
        guard let facts = dataset.knownFacts else {
            return [RunSpecError(field: "dataset.name", message: "must be \(Rules.datasetName), got '\(dataset.name)'")]
        }
        let fm = FileManager.default
        let dir = dataset.path
        let hint = "install the data with Scripts/setup or the Debian package dataset-fashion-mnist (into \(DatasetSpec.defaultPath))"
        var isDirectory: ObjCBool = false
        guard !dir.isEmpty, fm.fileExists(atPath: dir, isDirectory: &isDirectory) else {
            return [RunSpecError(field: "dataset.path", message: "directory '\(dir)' does not exist; \(hint)")]
        }
        guard isDirectory.boolValue else {
            return [RunSpecError(field: "dataset.path", message: "'\(dir)' is not a directory; it must hold the \(dataset.name) IDX files")]
        }
        let base = URL(fileURLWithPath: dir, isDirectory: true)
        var problems: [RunSpecError] = []
        for stem in facts.fileStems {
            let gz = base.appendingPathComponent(stem + ".gz").path
            let raw = base.appendingPathComponent(stem).path
            guard let file = [gz, raw].first(where: { fm.fileExists(atPath: $0) }) else {
                problems.append(RunSpecError(field: "dataset.path", message: "missing \(stem).gz (or \(stem)) in '\(dir)'; \(hint)"))
                continue
            }
            var fileIsDirectory: ObjCBool = false
            _ = fm.fileExists(atPath: file, isDirectory: &fileIsDirectory)
            if fileIsDirectory.boolValue {
                problems.append(RunSpecError(field: "dataset.path", message: "'\(file)' is a directory, not an IDX file"))
            } else if !fm.isReadableFile(atPath: file) {
                problems.append(RunSpecError(field: "dataset.path", message: "cannot read '\(file)'; check its permissions"))
            } else if let size = (try? fm.attributesOfItem(atPath: file))?[.size] as? NSNumber, size.intValue == 0 {
                problems.append(RunSpecError(field: "dataset.path", message: "'\(file)' is empty; download it again (Scripts/setup)"))
            }
        }
        return problems
    }

    /// Checks on the coordinator that every checkpoint teacher's file exists and is
    /// readable (relative paths against the working directory: resolve them first). Field
    /// paths use the indices of the expanded teacher list.
    public func checkpointProblems() -> [RunSpecError] {
        var problems: [RunSpecError] = []
        for (i, teacher) in teachers.enumerated() {
            switch teacher.source {
            case .checkpoint(let path): problems += fileProblems(path, field: "teachers[\(i)].checkpoint", what: "a checkpoint file")
            case .onnx(let path): problems += fileProblems(path, field: "teachers[\(i)].onnx", what: "an ONNX model file")
            case .train: break
            }
        }
        return problems
    }

    /// The file at `path` exists, is a file and is readable; else the problem at `field`.
    func fileProblems(_ path: String, field: String, what: String) -> [RunSpecError] {
        var isDirectory: ObjCBool = false
        if !FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            return [RunSpecError(field: field, message: "file '\(path)' does not exist")]
        } else if isDirectory.boolValue {
            return [RunSpecError(field: field, message: "'\(path)' is a directory, not \(what)")]
        } else if !FileManager.default.isReadableFile(atPath: path) {
            return [RunSpecError(field: field, message: "cannot read '\(path)'; check its permissions")]
        }
        return []
    }
}
