import Testing
@testable import RunSpec

@Suite("RunSpec: every problem names its field, line and what is allowed")
struct RunSpecErrorTests {
    @Test("the base specs are valid (so each test below changes one thing)")
    func basesAreValid() {
        #expect(problems(baseYAML).isEmpty)
        #expect(problems(blockLines.joined(separator: "\n")).isEmpty)
    }

    // MARK: - Keys

    @Test("an unknown top-level key lists the allowed keys and suggests the near miss")
    func unknownRootKey() throws {
        let e = try #require(onlyProblem(base(line: 13, "prefetch: 4\ntrainig: { epochs: 3 }")))
        #expect(e.field == "trainig")
        #expect(e.line == 14)
        #expect(e.message == "unknown key 'trainig' in the run spec; allowed: name, dataset, teachers, student, distillation, training, replicas, prefetch, elastic; did you mean 'training'?")
    }

    @Test("an unknown nested key names its full path; other spellings of a key are suggested")
    func unknownNestedKey() throws {
        let e = try #require(onlyProblem(base(line: 6, "    train: { epochs: 2, batch: 64, seed: 1, learning_rate: 0.1 }")))
        #expect(e.field == "teachers[0].train.learning_rate")
        #expect(e.line == 6)
        #expect(e.message.contains("in teachers[0].train; allowed: epochs, batch, lr, optimizer, weight-decay, schedule, seed, bootstrap"))
        #expect(e.message.hasSuffix("did you mean 'lr'?"))

        let typo = try #require(onlyProblem(block(line: 5, "      epoch: 2")))
        #expect(typo.field == "teachers[0].train.epoch")
        #expect(typo.line == 5)
        #expect(typo.message.hasSuffix("did you mean 'epochs'?"))

        let camel = try #require(onlyProblem(base(line: 2, "dataset: { name: fashion-mnist, trainLimit: 2000, validation: 500 }")))
        #expect(camel.field == "dataset.trainLimit")
        #expect(camel.message.hasSuffix("did you mean 'train-limit'?"))
    }

    @Test("a key nothing resembles gets no suggestion")
    func unknownKeyWithoutSuggestion() throws {
        let e = try #require(onlyProblem(block(inserting: "  colour: red", after: 8)))
        #expect(e.field == "student.colour")
        #expect(e.line == 9)
        #expect(e.message == "unknown key 'colour' in student; allowed: model")
    }

    @Test("a duplicate key is reported where it repeats, with every line it is on")
    func duplicateKeys() throws {
        let root = try #require(onlyProblem(base(line: 13, "prefetch: 4\nreplicas: 4")))
        #expect(root.field == "replicas")
        #expect(root.line == 14)
        #expect(root.message == "duplicate key 'replicas' (lines 12, 14); each key may appear once")

        let nested = try #require(onlyProblem(block(inserting: "      epochs: 5", after: 6)))
        #expect(nested.field == "teachers[0].train.epochs")
        #expect(nested.line == 7)
        #expect(nested.message.hasPrefix("duplicate key 'epochs' (lines 5, 7)"))

        let flow = try #require(onlyProblem(base(line: 11, "training: { epochs: 2, batch: 64, epochs: 3 }")))
        #expect(flow.field == "training.epochs")
        #expect(flow.line == 11)

        let quoted = try #require(onlyProblem(base(line: 11, "training: { \"batch\": 64,\n  'batch': 32 }")))
        #expect(quoted.field == "training.batch")
        #expect(quoted.line == 12)
        #expect(quoted.message.hasPrefix("duplicate key 'batch' (lines 11, 12)"))

        // A first occurrence spelled with an escape cannot be renamed: still one problem, with its line.
        let escaped = try #require(onlyProblem(base(line: 11, "training: { \"b\\x61tch\": 64, batch: 32 }")))
        #expect(escaped.field == "")
        #expect(escaped.line == 11)
        #expect(escaped.message.hasPrefix("duplicate key 'batch'"))

        // Under a key that is itself unknown: both are reported.
        let unknown = problems(base(line: 13, "prefetch: 4\nextra: { a: 1, a: 2 }"))
        #expect(unknown.map(\.field) == ["extra", ""])
        #expect(unknown.map(\.line) == [14, 14])
    }

