import Foundation
import Testing
@testable import RunSpec

/// A spec from a client is read in linear time, and what comes back stays small: at most
/// `maxReportedProblems` problems, whatever the spec holds.
@Suite("RunSpec: huge or broken specs are refused quickly, with a bounded list of problems")
struct RunSpecLimitsTests {
    /// The problems and the CPU time this thread spent finding them: unlike the wall clock, it
    /// does not grow when other tests or builds share the cores (parsing never suspends, so it
    /// stays on one thread).
    func timed(_ yaml: String) -> ([RunSpecError], Duration) {
        func threadCPU() -> Duration {
            var t = timespec()
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
            return .seconds(t.tv_sec) + .nanoseconds(t.tv_nsec)
        }
        let start = threadCPU()
        let all = problems(yaml)
        return (all, threadCPU() - start)
    }

    @Test("40,000 unknown keys are refused in well under a second, and 50 problems are listed")
    func fortyThousandUnknownKeys() throws {
        let yaml = baseYAML + (0..<40_000).map { "k\($0): 0\n" }.joined()
        let (all, elapsed) = timed(yaml)
        // Was 4.5 s for 10,000 keys and minutes for 40,000 (quadratic); ~0.5 s in debug now.
        #expect(elapsed < .seconds(2), "took \(elapsed) of CPU")
        #expect(all.count == RunSpec.maxReportedProblems)
        // The first problems by line, then one that counts the rest.
        #expect(all[0].field == "k0" && all[0].line == baseLines.count + 1)
        #expect(all[0].message.hasPrefix("unknown key 'k0' in the run spec; allowed: name, dataset"))
        #expect(all[48].field == "k48")
        let last = try #require(all.last)
        #expect(last.field == "" && last.line == nil)
        #expect(last.message.hasPrefix("… and \(40_000 - 49) more problems"), "\(last.message)")
    }

    @Test("50 problems are listed in full; 51 become 49 and '… and 2 more problems'")
    func theCapStartsAfterFifty() {
        let fifty = problems(baseYAML + (0..<50).map { "k\($0): 0\n" }.joined())
        #expect(fifty.count == 50 && fifty.allSatisfy { $0.message.hasPrefix("unknown key") })
        let more = problems(baseYAML + (0..<51).map { "k\($0): 0\n" }.joined())
        #expect(more.count == 50)
        #expect(more.last?.message.hasPrefix("… and 2 more problems") == true, "\(more.last?.message ?? "")")
    }

    @Test("a 1 MB spec of broken teachers is refused within seconds")
    func aMegabyteOfBrokenTeachers() {
        var yaml = "name: x\nstudent: { model: mlp:784-32-10 }\nteachers:\n"
        var i = 0
        while yaml.utf8.count < 1_000_000 {
            yaml += "  - { model: bad\(i), train: { epochs: -1, bogus\(i): 2 } }\n"
            i += 1
        }
        let (all, elapsed) = timed(yaml)
        // Was 160 s in debug (50,000 problems de-duplicated by linear search); ~1.8 s now.
        #expect(elapsed < .seconds(10), "took \(elapsed)")
        #expect(all.count == RunSpec.maxReportedProblems)
    }

    @Test("duplicate keys in a big spec are found in bounded time, and every one in a small spec")
    func duplicateKeysStayLinear() {
        var big = baseYAML
        for i in 0..<300 { big += "k\(i): 0\nk\(i): 1\n" }
        big += String(repeating: "# padding\n", count: 90_000)
        let (bigProblems, elapsed) = timed(big)
        // Was 36 s in debug: 256 rounds, each composing the whole 900 KB again; ~0.2 s now.
        #expect(elapsed < .seconds(10), "took \(elapsed)")
        #expect(!bigProblems.isEmpty && bigProblems.allSatisfy { $0.message.contains("duplicate key") })

        var small = baseYAML
        for i in 0..<60 { small += "d\(i): 0\nd\(i): 1\n" }
        let all = problems(small)
        #expect(all.count == RunSpec.maxReportedProblems, "60 duplicates, each reported, capped")
        #expect(all.contains { $0.message.hasPrefix("duplicate key 'd0' (lines 14, 15)") }, "\(all.map(\.message))")
    }

    @Test("the size limit is 256 KiB and its message names the size, the limit and what to do")
    func sizeLimit() {
        #expect(RunSpec.maxYAMLBytes == 262_144)
        let text = RunSpec.sizeProblem(bytes: 940_000)
        #expect(text.contains("940000 bytes") && text.contains("262144 bytes (256 KiB)") && text.contains("Cluster/runs/"))
    }
}
