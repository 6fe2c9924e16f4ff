import Foundation
import Testing

/// `distillery-bench bench-allreduce`: two real processes on loopback sum a small buffer through the
/// ring and both report a checked result.
@Suite struct AllReduceBenchTests {
    @Test(arguments: ["inbox", "listener"])
    func twoRanksOverLoopbackReportAVerifiedSum(source: String) throws {
        let dir = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let endpoints = [freePort(), freePort()].map { "tcp://127.0.0.1:\($0)" }.joined(separator: ",")
        func args(_ rank: Int) -> [String] {
            ["bench-allreduce", "--rank", String(rank), "--endpoints", endpoints, "--count", "1001", "--warmup", "2",
             "--iterations", "5", "--source", source, "--timeout", "10"]
        }
        let other = try Node(args(1), log: dir.appendingPathComponent("rank1.log"), executable: benchBinary)
        let zero = try run(benchBinary, args(0), timeout: 20)
        #expect(other.waitForExit(timeout: 15))
        #expect(zero.status == 0, "rank 0: \(zero.err)")
        #expect(other.process.terminationStatus == 0, "rank 1: \(other.output)")
        for (rank, out) in [(0, zero.out), (1, other.output)] {
            let line = out.split(separator: "\n").last(where: { $0.hasPrefix("{") }).map(String.init) ?? ""
            let json = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
            #expect(json?["verified"] as? Bool == true, "rank \(rank) printed: \(out)")
            #expect(json?["rank"] as? Int == rank && json?["ranks"] as? Int == 2 && json?["count"] as? Int == 1001)
            #expect(json?["source"] as? String == source)
            #expect((json?["median_ms"] as? Double ?? -1) > 0)
        }
    }

    @Test func aRankOutsideTheEndpointsIsRefused() throws {
        let r = try run(benchBinary, ["bench-allreduce", "--rank", "2", "--endpoints", "tcp://127.0.0.1:1,tcp://127.0.0.1:2"], timeout: 20)
        #expect(r.status != 0)
        #expect(r.err.contains("--rank 2 is not in 0..<2"))
    }

    /// The benchmarks left the product CLI: `distillery` no longer knows them.
    @Test func theProductCLIHasNoBenchmarkCommands() throws {
        for command in ["bench", "bench-wire", "bench-allreduce"] {
            let r = try distillery([command], timeout: 20)
            #expect(r.status != 0 && r.err.contains(command), "distillery \(command) still exists: \(r.out) \(r.err)")
        }
        let help = try distillery(["--help"], timeout: 20)
        #expect(!help.out.contains("bench"), "\(help.out)")
        let bench = try run(benchBinary, ["--help"], timeout: 20)
        #expect(bench.status == 0 && ["bench", "bench-wire", "bench-allreduce"].allSatisfy { bench.out.contains($0) }, "\(bench.out)")
    }
}
