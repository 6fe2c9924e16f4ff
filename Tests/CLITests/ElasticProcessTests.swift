import Foundation
import NN
import Testing

/// Tier 3: an offline run on real processes over ZeroMQ on loopback loses a student worker
/// (kill -9) while distilling; the coordinator declares the next ring generation, the two
/// survivors go on; the worker is restarted and takes its slot back (the ring grows to 3
/// again), and the run completes with the student the same run without the kill produces.
/// Prints the time from the kill to training resumed, and from the restart to the rejoin.
@Suite(.serialized, .enabled(if: dataAvailable, "Fashion-MNIST is not installed: run Scripts/setup"))
struct ElasticProcessTests {
    static let deadMs = 3000
    static let liveness = ["--heartbeat-ms", "250", "--suspect-ms", "1000", "--dead-ms", "\(deadMs)"]

    /// The runs of `runs --json`, by id → (state, reason).
    static func runStates(_ address: String) -> [String: (state: String, reason: String)] {
        guard let r = try? distillery(["runs", "--coordinator", address, "--json", "--timeout", "3"], timeout: 20), r.status == 0,
              let list = (try? JSONSerialization.jsonObject(with: Data(r.out.utf8))) as? [[String: Any]] else { return [:] }
        var out: [String: (String, String)] = [:]
        for run in list {
            if let id = run["run_id"] as? String { out[shortRunIDs(id)] = (run["state"] as? String ?? "", run["reason"] as? String ?? "") }
        }
        return out
    }

    /// `student.test_accuracy` of the run's report.
    static func studentAccuracy(_ address: String, run: String) throws -> Double? {
        let report = try distillery(["report", run, "--coordinator", address, "--json"])
        let json = try JSONSerialization.jsonObject(with: Data(report.out.utf8)) as? [String: Any]
        return (json?["figures"] as? [String: Any])?["student.test_accuracy"] as? Double
    }

    /// The step a worker's current task of `run` reports (`status --json` current_task "RUN/student-R
    /// step D/T"), 0 if none (a status still showing the reference run's last step is not it).
    static func stepOf(_ worker: String, _ address: String, run: String = "run-2") -> Int {
        guard let r = try? distillery(["status", "--coordinator", address, "--json", "--timeout", "3"], timeout: 20), r.status == 0,
              let json = (try? JSONSerialization.jsonObject(with: Data(r.out.utf8))) as? [String: Any],
              let nodes = json["nodes"] as? [[String: Any]],
              let task = nodes.first(where: { $0["name"] as? String == worker })?["current_task"] as? String,
              shortRunIDs(task).hasPrefix("\(run)/"), let range = task.range(of: " step ") else { return 0 }
        return Int(task[range.upperBound...].prefix { $0.isNumber }) ?? 0
    }

    /// A worker process named `name` with its cache under `dir`, logging to `dir/log`.
    static func worker(_ name: String, roles: String, coordinator: String, dir: URL, log: String) throws -> Node {
        try Node(["worker", "--coordinator", coordinator, "--roles", roles, "--advertise", "127.0.0.1",
                  "--name", name, "--cache-dir", dir.appendingPathComponent("cache-\(name)").path],
                 log: dir.appendingPathComponent(log))
    }

