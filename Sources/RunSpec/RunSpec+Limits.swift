extension RunSpec {
    /// The largest run spec anyone accepts, in UTF-8 bytes of YAML: 256 KiB. Real specs are a
    /// few hundred bytes to a few KiB (32 teachers written out are under 16 KiB); the limit
    /// keeps what a client sends from occupying the coordinator. The CLI refuses a bigger file
    /// before sending it, and the coordinator refuses a bigger `spec_yaml` unread.
    public static let maxYAMLBytes = 256 * 1024

    /// Why a spec of `bytes` bytes is refused (the size and the limit, and what to do).
    public static func sizeProblem(bytes: Int) -> String {
        "the run spec is \(bytes) bytes; at most \(maxYAMLBytes) bytes (256 KiB) are accepted — a run spec is a "
            + "short YAML file (Cluster/runs/ has examples); is this the right file?"
    }

    /// Most problems reported for one spec. A spec with thousands of mistakes (40,000 unknown
    /// keys) would otherwise produce a reply as large as itself; the first problems, by line,
    /// are the ones to fix first anyway.
    public static let maxReportedProblems = 50

    /// `errors` cut to ``maxReportedProblems``: the first `max − 1` and one last error
    /// "… and N more problems" (N = the number left out).
    static func capped(_ errors: [RunSpecError]) -> [RunSpecError] {
        guard errors.count > maxReportedProblems else { return errors }
        let kept = errors.prefix(maxReportedProblems - 1)
        let left = errors.count - kept.count
        return Array(kept) + [RunSpecError(field: "", message: "… and \(left) more problems (only the first "
            + "\(kept.count) are listed; fix those and check again)")]
    }
}
