import Testing
@testable import RunSpec

/// The one YAML reader for other files (the cluster file of `distillery up`): the run spec's
/// strict rules, every problem with its field and line, all thrown together.
@Suite struct StrictYAMLTests {
    struct Cluster: Equatable {
        var logs = "logs"
        var workers: [String: [String]] = [:]
    }

    static func read(_ text: String) throws(RunSpecErrors) -> Cluster {
        var cluster = Cluster()
        var yaml = StrictYAML(yaml: text, fileName: "local.yaml", describing: "the cluster file")
        if let root = yaml.root(allowed: ["logs", "workers"]) {
            cluster.logs = yaml.string(root, "logs", default: cluster.logs, allowed: "a directory")
            for w in yaml.mappings(root, "workers", allowed: ["name", "roles"], describing: "a non-empty list of {name, roles}") {
                let name = yaml.requiredString(w, "name", allowed: "a name")
                let roles = yaml.strings(w, "roles", default: ["teacher"], allowed: "teacher or student")
                if cluster.workers[name] != nil { yaml.problem(w, "name", "'\(name)' is used twice") }
                cluster.workers[name] = roles
            }
        }
        try yaml.finish()
        return cluster
    }

    static func problems(_ text: String) -> [String] {
        do { _ = try read(text); return [] } catch { return error.errors.map(\.description) }
    }

    @Test func readsValuesAndDefaults() throws {
        let c = try Self.read("workers:\n  - { name: a, roles: [student, teacher] }\n  - name: b\n")
        #expect(c == Cluster(logs: "logs", workers: ["a": ["student", "teacher"], "b": ["teacher"]]))
        #expect(try Self.read("logs: /tmp/x\nworkers: [{ name: a }]\n").logs == "/tmp/x")
    }

    @Test func unknownKeysNameTheFileAndSuggest() {
        let p = Self.problems("workers: [{ name: a, role: [teacher] }]\nlogz: x\n")
        #expect(p.contains { $0.hasPrefix("workers[0].role (line 1): unknown key 'role' in workers[0]") && $0.contains("roles") }, "\(p)")
        #expect(p.contains { $0.hasPrefix("logz (line 2): unknown key 'logz' in the cluster file") }, "\(p)")
    }

    @Test func duplicateKeysAreRefusedWithTheirLines() {
        let p = Self.problems("logs: a\nworkers: [{ name: a }]\nlogs: b\n")
        #expect(p.contains { $0.contains("duplicate key 'logs' (lines 1, 3)") }, "\(p)")
    }

    @Test func wrongTypesMissingAndEmptyListsAreProblems() {
        #expect(Self.problems("workers: []\n").contains { $0.hasPrefix("workers (line 1): must be a non-empty list of {name, roles}") })
        #expect(Self.problems("logs: x\n").contains { $0.hasPrefix("workers: is required") })
        #expect(Self.problems("workers: [{ roles: [teacher] }]\n").contains { $0.hasPrefix("workers[0].name") && $0.contains("is required") })
        #expect(Self.problems("workers: [{ name: a, roles: teacher }]\n").contains { $0.contains("must be a list of teacher or student") })
        #expect(Self.problems("logs: [a]\nworkers: [{ name: a }]\n").contains { $0.hasPrefix("logs (line 1): must be a directory") })
        #expect(Self.problems("").contains { $0.contains("the file is empty; the cluster file is a mapping") })
        #expect(Self.problems("workers: [{ name: a }, { name: a }]\n").contains { $0.contains("'a' is used twice") })
    }

    @Test func everyProblemIsReportedAtOnce() {
        #expect(Self.problems("logz: 1\nworkers: [{ name: a, rolez: x }]\ncache: y\n").count == 3)
    }

    @Test func malformedYAMLIsOneProblemWithItsLine() {
        let p = Self.problems("workers: [{ name: a\n")
        #expect(p.count == 1 && p[0].contains("line"), "\(p)")
    }
}
