import ArgumentParser
import Clocks
import CLIOutput
import ClusterRuntime
import DataPlane
import Foundation
import Transport
import TransportZMQ

/// Gradient all-reduce over real sockets, the product's code path: one process per rank, each
/// binding its data endpoint with `ZMQTransport`, sorting arrivals through a `DataInbox` (as a
/// worker does) or reading the listener directly, connecting to rank + 1 and running
/// `RingAllReduce` on the ThreadExecutor a student replica runs on. Scripts/bench runs it beside
/// torch.distributed's gloo (Scripts/bench_gloo.py) and prints the ratio. Every rank prints one
/// JSON line (``AllReduceBenchResult``); the sums are checked exactly after every all-reduce.
struct AllReduceBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-allreduce",
        abstract: "Measure the gradient ring all-reduce between processes (used by Scripts/bench beside gloo).")

    enum Source: String, ExpressibleByArgument, CaseIterable {
        case inbox, listener
    }

    @Option(help: "This process's rank (0 ..< number of endpoints).") var rank: Int
    @Option(help: "Every rank's data endpoint in rank order, comma-separated, e.g. tcp://127.0.0.1:5601,tcp://127.0.0.1:5602.")
    var endpoints: String
    @Option(help: "Float32 values per all-reduce (1,048,576 = 4 MiB).") var count: Int = 1_048_576
    @Option(help: "Untimed all-reduces first (the first also waits for the other ranks).") var warmup: Int = 5
    @Option(help: "Timed all-reduces.") var iterations: Int = 30
    @Option(help: "How chunks reach the ring: inbox (DataInbox, as the worker) or listener (ListenerGradientSource).")
    var source: Source = .inbox
    @Option(help: "Longest wait for a peer's chunk, in seconds (the first all-reduce waits for every rank to start).")
    var timeout: Double = 30
    @Flag(help: "CurveZMQ between the ranks (fixed bench keys), as a secured cluster.") var curve = false

    func validate() throws {
        let list = ranks
        guard list.count >= 1 else { throw ValidationError("--endpoints lists no endpoint") }
        guard (0..<list.count).contains(rank) else { throw ValidationError("--rank \(rank) is not in 0..<\(list.count)") }
        guard count >= list.count else { throw ValidationError("--count \(count) is below the number of ranks (\(list.count))") }
        guard warmup >= 1 else { throw ValidationError("--warmup must be at least 1 (the first all-reduce waits for every rank)") }
        guard iterations >= 1 else { throw ValidationError("--iterations must be at least 1") }
        guard timeout > 0 else { throw ValidationError("--timeout must be positive") }
    }

    var ranks: [String] { endpoints.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } }

    func run() async throws {
        let list = ranks, size = list.count, run = "bench-allreduce"
        var security: CurveSecurity?
        if curve {
            let pairs = try (0..<size).map { try BenchKeys.pair("rank-\($0)") }
            security = CurveSecurity(keys: pairs[rank], authorizedClients: Set(pairs.map(\.publicKey)),
                                     serverKeys: Dictionary(uniqueKeysWithValues: zip(list, pairs.map(\.publicKey))))
        }
        let transport = try ZMQTransport(name: "bench-allreduce-\(rank)", security: security)
        let executor = ThreadExecutor(name: "distillery-task")
        var inboxTask: Task<Void, Never>?
        defer { executor.stop() }
        do {
            let listener = try await transport.listen(at: list[rank])
            let gradients: any GradientSource
            switch source {
            case .inbox:
                let inbox = DataInbox(listener: listener)
                if let security {
                    // As a worker's assignment would: the ring's keys may send it gradient chunks.
                    inbox.allow([InboxKey(run: run, .gradients): security.authorizedClients], run: run)
                }
                inboxTask = Task { await inbox.run() }
                gradients = inbox.gradientSource(run: run)
            case .listener:
                gradients = ListenerGradientSource(listener: listener, runID: run)
            }
            let next = size > 1 ? try await transport.connect(to: list[(rank + 1) % size]) : nil
            let ring = try RingAllReduce(runID: run, generation: 1, rank: rank, ranks: size, count: count, source: gradients,
                                         next: next, timeout: .milliseconds(Int(timeout * 1000)))
            let work = BenchWork(ring: ring, rank: rank, ranks: size, count: count, warmup: warmup, iterations: iterations)
            let times = try await Task(executorPreference: executor) { try await work.run() }.value
            inboxTask?.cancel()
            printJSON(report(times, ranks: size), lines: true)
        } catch {
            inboxTask?.cancel()
            await transport.shutdown()
            throw error
        }
        await transport.shutdown()
    }

    func report(_ times: [Double], ranks: Int) -> AllReduceBenchResult {
        let sorted = times.sorted()
        let bytes = count * 4
        let median = percentile(sorted, 0.5)
        return AllReduceBenchResult(
            source: source.rawValue + (curve ? "+curve" : ""), rank: rank, ranks: ranks, count: count, bytes: bytes, warmup: warmup, iterations: iterations,
            medianMs: rounded(median, 3), p10Ms: rounded(percentile(sorted, 0.1), 3), p90Ms: rounded(percentile(sorted, 0.9), 3),
            algbwGBs: rounded(Double(bytes) / (median / 1000) / 1e9, 3))
    }
}