    @Test("several duplicates, a thrice-repeated key and other problems are all reported")
    func manyDuplicates() {
        let yaml = """
            name: dup
            name: dup2
            teachers:
              - model: mlp:784-10
                train:
                  seed: 1
                  seed: 2
                  seed: 3
                  epochs: 0
            student: { model: mlp:784-10 }
            """
        let found = problems(yaml)
        #expect(found.map(\.field) == ["name", "teachers[0].train.seed", "teachers[0].train.epochs"])
        #expect(found.map(\.line) == [2, 7, 9])
        #expect(found[1].message.hasPrefix("duplicate key 'seed' (lines 6, 7, 8)"))
        #expect(found[2].message == "must be an integer in 1…10000, got 0")
    }

    @Test("YAML merge keys are refused by name")
    func mergeKeys() throws {
        let e = try #require(onlyProblem("""
            name: merge
            teachers:
              - model: mlp:784-10
                train: &r { epochs: 2 }
              - model: mlp:784-10
                train: { <<: *r, seed: 2 }
            student: { model: mlp:784-10 }
            """))
        #expect(e.field == "teachers[1].train.<<")
        #expect(e.line == 6)
        #expect(e.message.contains("merge keys"))
    }

    // MARK: - Whole file

    @Test("an empty or comment-only file says what a run spec is")
    func emptyFile() throws {
        for text in ["", "\n\n", "# only a comment\n", "---\n"] {
            let e = try #require(onlyProblem(text))
            #expect(e.field == "")
            #expect(e.line == nil)
            #expect(e.message.hasPrefix("the file is empty; a run spec is a mapping with the keys name, dataset, teachers"))
        }
    }

    @Test("a file that is not a mapping")
    func notAMapping() throws {
        let list = try #require(onlyProblem("# a list\n- name: x\n- name: y\n"))
        #expect(list.field == "")
        #expect(list.line == 2)
        #expect(list.message.hasPrefix("a run spec must be a mapping with the keys name, dataset"))
        #expect(list.message.hasSuffix("got a list"))
        let scalar = try #require(onlyProblem("just some text"))
        #expect(scalar.message.hasSuffix("got 'just some text'"))
    }

    @Test("malformed YAML gives the parser's problem and its line")
    func malformed() throws {
        let unclosed = try #require(onlyProblem("name: x\nteachers: [\n  { model: mlp:784-10 }\nstudent: {}\n"))
        #expect(unclosed.field == "")
        #expect(unclosed.line == 4)
        #expect(unclosed.message.hasPrefix("malformed YAML: "))

        let tab = try #require(onlyProblem("name: x\nteachers:\n\t- model: mlp:784-10\n"))
        #expect(tab.line == 3)
        #expect(tab.message.hasSuffix("tabs are not allowed for indentation, use spaces"))

        let indent = try #require(onlyProblem("name: x\nstudent:\n  model: a\n model: b\n"))
        #expect(indent.line == 4)

        let two = try #require(onlyProblem("name: a\n---\nname: b\n"))
        #expect(two.line == 2)
        #expect(two.message.contains("single document"))
    }

    // MARK: - Types

    @Test("a wrong type names the field, what is allowed and what was written; an expanded teacher reports once")
    func wrongType() throws {
        let e = try #require(onlyProblem(base(line: 6, "    train: { epochs: ten, batch: 64, seed: 1 }")))
        #expect(e.field == "teachers[0].train.epochs")
        #expect(e.line == 6)
        #expect(e.message == "must be an integer in 1…10000, got 'ten'")
    }

    @Test("quoted numbers are strings; lists, mappings and nothing are named as such")
    func typeDescriptions() throws {
        let quoted = try #require(onlyProblem(block(line: 13, "  epochs: \"10\"")))
        #expect(quoted.field == "training.epochs")
        #expect(quoted.message == "must be an integer in 1…10000, got the string \"10\"")

        let list = try #require(onlyProblem(base(line: 12, "replicas: [1, 2]")))
        #expect(list.field == "replicas")
        #expect(list.line == 12)
        #expect(list.message == "must be an integer in 1…64, got a list")

        let empty = try #require(onlyProblem(block(line: 10, "  temperature:")))
        #expect(empty.field == "distillation.temperature")
        #expect(empty.line == 10)
        #expect(empty.message == "must be a number in (0, 100], got nothing")

        let float = try #require(onlyProblem(block(line: 14, "  batch: 64.0")))
        #expect(float.message == "must be an integer in 1…65536, got '64.0'")

        let lr = try #require(onlyProblem(block(inserting: "  lr: fast", after: 14)))
        #expect(lr.field == "training.lr")
        #expect(lr.line == 15)
        #expect(lr.message == "must be a number in (0, 10), got 'fast'")

        let infinite = try #require(onlyProblem(block(inserting: "  lr: inf", after: 14)))
        #expect(infinite.message == "must be a number in (0, 10), got 'inf'")

        let bool = try #require(onlyProblem(base(line: 10, "distillation: { float16: yes }")))
        #expect(bool.field == "distillation.float16")
        #expect(bool.line == 10)
        #expect(bool.message == "must be true or false, got 'yes'")

        let seed = try #require(onlyProblem(base(line: 11, "training: { batch: 64, seed: -1 }")))
        #expect(seed.field == "training.seed")
        #expect(seed.message == "must be an integer in 0…18446744073709551615, got '-1'")

        let model = try #require(onlyProblem(base(line: 9, "student: { model: [mlp] }")))
        #expect(model.field == "student.model")
        #expect(model.message.hasSuffix("got a list"))
    }

    @Test("sections of the wrong shape")
    func sectionShapes() throws {
        let student = try #require(onlyProblem(base(line: 9, "student: mlp:784-32-10")))
        #expect(student.field == "student")
        #expect(student.line == 9)
        #expect(student.message == "must be a mapping with the keys model, got 'mlp:784-32-10'")

        let teachers = try #require(onlyProblem("name: x\nteachers: { model: mlp:784-10 }\nstudent: { model: mlp:784-10 }\n"))
        #expect(teachers.field == "teachers")
        #expect(teachers.line == 2)
        #expect(teachers.message.hasPrefix("must be a list of 1…32 teachers"))
        #expect(teachers.message.hasSuffix("got a mapping"))

        let item = try #require(onlyProblem("name: x\nteachers:\n  - mlp:784-10\nstudent: { model: mlp:784-10 }\n"))
        #expect(item.field == "teachers[0]")
        #expect(item.line == 3)
        #expect(item.message == "must be a mapping with the keys model, count, checkpoint, onnx, train, got 'mlp:784-10'")

        let dataset = try #require(onlyProblem(base(line: 2, "dataset: fashion-mnist")))
        #expect(dataset.field == "dataset")
        #expect(dataset.line == 2)
    }

    // MARK: - Required

    @Test("missing required keys")
    func missing() throws {
        let name = try #require(onlyProblem(base(line: 1, "# no name")))
        #expect(name.field == "name")
        #expect(name.line == nil)
        #expect(name.message == "is required: a name of 1…64 characters from A-Z a-z 0-9 . _ -")

        let both = problems("name: lonely\n")
        #expect(both.map(\.field) == ["teachers", "student"])
        #expect(both.allSatisfy { $0.message.hasPrefix("is required: ") })

        let studentModel = try #require(onlyProblem(base(line: 9, "student: {}")))
        #expect(studentModel.field == "student.model")
        #expect(studentModel.line == 9)

        let emptyStudent = try #require(onlyProblem(block(line: 8, "  # no model")))
        #expect(emptyStudent.field == "student")
        #expect(emptyStudent.line == 7)
        #expect(emptyStudent.message.hasPrefix("is required: a mapping with model: MODEL"))

        let teacherModel = try #require(onlyProblem(block(line: 3, "  - count: 1")))
        #expect(teacherModel.field == "teachers[0].model")
        #expect(teacherModel.line == 3)
    }

    @Test("a teacher is either trained or loaded")
    func teacherSource() throws {
        let both = try #require(onlyProblem(base(line: 8, "    checkpoint: teachers/cnn.safetensors\n    train: {}")))
        #expect(both.field == "teachers[1]")
        #expect(both.line == 8)
        #expect(both.message.hasPrefix("has both checkpoint: and train:"))

        let neither = try #require(onlyProblem(base(line: 8, "    # nothing")))
        #expect(neither.field == "teachers[1]")
        #expect(neither.line == 7)
        #expect(neither.message.hasPrefix("needs either checkpoint: PATH"))

        let emptyPath = try #require(onlyProblem(base(line: 8, "    checkpoint: \"\"")))
        #expect(emptyPath.field == "teachers[1].checkpoint")
        #expect(emptyPath.line == 8)
    }

    @Test("count: range, only for trained teachers, at most 32 teachers in all, seeds must fit")
    func countRules() throws {
        let zero = try #require(onlyProblem(base(line: 5, "    count: 0")))
        #expect(zero.field == "teachers[0].count")
        #expect(zero.line == 5)
        #expect(zero.message == "must be an integer in 1…32, got 0")

        let checkpoint = try #require(onlyProblem(base(line: 8, "    checkpoint: teachers/cnn.safetensors\n    count: 2")))
        #expect(checkpoint.field == "teachers[1].count")
        #expect(checkpoint.line == 9)
        #expect(checkpoint.message.hasPrefix("applies only to trained teachers"))

        let many = try #require(onlyProblem(base(line: 5, "    count: 32")))
        #expect(many.field == "teachers")
        #expect(many.line == 3)
        #expect(many.message == "has 33 teachers after count expansion; at most 32 are allowed")

        let seed = try #require(onlyProblem(base(line: 6, "    train: { epochs: 2, batch: 64, seed: \(UInt64.max - 1) }")))
        #expect(seed.field == "teachers[0].train.seed")
        #expect(seed.line == 6)
        #expect(seed.message.hasPrefix("must be at most \(UInt64.max - 2) so that the 3 teachers' seeds"))

        let empty = try #require(onlyProblem("name: x\nteachers: []\nstudent: { model: mlp:784-10 }\n"))
        #expect(empty.field == "teachers")
        #expect(empty.line == 2)
        #expect(empty.message.hasPrefix("needs at least one teacher"))
    }

    // MARK: - Ranges

    @Test("out-of-range numbers")
    func ranges() throws {
        let epochs = try #require(onlyProblem(base(line: 11, "training: { epochs: -3, batch: 64 }")))
        #expect(epochs.field == "training.epochs")
        #expect(epochs.line == 11)
        #expect(epochs.message == "must be an integer in 1…10000, got -3")

        let temperature = try #require(onlyProblem(block(line: 10, "  temperature: 0")))
        #expect(temperature.field == "distillation.temperature")
        #expect(temperature.line == 10)
        #expect(temperature.message == "must be a number in (0, 100], got 0")

        let alpha = try #require(onlyProblem(block(line: 11, "  alpha: 1.5")))
        #expect(alpha.field == "distillation.alpha")
        #expect(alpha.line == 11)
        #expect(alpha.message == "must be a number in [0, 1], got 1.5")

        let lr = try #require(onlyProblem(base(line: 6, "    train: { epochs: 2, batch: 64, seed: 1, lr: 0 }")))
        #expect(lr.field == "teachers[0].train.lr")
        #expect(lr.message == "must be a number in (0, 10), got 0")

        let decay = try #require(onlyProblem(block(inserting: "  weight-decay: 1", after: 14)))
        #expect(decay.field == "training.weight-decay")
        #expect(decay.line == 15)
        #expect(decay.message == "must be a number in [0, 1), got 1")

        let replicas = problems(base(line: 12, "replicas: 0\nprefetch: 65").replacingOccurrences(of: "prefetch: 4\n", with: ""))
        #expect(replicas.map(\.field) == ["replicas", "prefetch"])
        #expect(replicas.map(\.line) == [12, 13])
        #expect(replicas.map(\.message) == ["must be an integer in 1…64, got 0", "must be an integer in 1…64, got 65"])
    }

    @Test("elastic: values, bounds and unknown keys")
    func elasticSection() throws {
        let spec = try RunSpec(yaml: base(line: 13, "prefetch: 4\nelastic: { min-replicas: 2, max-restarts: 0, wait-timeout: 60, checkpoint-every: 25 }"),
                               fileName: "x.yaml")
        #expect(spec.elastic == ElasticSpec(minReplicas: 2, maxRestarts: 0, waitTimeout: 60, checkpointEvery: 25))
        #expect(try RunSpec(yaml: spec.canonicalYAML(), fileName: "c.yaml") == spec)
        #expect(try RunSpec(yaml: baseYAML, fileName: "x.yaml").elastic == ElasticSpec(minReplicas: 1, maxRestarts: 10, waitTimeout: 300))
        let bounds = problems(base(line: 13, "prefetch: 4\nelastic: { min-replicas: 3, max-restarts: 1001, wait-timeout: -1, checkpoint-every: -5 }"))
        #expect(bounds.map(\.field) == ["elastic.min-replicas", "elastic.wait-timeout", "elastic.checkpoint-every", "elastic.max-restarts"])
        #expect(bounds.map(\.message) == ["must be an integer in 1…2 (the run's replicas), got 3",
                                          "must be an integer in 0…86400 seconds, got -1",
                                          "must be an integer in 0…100000000 steps (0: after each epoch), got -5",
                                          "must be an integer in 0…1000, got 1001"])
        let unknown = try #require(onlyProblem(base(line: 13, "prefetch: 4\nelastic: { min-replica: 1 }")))
        #expect(unknown.field == "elastic.min-replica")
        #expect(unknown.message.contains("did you mean 'min-replicas'?"), "\(unknown.message)")
    }

    @Test("the global batch must split evenly over the replicas")
    func batchDivisibleByReplicas() throws {
        let e = try #require(onlyProblem(base(line: 12, "replicas: 3")))
        #expect(e.field == "training.batch")
        #expect(e.line == 11)
        #expect(e.message == "must be divisible by replicas (3) so that every replica gets an equal micro-batch, got 64")
    }

    @Test("top-k must leave a tail: 0 or fewer than the classes")
    func topK() throws {
        let e = try #require(onlyProblem(base(line: 10, "distillation: { top-k: 10 }")))
        #expect(e.field == "distillation.top-k")
        #expect(e.line == 10)
        #expect(e.message == "must be 0 (full logits) or an integer in 1…9, fewer than the 10 classes, got 10")
        #expect(problems(base(line: 10, "distillation: { top-k: 9 }")).isEmpty)
        #expect(onlyProblem(base(line: 10, "distillation: { top-k: -1 }"))?.field == "distillation.top-k")
    }

    @Test("a labelled fraction is in (0, 1], for offline runs, and leaves at least one label")
    func labelFraction() throws {
        let spec = try RunSpec(yaml: base(line: 11, "training: { epochs: 2, batch: 64, label-fraction: 0.05, baseline: true }"), fileName: "l.yaml")
        #expect(spec.training.labelFraction == 0.05 && spec.training.baseline)
        #expect(spec.canonicalYAML().contains("  label-fraction: 0.05\n  baseline: true\n"))
        let zero = try #require(onlyProblem(base(line: 11, "training: { label-fraction: 0 }")))
        #expect(zero.field == "training.label-fraction" && zero.line == 11)
        #expect(zero.message == "must be a number in (0, 1], got 0")
        #expect(onlyProblem(base(line: 11, "training: { label-fraction: 1.5 }"))?.message == "must be a number in (0, 1], got 1.5")
        let online = try #require(onlyProblem(base(line: 10, "distillation: { mode: online }") .replacingOccurrences(
            of: "training: { epochs: 2,", with: "training: { label-fraction: 0.5, epochs: 2,")))
        #expect(online.field == "training.label-fraction")
        #expect(online.message.hasPrefix("applies to offline runs only"))
        let none = try #require(onlyProblem(base(line: 11, "training: { label-fraction: 0.0001 }")))
        #expect(none.message == "leaves no labelled image of the 1500 training images; raise it")
        #expect(onlyProblem(base(line: 11, "training: { baseline: maybe }"))?.field == "training.baseline")
    }

    @Test("the mutual term is for online runs of several teachers, with a weight in [0, 1)")
    func mutual() throws {
        let offline = try #require(onlyProblem(base(line: 10, "distillation: { mutual: 0.5 }")))
        #expect(offline.field == "distillation.mutual")
        #expect(offline.line == 10)
        #expect(offline.message.hasPrefix("applies to online runs only"))
        #expect(problems(base(line: 10, "distillation: { mode: online, mutual: 0.5 }")).isEmpty)
        #expect(onlyProblem(base(line: 10, "distillation: { mode: online, mutual: 1 }"))?.message == "must be a number in [0, 1), got 1")
        let one = """
            name: one
            dataset: { name: fashion-mnist, train-limit: 2000, validation: 500 }
            teachers:
              - model: mlp:784-64-10
                train: { epochs: 2, batch: 64, seed: 1 }
            student: { model: mlp:784-32-10 }
            distillation: { mode: online, mutual: 0.5 }
            """
        let single = try #require(onlyProblem(one))
        #expect(single.field == "distillation.mutual")
        #expect(single.message == "needs at least 2 teachers (each learns from the others' ensemble), got 1")
        let spec = try RunSpec(yaml: base(line: 10, "distillation: { mode: online, mutual: 0.25 }"), fileName: "m.yaml")
        #expect(spec.distillation.mutual == 0.25)
        #expect(spec.canonicalYAML().contains("  mutual: 0.25\n"))
    }

    @Test("ensemble weights are counted against the expanded teachers")
    func ensembleWeights() throws {
        let e = try #require(onlyProblem(base(line: 10, "distillation: { ensemble: \"weighted:1/1/1\" }")))
        #expect(e.field == "distillation.ensemble")
        #expect(e.line == 10)
        #expect(e.message.hasPrefix("ensemble rule 'weighted:1.0/1.0/1.0' gives 3 weights for 4 teachers"))
        #expect(problems(base(line: 10, "distillation: { ensemble: \"weighted:1/1/1/2\" }")).isEmpty)

        let unknown = try #require(onlyProblem(base(line: 10, "distillation: { ensemble: median }")))
        #expect(unknown.message == "unknown ensemble rule 'median'; allowed: mean-probs, mean-logits, weighted:W1/W2/…, ebkd, camkd")
    }

    @Test("teachers and the student output the data set's classes")
    func classes() throws {
        let teacher = try #require(onlyProblem(base(line: 7, "  - model: cnn:1x28x28-c8-p2-fc12")))
        #expect(teacher.field == "teachers[1].model")
        #expect(teacher.line == 7)
        #expect(teacher.message == "outputs 12 classes but the student and fashion-mnist have 10; teachers and the student must agree on the classes")

        let student = try #require(onlyProblem(base(line: 9, "student: { model: mlp:784-32-12 }")))
        #expect(student.field == "student.model")
        #expect(student.line == 9)
        #expect(student.message == "outputs 12 classes but fashion-mnist has 10; end the model with 10 outputs")
    }

    @Test("model inputs must match the data set's samples")
    func inputShapes() throws {
        let mlp = try #require(onlyProblem(base(line: 4, "  - model: mlp:768-64-10")))
        #expect(mlp.field == "teachers[0].model")
        #expect(mlp.line == 4)
        #expect(mlp.message == "takes 768 inputs but fashion-mnist samples are 1x28x28 = 784 features; start the mlp with 784")

        let cnn = try #require(onlyProblem(base(line: 7, "  - model: cnn:3x28x28-c8-p2-fc10")))
        #expect(cnn.field == "teachers[1].model")
        #expect(cnn.message == "takes 3x28x28 inputs but fashion-mnist samples are 1x28x28; start the cnn with 1x28x28")

        let pools = try #require(onlyProblem(base(line: 7, "  - model: cnn:1x28x28-p2-p2-p2-p2-p2-fc10")))
        #expect(pools.field == "teachers[1].model")
        #expect(pools.message == "does not fit 1x28x28 samples: pool window 2 does not fit input 1×1")

        let grammar = try #require(onlyProblem(base(line: 9, "student: { model: mlp:784 }")))
        #expect(grammar.field == "student.model")
        #expect(grammar.line == 9)
        #expect(grammar.message.hasPrefix("model spec 'mlp:784': an mlp needs at least an input and an output size; allowed: "))
    }

    @Test("optimizer, schedule and mode use their grammars")
    func grammars() throws {
        let optimizer = try #require(onlyProblem(base(line: 11, "training: { batch: 64, optimizer: adagrad }")))
        #expect(optimizer.field == "training.optimizer")
        #expect(optimizer.line == 11)
        #expect(optimizer.message == "optimizer 'adagrad' is unknown; allowed: sgd, momentum (sgd with momentum 0.9), nesterov (0.9), adamw")

        let schedule = try #require(onlyProblem(base(line: 6, "    train: { batch: 64, schedule: \"step:0:2\" }")))
        #expect(schedule.field == "teachers[0].train.schedule")
        #expect(schedule.message.hasPrefix("schedule 'step:0:2': expected step:EPOCHS:GAMMA"))

        let mode = try #require(onlyProblem(base(line: 10, "distillation: { mode: offlin }")))
        #expect(mode.field == "distillation.mode")
        #expect(mode.message == "must be one of offline, online, got 'offlin'")
    }

    @Test("data set: name, train-limit, validation and batches that fit")
    func dataset() throws {
        let name = try #require(onlyProblem(base(line: 2, "dataset: { name: mnist, train-limit: 2000, validation: 500 }")))
        #expect(name.field == "dataset.name")
        #expect(name.line == 2)
        #expect(name.message == "must be one of fashion-mnist (or format: npz for your own data), got 'mnist'")

        let limit = try #require(onlyProblem(base(line: 2, "dataset: { train-limit: 70000 }")))
        #expect(limit.field == "dataset.train-limit")
        #expect(limit.message == "must be 0 (all 60000 training samples) or an integer in 1…60000, got 70000")

        let validation = try #require(onlyProblem(base(line: 2, "dataset: { train-limit: 2000, validation: 2000 }")))
        #expect(validation.field == "dataset.validation")
        #expect(validation.message == "must be an integer in 0…1999, fewer than the 2000 training samples (train-limit), got 2000")

        let small = problems(base(line: 2, "dataset: { train-limit: 100, validation: 50 }"))
        #expect(small.map(\.field) == ["teachers[0].train.batch", "training.batch"])
        #expect(small.map(\.line) == [6, 11])
        #expect(small.allSatisfy { $0.message == "must be at most the 50 training images (train-limit minus validation), got 64" })

        let badName = try #require(onlyProblem(base(line: 1, "name: my run")))
        #expect(badName.field == "name")
        #expect(badName.line == 1)
        #expect(badName.message == "must be a name of 1…64 characters from A-Z a-z 0-9 . _ -, got 'my run'")
    }

    // MARK: - Many at once

    @Test("all problems are collected, in line order, with the file name")
    func severalAtOnce() throws {
        let yaml = """
            name: bad name
            teachers:
              - model: mlp:784-10
                train: { epochs: 0, batch: 64 }
                checkpoint: x.safetensors
            student: { model: mlp:784-10 }
            distillation: { alpha: 2, temprature: 3 }
            replicas: 0
            """
        do throws(RunSpecErrors) {
            _ = try RunSpec(yaml: yaml, fileName: "bad.yaml")
            Issue.record("expected problems")
        } catch {
            #expect(error.fileName == "bad.yaml")
            #expect(error.errors.map(\.field) == ["name", "teachers[0].train.epochs", "teachers[0]", "distillation.temprature",
                                                  "distillation.alpha", "replicas"])
            #expect(error.errors.map(\.line) == [1, 4, 5, 7, 7, 8])
            #expect(error.errors[3].message.hasSuffix("did you mean 'temperature'?"))
            #expect(error.description.hasPrefix("bad.yaml: 6 problems:\n  - name (line 1): must be a name"))
        }
    }

    @Test("the example in Cluster/runs/README.md is what the parser prints")
    func readmeExample() throws {
        let yaml = """
            name: bad
            teachers:
              - model: mlp:784-100-10
                count: 2
                train:
                  epoch: 5
            student:
              model: mlp:784-32-10
            distillation:
              temperature: 4
              alpha: 1.5
            training: { batch: 128 }
            replicas: 3
            """
        do throws(RunSpecErrors) {
            _ = try RunSpec(yaml: yaml, fileName: "bad.yaml")
            Issue.record("expected problems")
        } catch {
            let readme = try String(contentsOf: repositoryRoot().appendingPathComponent("Cluster/runs/README.md"), encoding: .utf8)
            #expect(readme.contains("```\n\(error.description)\n```"), "\(error.description)")
        }
    }

    @Test("one bad value does not cause follow-on errors")
    func noFollowOnErrors() throws {
        // An unreadable replicas is not also checked against the batch; an unreadable
        // teacher list does not make the ensemble's weight count wrong.
        let replicas = try #require(onlyProblem(base(line: 12, "replicas: three")))
        #expect(replicas.field == "replicas")
        let teachers = try #require(onlyProblem("""
            name: x
            teachers:
              - 42
              - model: mlp:784-10
                train: {}
            student: { model: mlp:784-10 }
            distillation: { ensemble: "weighted:1/1" }
            """))
        #expect(teachers.field == "teachers[0]")
    }
}
