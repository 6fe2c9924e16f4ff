import ArgumentParser
import TransportZMQ

/// `distillery-bench` — the benchmark-only commands, kept out of the product CLI: engine
/// throughput (`bench`, beside PyTorch), the transport (`bench-wire`, beside plain libzmq) and
/// the gradient all-reduce (`bench-allreduce`, beside gloo). Scripts/bench runs them and
/// compares; each prints its results as JSON Lines (one compact object per line).
struct DistilleryBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "distillery-bench",
        abstract: "Distillery's benchmarks (run by Scripts/bench beside PyTorch, plain libzmq and gloo).",
        subcommands: [EngineBench.self, WireBench.self, AllReduceBench.self, ONNXBench.self]
    )
}

@main
enum BenchMain {
    static func main() async {
        // The same allocator policy as `distillery`, so the figures are the product's.
        ProcessMemoryPolicy.keepLargeBuffersInTheHeap()
        await DistilleryBench.main()
    }
}

/// `x` rounded to `decimals` places: benchmark figures are printed no finer than they are measured.
func rounded(_ x: Double, _ decimals: Int) -> Double {
    let scale = (0..<decimals).reduce(1.0) { p, _ in p * 10 }
    return (x * scale).rounded() / scale
}
