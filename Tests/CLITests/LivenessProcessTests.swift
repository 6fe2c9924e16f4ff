import Foundation
import Testing

/// Tier 3, liveness under stalls: real processes over ZeroMQ on loopback. A coordinator paused
/// (SIGSTOP) for longer than the dead window, and a worker paused for less than it, fool
/// nobody: no worker is declared dead and the run completes.
@Suite(.serialized, .enabled(if: dataAvailable, "Fashion-MNIST is not installed: run Scripts/setup"))
struct LivenessProcessTests {
    @Test func aPausedCoordinatorOrWorkerFailsNoRun() throws {
        let dir = try scratchDirectory()
        defer { if ProcessInfo.processInfo.environment["KEEP_TEST_DIRS"] == nil { try? FileManager.default.removeItem(at: dir) } }
        let address = "tcp://127.0.0.1:\(freePort())"
        let processes = ClusterProcessTests()
        let coord = try processes.coordinator(dir, address, log: "coordinator.log")
        let workers = try ["w1", "w2"].map { try processes.worker(dir, address, $0, roles: "teacher,student") }
        #expect(eventually(timeout: 20) { nodeStates(address) == ["w1": "alive", "w2": "alive"] }, "\(coord.output)")
        let spec = dir.appendingPathComponent("run.yaml")
        try """
        name: paused
        dataset: { train-limit: 3000, validation: 300 }
        teachers: [{ model: "mlp:784-32-10", train: { epochs: 12, batch: 50 } }]
        student: { model: "mlp:784-16-10" }
        training: { batch: 100, epochs: 2 }
        replicas: 2
        """.write(to: spec, atomically: true, encoding: .utf8)
        let submitted = try distillery(["submit", spec.path, "--coordinator", address])
        #expect(submitted.status == 0, "\(submitted.err)")

        // The coordinator is paused for 8 s (the dead window is 3 s) while the run is in flight.
        kill(coord.pid, SIGSTOP)
        usleep(8_000_000)
        kill(coord.pid, SIGCONT)
        // A worker is paused for 2 s: suspect at most.
        usleep(500_000)
        kill(workers[1].pid, SIGSTOP)
        usleep(2_000_000)
        kill(workers[1].pid, SIGCONT)

        var state = ""
        let ended = eventually(timeout: 180) {
            let runs = try? distillery(["runs", "--coordinator", address, "--json"], timeout: 20)
            let list = runs.flatMap { try? JSONSerialization.jsonObject(with: Data($0.out.utf8)) as? [[String: Any]] }
            state = (list?.first?["state"] as? String) ?? ""
            return ["completed", "failed", "cancelled", "interrupted"].contains(state)
        }
        #expect(ended && state == "completed", "run state \(state); coordinator log:\n\(coord.output)")
        let events = try distillery(["logs", "--coordinator", address])
        #expect(!events.out.contains("is dead"), "\(events.out)")
        #expect(coord.output.contains("could not listen for"), "the coordinator noticed its own stall:\n\(coord.output)")
        #expect(nodeStates(address) == ["w1": "alive", "w2": "alive"])
        withExtendedLifetime(workers) {}
    }
}
