/// "Did you mean …?" for unknown keys.
enum Suggestions {
    /// Other spellings people reach for, by normalised key (lower case, no `-`/`_`).
    static let aliases: [String: String] = [
        "learningrate": "lr", "rate": "lr",
        "batchsize": "batch", "minibatch": "batch",
        "temp": "temperature", "t": "temperature",
        "topk": "top-k", "k": "top-k",
        "fp16": "float16", "half": "float16",
        "ensemblerule": "ensemble", "rule": "ensemble",
        "wd": "weight-decay", "decay": "weight-decay",
        "lrschedule": "schedule", "scheduler": "schedule",
        "limit": "train-limit", "trainlimit": "train-limit",
        "validationcount": "validation", "val": "validation", "valid": "validation",
        "dir": "path", "directory": "path",
        "spec": "model", "arch": "model", "architecture": "model",
        "ckpt": "checkpoint", "weights": "checkpoint", "file": "checkpoint",
        "recipe": "train", "training": "train",
        "n": "count", "copies": "count", "ensemblesize": "count",
        "teacher": "teachers", "students": "student",
        "replica": "replicas", "window": "prefetch", "ahead": "prefetch",
        "distill": "distillation", "kd": "distillation",
        "bagging": "bootstrap", "bag": "bootstrap",
        "optim": "optimizer", "opt": "optimizer",
    ]

    /// The allowed key closest to `key`, if it is close enough to be a likely typo.
    static func closest(to key: String, in allowed: [String]) -> String? {
        let norm = normalise(key)
        if let hit = allowed.first(where: { normalise($0) == norm }) { return hit }
        if let alias = aliases[norm], allowed.contains(alias) { return alias }
        var best: (key: String, distance: Int)?
        for candidate in allowed {
            let d = distance(norm, normalise(candidate))
            let limit = max(1, min(3, candidate.count / 3))
            if d <= limit, d < (best?.distance ?? .max) { best = (candidate, d) }
        }
        if let best { return best.key }
        if norm.count >= 3, let prefixed = allowed.first(where: { normalise($0).hasPrefix(norm) }) { return prefixed }
        return nil
    }

    static func normalise(_ s: String) -> String {
        String(s.lowercased().filter { $0 != "-" && $0 != "_" && $0 != " " })
    }

    /// Levenshtein distance (insertions, deletions, substitutions).
    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}