    /// Starts t1 (teacher) and s1, s2 (students) for the coordinator at `address`, waits until
    /// they are alive, writes the spec `name`.yaml of an offline run of a `mlp:784-512-512-10`
    /// student on 2 replicas for `epochs` (10 momentum steps each) and runs it once to the end as
    /// run-1, the fault-free reference (returned).
    static func oneTeacherTwoStudents(address: String, dir: URL, coordinator: Node, spec name: String,
                                      epochs: Int) throws -> (workers: [String: Node], spec: URL, reference: [Float]) {
        var workers: [String: Node] = [:]
        for (worker, roles) in [("t1", "teacher"), ("s1", "student"), ("s2", "student")] {
            workers[worker] = try Self.worker(worker, roles: roles, coordinator: address, dir: dir, log: "\(worker).log")
        }
        #expect(eventually(timeout: 20) { Set(nodeStates(address).filter { $0.value == "alive" }.keys) == ["t1", "s1", "s2"] },
                "\(coordinator.output)")
        let spec = dir.appendingPathComponent("\(name).yaml")
        try """
        name: \(name)
        dataset: { train-limit: 6000, validation: 500 }
        teachers: [{ model: "mlp:784-64-10", train: { epochs: 2, batch: 100 } }]
        student: { model: "mlp:784-512-512-10" }
        training: { epochs: \(epochs), batch: 600, optimizer: momentum, lr: 0.05 }
        distillation: { mode: offline }
        replicas: 2
        """.write(to: spec, atomically: true, encoding: .utf8)
        let first = try distillery(["submit", spec.path, "--coordinator", address, "--watch"], timeout: 300)
        #expect(first.status == 0, "\(first.out)\n\(first.err)")
        return (workers, spec, try Self.studentParameters(dir, run: "run-1"))
    }

    static func studentParameters(_ dir: URL, run: String) throws -> [Float] {
        let path = artifactsDirectory(dir, run: run).appendingPathComponent("student.safetensors").path
        let model = try ModelCheckpoint.read(from: path).model
        return Array(UnsafeBufferPointer(start: model.parameters.pointer, count: model.parameterCount))
    }

    @Test func killingAStudentWorkerWhileDistillingLeavesTheStudentUnchanged() throws {
        let dir = try scratchDirectory()
        defer { if ProcessInfo.processInfo.environment["KEEP_TEST_DIRS"] == nil { try? FileManager.default.removeItem(at: dir) } }
        let address = "tcp://127.0.0.1:\(freePort())"
        let coordinator = try Node(["coordinator", "--listen", address, "--state-dir", dir.appendingPathComponent("state").path,
                                    "--rejoin-lead-ms", "1000"] + Self.liveness, log: dir.appendingPathComponent("coordinator.log"))
        var workers: [String: Node] = [:]
        func startWorker(_ name: String, roles: String, log: String) throws -> Node {
            try Self.worker(name, roles: roles, coordinator: address, dir: dir, log: log)
        }
        for (name, roles) in [("t1", "teacher"), ("s1", "student"), ("s2", "student"), ("s3", "student")] {
            workers[name] = try startWorker(name, roles: roles, log: "\(name).log")
        }
        let names = ["t1", "s1", "s2", "s3"]
        #expect(eventually(timeout: 20) { Set(nodeStates(address).filter { $0.value == "alive" }.keys) == Set(names) },
                "\(coordinator.output)")
        let spec = dir.appendingPathComponent("elastic.yaml")
        try """
        name: elastic
        dataset: { train-limit: 6000, validation: 500 }
        teachers: [{ model: "mlp:784-64-10", train: { epochs: 2, batch: 100 } }]
        student: { model: "mlp:784-1024-1024-10" }
        training: { epochs: 30, batch: 600, optimizer: momentum, lr: 0.05 }
        distillation: { mode: offline }
        replicas: 3
        """.write(to: spec, atomically: true, encoding: .utf8)

        // The fault-free run.
        let first = try distillery(["submit", spec.path, "--coordinator", address, "--watch"], timeout: 300)
        #expect(first.status == 0, "\(first.out)\n\(first.err)")
        let reference = try Self.studentParameters(dir, run: "run-1")

        // The same run; a student worker is killed as soon as it distils.
        let submitted = try distillery(["submit", spec.path, "--coordinator", address])
        #expect(submitted.status == 0, "\(submitted.err)")
        // Killed part-way through epoch 2 (10 steps per epoch), so the survivors have cached
        // targets; a big student (1.9 M parameters) makes the steps slow enough for the restarted
        // worker to join well before the end. Momentum SGD: with AdamW, parameters whose gradient
        // is about 0 move by about ±lr whatever its last bits (m/√v), so the order of the
        // floating-point sums in the steps on 2 replicas shows in max |Δθ| (about 1e-3 here, with
        // the same accuracy); docs/BENCHMARKS.md "Elastic runs".
        let victim = "s2"
        #expect(eventually(timeout: 120) { Self.stepOf(victim, address) >= 25 })
        workers[victim]!.kill()
        let killed = Date()
        let survivors = ["s1", "s3"]
        var changed: TimeInterval?, resumed: TimeInterval?, restarted: Date?, rejoined: TimeInterval?
        var stepAtRestart = 0
        let ended = eventually(timeout: 180) {
            if changed == nil, coordinator.output.contains("was lost while distilling") { changed = Date().timeIntervalSince(killed) }
            if resumed == nil, survivors.allSatisfy({ shortRunIDs(workers[$0]!.output).contains("run-2/student") && workers[$0]!.output.contains("ring generation 2") }) {
                resumed = Date().timeIntervalSince(killed)
            }
            if resumed != nil, restarted == nil, let node = try? startWorker(victim, roles: "student", log: "\(victim)-restarted.log") {
                workers[victim] = node  // the same name and cache: its shard is still there
                restarted = Date()
                stepAtRestart = Self.stepOf("s1", address)
            }
            if let restarted, rejoined == nil, workers[victim]!.output.contains("joins ring generation") {
                rejoined = Date().timeIntervalSince(restarted)
            }
            return ["completed", "failed"].contains(Self.runStates(address)["run-2"]?.state ?? "")
        }
        #expect(ended)
        let final = Self.runStates(address)["run-2"]
        #expect(final?.state == "completed", "\(final?.reason ?? "")\n\(coordinator.output)")
        #expect(final?.reason.contains("on 3 replicas (3 at the start; student 1 taken back by s2 (lost with s2))") == true,
                "\(final?.reason ?? "")")
        let logs = try distillery(["logs", "run-2", "--coordinator", address])
        #expect(logs.out.contains("\(victim) was lost while distilling: the replicas go on as ring generation 2"), "\(logs.out)")
        #expect(logs.out.contains("\(victim) took back student 1: the replicas go on as ring generation 3"), "\(logs.out)")
        let resumedLine = survivors.compactMap { workers[$0]!.output.components(separatedBy: "\n").first { $0.contains("ring generation 2") } }
        let student = try Self.studentParameters(dir, run: "run-2")
        let accuracy = (try Self.studentAccuracy(address, run: "run-1"), try Self.studentAccuracy(address, run: "run-2"))
        let diff = zip(student, reference).map { abs($0 - $1) }.max() ?? .infinity
        print("elastic process: kill -9 \(victim) → ring changed after \(changed.map { String(format: "%.2f s", $0) } ?? "?"), "
            + "training resumed after \(resumed.map { String(format: "%.2f s", $0) } ?? "?") (dead window \(Self.deadMs) ms); "
            + "\(resumedLine.first ?? ""); restarted at step \(stepAtRestart) of 300, joined the ring "
            + "\(rejoined.map { String(format: "%.2f s", $0) } ?? "?") later; max |θ − θ_fault-free| = \(diff); test accuracy "
            + "\(accuracy.1 ?? -1) (fault-free \(accuracy.0 ?? -1))")
        // The control: the same run on 2 replicas throughout, fault-free. It differs from the
        // 3-replica run only by the order of floating-point sums, over every step; the faulty run
        // trained ~10 steps on 2 replicas, so it may differ by no more than that (1e-5 at least).
        let two = dir.appendingPathComponent("two.yaml")
        try String(contentsOf: spec, encoding: .utf8).replacingOccurrences(of: "replicas: 3", with: "replicas: 2")
            .write(to: two, atomically: true, encoding: .utf8)
        let control = try distillery(["submit", two.path, "--coordinator", address, "--watch"], timeout: 300)
        #expect(control.status == 0, "\(control.out)\n\(control.err)")
        let resplit = zip(try Self.studentParameters(dir, run: "run-3"), reference).map { abs($0 - $1) }.max() ?? .infinity
        print("elastic process: the same run on 2 replicas, fault-free: max |θ − θ_3 replicas| = \(resplit)")
        // Within 0.1 points (the issue's bound): parameters a few 1e-4 apart may flip a sample.
        #expect(accuracy.0 != nil && accuracy.1 != nil && abs((accuracy.0 ?? 0) - (accuracy.1 ?? 1)) <= 0.001,
                "\(String(describing: accuracy))")
        #expect(student.count == reference.count && diff <= max(1e-5, resplit), "\(diff) vs re-split \(resplit)")
        #expect(resumed.map { $0 <= Double(Self.deadMs) / 1000 + 2 } == true, "resumed after \(resumed ?? -1) s")
        withExtendedLifetime(workers) {}
    }

    /// A teacher's worker killed (kill -9) while the replicas still need its logits — in epoch 0
    /// of an offline run, in epoch 1 of an online one: the coordinator places the teacher on the
    /// other teacher worker, which loads the stored checkpoint and streams epoch 0 again
    /// (offline) or loads the lost teacher's state of the start of epoch 1 and trains again
    /// through the steps since (online; with a mutual term on the other teacher's logits of
    /// those steps, which it gives as asked); the run completes with the same student, bit for bit.
    @Test(arguments: [(mode: "offline", killAt: 20), (mode: "online", killAt: 504), (mode: "online, mutual: 0.5", killAt: 504)])
    func killingATeacherWorkerLeavesTheStudentBitIdentical(mode: String, killAt: Int) throws {
        let dir = try scratchDirectory()
        defer { if ProcessInfo.processInfo.environment["KEEP_TEST_DIRS"] == nil { try? FileManager.default.removeItem(at: dir) } }
        let address = "tcp://127.0.0.1:\(freePort())"
        let coordinator = try Node(["coordinator", "--listen", address, "--state-dir", dir.appendingPathComponent("state").path]
                                   + Self.liveness, log: dir.appendingPathComponent("coordinator.log"))
        var workers: [String: Node] = [:]
        for (name, roles) in [("t1", "teacher"), ("t2", "teacher"), ("s1", "student"), ("s2", "student")] {
            workers[name] = try Self.worker(name, roles: roles, coordinator: address, dir: dir, log: "\(name).log")
        }
        #expect(eventually(timeout: 20) { Set(nodeStates(address).filter { $0.value == "alive" }.keys) == Set(workers.keys) },
                "\(coordinator.output)")
        // An epoch is 484 steps of 60 images: the kill lands in epoch 0, or 20 steps into epoch 1.
        let spec = dir.appendingPathComponent("teachers.yaml")
        try """
        name: teacher-lost
        dataset: { train-limit: 30000, validation: 1000 }
        teachers:
          - { model: "mlp:784-64-10", train: { epochs: 1, batch: 100, seed: 1 } }
          - { model: "mlp:784-32-10", train: { epochs: 1, batch: 100, seed: 2 } }
        student: { model: "mlp:784-128-10" }
        training: { epochs: 2, batch: 60 }
        distillation: { mode: \(mode) }
        replicas: 2
        """.write(to: spec, atomically: true, encoding: .utf8)
        let first = try distillery(["submit", spec.path, "--coordinator", address, "--watch"], timeout: 300)
        #expect(first.status == 0, "\(first.out)\n\(first.err)")
        let reference = try Self.studentParameters(dir, run: "run-1")
        let placement = try distillery(["logs", "run-1", "--coordinator", address]).out
        let victim = placement.contains("teachers on t1, t2") ? "t2" : "t1", other = victim == "t2" ? "t1" : "t2"

        let submitted = try distillery(["submit", spec.path, "--coordinator", address])
        #expect(submitted.status == 0, "\(submitted.err)")
        #expect(eventually(timeout: 120) { Self.stepOf("s1", address) >= killAt })
        workers[victim]!.kill()
        let killed = Date()
        let ended = eventually(timeout: 240) { ["completed", "failed"].contains(Self.runStates(address)["run-2"]?.state ?? "") }
        #expect(ended)
        let final = Self.runStates(address)["run-2"]
        let workerLogs = "\(other):\n\(workers[other]!.output)\ns1:\n\(workers["s1"]!.output)"
        #expect(final?.state == "completed", "\(final?.reason ?? "")\n\(coordinator.output)\n\(workerLogs)")
        let logs = try distillery(["logs", "run-2", "--coordinator", address]).out
        #expect(logs.contains("\(victim) was lost with teacher 1 while the replicas still need its logits"), "\(logs)")
        #expect(logs.contains("teacher 1 (lost with \(victim)) re-placed on \(other)"), "\(logs)")
        if mode.hasPrefix("online") {
            #expect(logs.contains("teacher-1-state.safetensors at step 484 (epoch 1) stored"), "\(logs)")
            #expect(logs.contains("teacher 1 state ") && logs.contains("offered to \(other)"), "\(logs)")
            #expect(shortRunIDs(workers[other]!.output).contains("run-2/teacher-1: goes on from teacher 1's state at step 484 (epoch 1)"),
                    "\(workers[other]!.output)")
        }
        if mode.contains("mutual") {
            #expect(shortRunIDs(workers[other]!.output).contains("run-2/teacher-0: teacher 0 gives teacher 1, which trains again from global step 484"),
                    "\(workers[other]!.output)")
        }
        let student = try Self.studentParameters(dir, run: "run-2")
        let diff = zip(student, reference).map { abs($0 - $1) }.max() ?? .infinity
        print("elastic process (\(mode)): kill -9 \(victim) (teacher 1) at s1's step ≥ \(killAt) → run-2 \(final?.state ?? "?") "
            + "\(String(format: "%.1f s", Date().timeIntervalSince(killed))) after the kill; max |θ − θ_fault-free| = \(diff)")
        #expect(student.count == reference.count && diff == 0)
        withExtendedLifetime(workers) {}
    }

    /// kill -9 of the coordinator while the replicas distil: they keep training, hold their
    /// reports and register again with the coordinator started anew on the same state
    /// directory, which takes the run back from its database; the run completes with the
    /// student of the fault-free run, bit for bit, and `logs` shows the gap.
    @Test func killingTheCoordinatorMidRunAndRestartingItLeavesTheStudentBitIdentical() throws {
        let dir = try scratchDirectory()
        defer { if ProcessInfo.processInfo.environment["KEEP_TEST_DIRS"] == nil { try? FileManager.default.removeItem(at: dir) } }
        let address = "tcp://127.0.0.1:\(freePort())"
        func startCoordinator(_ log: String) throws -> Node {
            try Node(["coordinator", "--listen", address, "--state-dir", dir.appendingPathComponent("state").path] + Self.liveness,
                     log: dir.appendingPathComponent(log))
        }
        var coordinator = try startCoordinator("coordinator.log")
        let (workers, spec, reference) = try Self.oneTeacherTwoStudents(address: address, dir: dir, coordinator: coordinator,
                                                                         spec: "restart", epochs: 60)

        let submitted = try distillery(["submit", spec.path, "--coordinator", address])
        #expect(submitted.status == 0, "\(submitted.err)")
        var stepAtKill = 0
        #expect(eventually(timeout: 120) { stepAtKill = Self.stepOf("s1", address); return stepAtKill >= 30 })
        coordinator.kill()
        _ = coordinator.waitForExit(timeout: 5)
        let killed = Date()
        // Down for 3 s (the workers' silence window): they go on training meanwhile.
        usleep(3_000_000)
        coordinator = try startCoordinator("coordinator-2.log")
        let restarted = Date()
        var wentOn: TimeInterval?, stepAfter = 0
        let ended = eventually(timeout: 240) {
            if wentOn == nil, coordinator.output.contains("goes on after the coordinator's restart") {
                wentOn = Date().timeIntervalSince(restarted)
            }
            // The first step `status` shows after the restart (once s1's heartbeats name its task).
            if wentOn != nil, stepAfter == 0 { stepAfter = Self.stepOf("s1", address) }
            return ["completed", "failed", "interrupted"].contains(Self.runStates(address)["run-2"]?.state ?? "")
        }
        #expect(ended)
        let final = Self.runStates(address)["run-2"]
        #expect(final?.state == "completed", "\(final?.reason ?? "")\n\(coordinator.output)")
        let logs = try distillery(["logs", "run-2", "--coordinator", address]).out
        #expect(logs.contains("the coordinator restarted while the run was distilling"), "\(logs)")
        #expect(logs.contains("goes on after the coordinator's restart: "), "\(logs)")
        let stepsDuringGap = workers["s1"]!.output.contains("registering again")
        let student = try Self.studentParameters(dir, run: "run-2")
        let diff = zip(student, reference).map { abs($0 - $1) }.max() ?? .infinity
        print("elastic process: kill -9 of the coordinator at s1's step ≥ 30 of 600, "
            + "restarted 3 s later → run-2 went on \(wentOn.map { String(format: "%.2f s", $0) } ?? "?") after the restart, "
            + "s1 at step \(stepAfter) soon after (\(stepAtKill) at the kill: it kept training), "
            + "\(final?.state ?? "?") \(String(format: "%.1f s", Date().timeIntervalSince(killed))) after the kill; "
            + "max |θ − θ_fault-free| = \(diff)")
        #expect(stepsDuringGap, "s1 noticed the coordinator's silence and registered again")
        #expect(stepAfter == 0 || stepAfter > stepAtKill, "s1 trained on: step \(stepAfter) after, \(stepAtKill) at the kill")
        #expect(student.count == reference.count && diff == 0)
        withExtendedLifetime(workers) {}
    }

    /// Everything lost at once: both student workers are killed (kill -9) mid-run, the run
    /// fails; they are started again and `distillery resume` continues the run from rank 0's
    /// last checkpoint (each epoch) as a new run whose student is the uninterrupted one, bit for bit.
    @Test func killingEveryStudentWorkerAndResumingTheRunLeavesTheStudentBitIdentical() throws {
        let dir = try scratchDirectory()
        defer { if ProcessInfo.processInfo.environment["KEEP_TEST_DIRS"] == nil { try? FileManager.default.removeItem(at: dir) } }
        let address = "tcp://127.0.0.1:\(freePort())"
        let coordinator = try Node(["coordinator", "--listen", address, "--state-dir", dir.appendingPathComponent("state").path]
            + Self.liveness, log: dir.appendingPathComponent("coordinator.log"))
        let setUp = try Self.oneTeacherTwoStudents(address: address, dir: dir, coordinator: coordinator, spec: "resume", epochs: 40)
        var workers = setUp.workers
        let spec = setUp.spec, reference = setUp.reference

        #expect(try distillery(["submit", spec.path, "--coordinator", address]).status == 0)
        var stepAtKill = 0
        #expect(eventually(timeout: 120) { stepAtKill = Self.stepOf("s1", address); return stepAtKill >= 100 })
        for name in ["s1", "s2"] { workers[name]!.kill() }
        let killed = Date()
        #expect(eventually(timeout: 60) { Self.runStates(address)["run-2"]?.state == "failed" }, "\(coordinator.output)")
        let failedAfter = Date().timeIntervalSince(killed)
        for name in ["s1", "s2"] {
            _ = workers[name]!.waitForExit(timeout: 5)
            workers[name] = try Self.worker(name, roles: "student", coordinator: address, dir: dir, log: "\(name)-2.log")
        }
        #expect(eventually(timeout: 20) { nodeStates(address).filter { $0.value == "alive" }.count == 3 })
        let started = Date()
        let resumed = try distillery(["resume", "run-2", "--coordinator", address, "--watch"], timeout: 300)
        let took = Date().timeIntervalSince(started)
        #expect(resumed.status == 0, "\(resumed.out)\n\(resumed.err)")
        let line = shortRunIDs(resumed.out.split(separator: "\n").first.map(String.init) ?? "")
        #expect(line.hasPrefix("submitted run-3: resumes run-2 from its checkpoint at step "), "\(resumed.out)")
        let step = Int(line.split(separator: " ").last ?? "") ?? -1
        #expect(Self.runStates(address)["run-3"]?.state == "completed", "\(coordinator.output)")
        let logs = try distillery(["logs", "run-3", "--coordinator", address]).out
        #expect(shortRunIDs(logs).contains("resumes run run-2 from its checkpoint at step \(step) of "), "\(logs)")
        let student = try Self.studentParameters(dir, run: "run-3")
        let diff = zip(student, reference).map { abs($0 - $1) }.max() ?? .infinity
        print("elastic process: kill -9 of both student workers at s1's step ≥ 100 (\(stepAtKill)) → run-2 failed "
            + "\(String(format: "%.1f s", failedAfter)) after the kill; `distillery resume run-2` → run-3 from step \(step) "
            + "(s1 last reported step \(stepAtKill) before the kill), completed \(String(format: "%.1f s", took)) after the resume; "
            + "max |θ − θ_fault-free| = \(diff)")
        // The last checkpoint run-2 stored before the kill (`stepAtKill` lags: task reports go out
        // every 0.5 s, so s1 may have been a checkpoint further when it was killed).
        let before = try distillery(["logs", "run-2", "--coordinator", address]).out.split(separator: "\n")
            .compactMap { line in line.range(of: "resume checkpoint at step ").map { Int(line[$0.upperBound...].prefix { $0.isNumber }) ?? -1 } }
        #expect(step > 0 && step == before.last && step >= stepAtKill - 10, "the last checkpoint before the kill: \(before)")
        #expect(student.count == reference.count && diff == 0)
        withExtendedLifetime(workers) {}
    }
}
