import Foundation
import Testing
@testable import ClusterStore

/// A unique temporary directory. Tests write `defer { tmp.remove() }` right after creating it:
/// removal at a fixed point, not whenever ARC ends the object's lifetime (which may be before
/// the store inside it is done).
final class TempDir {
    let path: String

    init() throws {
        path = FileManager.default.temporaryDirectory
            .appendingPathComponent("clusterstore-tests-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    /// Removes the directory and everything in it.
    func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }

    /// A path inside the directory (not created).
    func sub(_ name: String) -> String {
        URL(fileURLWithPath: path).appendingPathComponent(name).path
    }
}

/// Runs `body`, expects a `ClusterStoreError` whose message contains every string of `parts`,
/// and returns the message ("" if nothing was thrown).
@discardableResult
func expectStoreError(
    containing parts: [String], sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () throws -> Void
) -> String {
    do {
        try body()
        Issue.record("expected a ClusterStoreError containing \(parts)", sourceLocation: sourceLocation)
        return ""
    } catch let error as ClusterStoreError {
        for part in parts {
            #expect(error.message.contains(part), "\(part.debugDescription) missing from: \(error.message)",
                    sourceLocation: sourceLocation)
        }
        #expect(error.description == error.message, sourceLocation: sourceLocation)
        return error.message
    } catch {
        Issue.record("expected a ClusterStoreError, got \(type(of: error)): \(error)", sourceLocation: sourceLocation)
        return ""
    }
}

/// Runs /usr/bin/sqlite3 on `database` with `script` on its stdin, which stays open (so the
/// process stays alive) until `kill` or `finish`.
final class SQLiteShell {
    static let executable = "/usr/bin/sqlite3"
    static var isAvailable: Bool { FileManager.default.isExecutableFile(atPath: executable) }

    let process = Process()
    private let input = Pipe()

    init(database: String, script: String) throws {
        process.executableURL = URL(fileURLWithPath: Self.executable)
        process.arguments = [database]
        process.standardInput = input
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        input.fileHandleForWriting.write(Data(script.utf8))
    }

    /// Kills the process with SIGKILL (no chance to clean up) and waits for it.
    func kill() {
        guard process.isRunning else { return }  // never signal a reaped (possibly reused) pid
        _ = Foundation.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// Closes stdin (the shell exits normally) and waits.
    func finish() {
        try? input.fileHandleForWriting.close()
        process.waitUntilExit()
    }
}

/// Polls until `path` exists, up to `seconds`.
func waitForFile(_ path: String, seconds: Double = 20) async throws -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if FileManager.default.fileExists(atPath: path) { return true }
        try await Task.sleep(for: .milliseconds(20))
    }
    return false
}

func sampleWorker(_ name: String, roles: [String] = ["teacher"], state: String = "alive", lastSeenMs: Int64 = 1_000)
    -> WorkerRecord
{
    WorkerRecord(
        name: name, roles: roles, address: "tcp://\(name):7879", cores: 8, memoryBytes: 16 << 30,
        version: "0.4.0", state: state, lastSeenMs: lastSeenMs)
}

extension String {
    /// "run-4" of a run id "run-4-k7q2m9xa": the random part is checked (8 characters of
    /// ``RunID``'s alphabet) and dropped; an id of any other form is returned as it is, so
    /// that comparing it with "run-4" fails.
    var short: String {
        let parts = split(separator: "-")
        guard parts.count == 3, parts[0] == "run", Int(parts[1]) != nil, parts[2].count == RunID.randomCharacters,
              parts[2].allSatisfy({ RunID.alphabet.contains($0) }) else { return self }
        return "run-\(parts[1])"
    }
}

extension ClusterStore {
    /// The full id of the run "run-N" (the test's shorthand); "" when there is none.
    func id(_ reference: String) throws -> String {
        try run(reference: reference)?.id ?? ""
    }
}