/// One rank's line of `bench-allreduce`, in the keys of Scripts/bench_gloo.py's (`side` tells
/// them apart): per-call times of the timed all-reduces in ms, and the algorithm bandwidth
/// (bytes / median time). `verified` is always true: a wrong sum fails the command instead.
struct AllReduceBenchResult: Codable, Equatable {
    var side = "ours"
    var source: String
    var rank: Int
    var ranks: Int
    var count: Int
    var bytes: Int
    var warmup: Int
    var iterations: Int
    var medianMs: Double
    var p10Ms: Double
    var p90Ms: Double
    var algbwGBs: Double
    var verified = true

    enum CodingKeys: String, CodingKey {
        case side, source, rank, ranks, count, bytes, warmup, iterations, verified
        case medianMs = "median_ms"
        case p10Ms = "p10_ms"
        case p90Ms = "p90_ms"
        case algbwGBs = "algbw_gb_s"
    }
}

/// Linear interpolation between closest ranks (numpy's default), on sorted values.
func percentile(_ sorted: [Double], _ q: Double) -> Double {
    guard !sorted.isEmpty else { return .nan }
    let x = q * Double(sorted.count - 1)
    let i = Int(x.rounded(.down)), f = x - Double(i)
    return i + 1 < sorted.count ? sorted[i] + (sorted[i + 1] - sorted[i]) * f : sorted[i]
}

/// The timed loop, run on the replica's ThreadExecutor. Rank r contributes `(r + 1) + p(i)` with
/// `p(i) = (i mod 1024) / 1024`: every partial sum is exact in Float32, so the result must be
/// `R(R+1)/2 + R·p(i)` bit for bit, whatever order the ring added in.
struct BenchWork: @unchecked Sendable {
    let ring: RingAllReduce
    let rank: Int
    let ranks: Int
    let count: Int
    let warmup: Int
    let iterations: Int

    static func pattern(_ i: Int) -> Float { Float(i & 1023) / 1024 }

    func run() async throws -> [Double] {
        let mine = (0..<count).map { Float(rank + 1) + Self.pattern($0) }
        let expected = (0..<count).map { Float(ranks * (ranks + 1) / 2) + Float(ranks) * Self.pattern($0) }
        // The replica's path: the all-reduce works in place on a stable buffer (its gradient arena).
        let buffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: count)
        defer { buffer.deallocate() }
        buffer.initialize(repeating: 0)
        let clock = SystemRuntimeClock()
        var times: [Double] = []
        times.reserveCapacity(iterations)
        for i in 0..<(warmup + iterations) {
            // Refill in place (untimed): `buffer = mine` would share storage and move the copy
            // into the timed all-reduce.
            mine.withUnsafeBufferPointer { buffer.baseAddress!.update(from: $0.baseAddress!, count: count) }
            let start = clock.instant()
            try await ring.allReduce(buffer, step: UInt64(i + 1))
            let elapsed = clock.elapsed(since: start)
            if let bad = firstMismatch(buffer, expected) {
                throw ValidationError("all-reduce \(i + 1) on rank \(rank): element \(bad) is \(buffer[bad]), expected \(expected[bad])")
            }
            if i >= warmup {
                times.append(Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15)
            }
        }
        return times
    }

    /// The first element whose bits differ (memcmp first: the check stays cheap next to the
    /// all-reduce, so a rank checking does not hold up its peer's next timed call for long).
    func firstMismatch(_ a: UnsafeMutableBufferPointer<Float>, _ b: [Float]) -> Int? {
        b.withUnsafeBytes { y in
            if a.count == b.count && memcmp(a.baseAddress!, y.baseAddress!, y.count) == 0 { return nil }
            return (0..<min(a.count, b.count)).first { a[$0].bitPattern != b[$0].bitPattern } ?? min(a.count, b.count)
        }
    }
}
