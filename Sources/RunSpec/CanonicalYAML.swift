extension RunSpec {
    /// A canonical YAML rendering (every default written out, keys in a fixed order) that
    /// parses back to an equal RunSpec. The coordinator sends this to workers, so every
    /// node derives the same plan from the same text.
    ///
    /// Teachers are written expanded (one entry per teacher, no `count`); model specs,
    /// optimizers, schedules and ensemble rules in their canonical spelling (their types'
    /// `description`: `adamw`, never the alias `adam`); strings plain when that is unambiguous
    /// and double-quoted otherwise; numbers as Swift prints them (the shortest text that reads
    /// back to the same `Float`).
    public func canonicalYAML() -> String {
        var out = ""
        func put(_ indent: Int, _ key: String, _ value: String) {
            out += String(repeating: " ", count: indent) + key + ": " + value + "\n"
        }
        func header(_ indent: Int, _ key: String) {
            out += String(repeating: " ", count: indent) + key + ":\n"
        }
        put(0, "name", YAMLText.string(name))
        header(0, "dataset")
        put(2, "format", dataset.format.rawValue)
        put(2, "name", YAMLText.string(dataset.name))
        put(2, "path", YAMLText.string(dataset.path))
        if dataset.format == .npz {
            header(2, "arrays")
            put(4, "x-train", YAMLText.string(dataset.arrays.xTrain))
            put(4, "y-train", YAMLText.string(dataset.arrays.yTrain))
            put(4, "x-test", YAMLText.string(dataset.arrays.xTest))
            put(4, "y-test", YAMLText.string(dataset.arrays.yTest))
        }
        put(2, "classes", String(dataset.classes))
        put(2, "scale", "\(dataset.preprocessing.scale)")
        switch dataset.preprocessing.statistics {
        case .fit:
            put(2, "mean", "fit")
            put(2, "std", "fit")
        case .given(let n):
            put(2, "mean", "[" + n.mean.map(YAMLText.number).joined(separator: ", ") + "]")
            put(2, "std", "[" + n.std.map(YAMLText.number).joined(separator: ", ") + "]")
        }
        put(2, "train-limit", String(dataset.trainLimit))
        put(2, "validation", String(dataset.validation))
        if teachers.isEmpty {
            put(0, "teachers", "[]")
        } else {
            header(0, "teachers")
            for teacher in teachers {
                guard let model = teacher.model else {
                    out += "  - onnx: " + YAMLText.string(teacher.onnxPath ?? "") + "\n"
                    continue
                }
                out += "  - model: " + YAMLText.string(model.description) + "\n"
                switch teacher.source {
                case .onnx:
                    break  // a teacher with a model is never an ONNX teacher
                case .checkpoint(let path):
                    put(4, "checkpoint", YAMLText.string(path))
                case .train(let r):
                    header(4, "train")
                    put(6, "epochs", String(r.epochs))
                    put(6, "batch", String(r.batch))
                    put(6, "lr", YAMLText.number(r.learningRate))
                    put(6, "optimizer", YAMLText.string(r.optimizer.description))
                    put(6, "weight-decay", YAMLText.number(r.weightDecay))
                    put(6, "schedule", YAMLText.string(r.schedule.description))
                    put(6, "seed", String(r.seed))
                    put(6, "bootstrap", String(r.bootstrap))
                }
            }
        }
        header(0, "student")
        put(2, "model", YAMLText.string(student.model.description))
        header(0, "distillation")
        put(2, "mode", distillation.mode.rawValue)
        put(2, "temperature", YAMLText.number(distillation.temperature))
        put(2, "alpha", YAMLText.number(distillation.alpha))
        put(2, "ensemble", YAMLText.string(distillation.ensemble.description))
        put(2, "top-k", String(distillation.topK))
        put(2, "float16", String(distillation.float16))
        put(2, "mutual", YAMLText.number(distillation.mutual))
        header(0, "training")
        put(2, "epochs", String(training.epochs))
        put(2, "batch", String(training.batch))
        put(2, "lr", YAMLText.number(training.learningRate))
        put(2, "optimizer", YAMLText.string(training.optimizer.description))
        put(2, "weight-decay", YAMLText.number(training.weightDecay))
        put(2, "schedule", YAMLText.string(training.schedule.description))
        put(2, "seed", String(training.seed))
        put(2, "label-fraction", YAMLText.number(training.labelFraction))
        put(2, "baseline", String(training.baseline))
        put(0, "replicas", String(replicas))
        put(0, "prefetch", String(prefetch))
        header(0, "elastic")
        put(2, "min-replicas", String(elastic.minReplicas))
        put(2, "max-restarts", String(elastic.maxRestarts))
        put(2, "wait-timeout", String(elastic.waitTimeout))
        put(2, "checkpoint-every", String(elastic.checkpointEvery))
        return out
    }
}

/// Scalars as YAML text.
enum YAMLText {
    static let plainFirst = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_./")
    static let plainRest = plainFirst.union(":=,+-")
    static let nullWords: Set<String> = ["null", "Null", "NULL"]

    /// Plain if it is made of characters that cannot start or mean YAML syntax and does not
    /// read as null; double-quoted with escapes otherwise.
    static func string(_ s: String) -> String {
        if let first = s.first, plainFirst.contains(first), s.allSatisfy({ plainRest.contains($0) }),
           s.last != ":", !nullWords.contains(s) {
            return s
        }
        return quoted(s)
    }

    static func quoted(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                let v = u.value
                // YAML's printable set, less the byte-order mark and the Unicode line breaks.
                let printable = (0x20...0x7E).contains(v) || (0xA0...0xD7FF).contains(v)
                    || (0xE000...0xFFFD).contains(v) || (0x10000...0x10FFFF).contains(v)
                if printable && v != 0xFEFF && v != 0x2028 && v != 0x2029 {
                    out.unicodeScalars.append(u)
                } else if v <= 0xFF {
                    out += "\\x" + hex(v, digits: 2)
                } else if v <= 0xFFFF {
                    out += "\\u" + hex(v, digits: 4)
                } else {
                    out += "\\U" + hex(v, digits: 8)
                }
            }
        }
        return out + "\""
    }

    static func hex(_ v: UInt32, digits: Int) -> String {
        let h = String(v, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, digits - h.count)) + h
    }

    /// The shortest text that reads back to `v` (Swift's `description`).
    static func number(_ v: Float) -> String { "\(v)" }
}
