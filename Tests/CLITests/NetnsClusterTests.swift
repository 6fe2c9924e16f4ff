import Foundation
import Testing

/// Tier 3 on "several hosts": `Cluster/netns/run` puts the coordinator and each worker in a
/// network namespace of its own (50 ms of delay and 1% loss between them), runs
/// `Cluster/runs/elastic.yaml` on 3 replicas and cuts one of the three student workers off for
/// 10 s, 4 s after the run starts distilling: it is declared dead (6 s window), the ring goes
/// on without it; when the cut ends it comes back, is told to stop its old task, takes its
/// slot back (the ring grows to 3 again), and the run completes. Skipped where network
/// namespaces cannot be made (the script exits 77: not root, no `ip`).
@Suite(.serialized, .enabled(if: dataAvailable, "Fashion-MNIST is not installed: run Scripts/setup"))
struct NetnsClusterTests {
    @Test func aStudentWorkerCutOffWhileDistillingComesBackIntoTheRingAndTheRunCompletes() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let out = try scratchDirectory()
        defer { if ProcessInfo.processInfo.environment["KEEP_TEST_DIRS"] == nil { try? FileManager.default.removeItem(at: out) } }
        let process = Process()
        process.executableURL = root.appendingPathComponent("Cluster/netns/run")
        process.arguments = ["--spec", root.appendingPathComponent("Cluster/runs/elastic.yaml").path, "--students", "3",
                             "--cut-after", "4", "--cut-student", "10", "--dead-ms", "6000", "--timeout", "300"]
        var environment = ProcessInfo.processInfo.environment
        environment["DISTILLERY_BIN"] = binary.path
        environment["OUT"] = out.appendingPathComponent("netns").path
        process.environment = environment
        let log = out.appendingPathComponent("netns.log")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        let deadline = Date().addingTimeInterval(360)
        while process.isRunning && Date() < deadline { usleep(100_000) }
        if process.isRunning { process.terminate(); process.waitUntilExit() }
        let output = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        if process.terminationStatus == 77 {
            print("netns cluster test skipped: \(output.split(separator: "\n").last ?? "")")
            return
        }
        #expect(process.terminationStatus == 0, "\(output)")
        #expect(output.contains("student-3 was lost while distilling: the replicas go on as ring generation"), "\(output)")
        #expect(output.contains("student-3 took back student 2: the replicas go on as ring generation"), "\(output)")
        #expect(output.contains("on 3 replicas (3 at the start; student 2 taken back by student-3"), "\(output)")
        #expect(output.contains("RESULT: completed"), "\(output)")
        // Nothing is left behind: no namespace of this run.
        let list = Process()
        list.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
        list.arguments = ["netns", "list"]
        let pipe = Pipe()
        list.standardOutput = pipe
        if (try? list.run()) != nil {
            list.waitUntilExit()
            let namespaces = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            #expect(!namespaces.contains("distnet-\(process.processIdentifier)-"), "\(namespaces)")
        }
    }
}
