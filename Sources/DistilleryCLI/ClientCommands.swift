import ArgumentParser
import CLIOutput
import ClusterRuntime
import Foundation
import Logging
import RunSpec
import TransportZMQ
import Wire
import FileSupport

/// Options every command that talks to the coordinator shares.
struct ClientOptions: ParsableArguments {
    @Option(help: "The coordinator's control endpoint (default: $DISTILLERY_COORDINATOR, else tcp://127.0.0.1:7878).")
    var coordinator: String = defaultCoordinator()
    @Flag(help: "Print JSON instead of text.") var json = false
    @Option(help: "Seconds to wait for the coordinator's answer.") var timeout: Double = 5
    @Option(help: "Keys directory: this client's NAME.key and the coordinator's coordinator.pub (default: $DISTILLERY_KEYS, else ~/.config/distillery/keys; none: plaintext).")
    var keys: String?

    /// Connects, runs `body`, and always shuts the transport down (bounded).
    func withClient<T>(_ body: (ControlClient) async throws -> T) async throws -> T {
        guard timeout > 0, timeout <= 3600 else { throw ValidationError("--timeout must be in (0, 3600] seconds") }
        var logger = Logger(label: "distillery.cli")
        logger.logLevel = .error
        let (security, nodeKeys) = try NodeSecurity.client(flag: keys)
        let transport = try ZMQTransport(name: "cli", security: security, logger: logger)
        do {
            let client = try await ControlClient(transport: transport, coordinator: coordinator,
                                                 timeout: .milliseconds(Int(timeout * 1000)),
                                                 keys: nodeKeys.map { ClientKeys(publicKey: $0.pair.publicKey, directory: $0.directory,
                                                                                 publicFile: $0.publicFile) }
                                                     ?? ClientKeys(publicKey: "", directory: NodeKeys.directory(
                                                         flag: keys, environment: ProcessInfo.processInfo.environment,
                                                         home: NSHomeDirectory())))
            let result = try await body(client)
            await client.close()
            await transport.shutdown()
            return result
        } catch let error as ControlError {
            await transport.shutdown()
            throw CLIError(error.description)
        } catch {
            await transport.shutdown()
            throw error
        }
    }
}

func unexpected(_ body: Body) -> CLIError {
    CLIError("the coordinator answered with an unexpected \(body.name) message")
}

struct Submit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Submit a run spec (YAML) to the coordinator.",
        discussion: "The spec is checked here first, then again by the coordinator; every problem names its field. "
            + "Examples and the grammar: Cluster/runs/.")

    @Argument(help: "The run spec file.") var file: String
    @Flag(help: "Follow the run until it ends (like `distillery watch`).") var watch = false
    @OptionGroup var client: ClientOptions

    /// Attempts per submission: a retry after a silent timeout is safe (same idempotency key).
    static let attempts = 3

    func run() async throws {
        // Refused before reading it all: the coordinator would refuse it anyway.
        if let size = (try? FileManager.default.attributesOfItem(atPath: file))?[.size] as? NSNumber,
           size.intValue > RunSpec.maxYAMLBytes {
            throw CLIError("cannot submit \(file): \(RunSpec.sizeProblem(bytes: size.intValue))")
        }
        let text: String
        do { text = try String(contentsOfFile: file, encoding: .utf8) } catch {
            throw CLIError("cannot read \(file): \(error.localizedDescription)")
        }
        let spec: RunSpec
        do { spec = try RunSpec(yaml: text, fileName: file) } catch { throw CLIError(error.description) }
        // Paths in a spec file are relative to the file's directory; the coordinator takes only
        // absolute ones (docs/PROTOCOL.md "Submit").
        let resolved = spec.resolvingPaths(ofFile: file)
        let canonical = resolved.canonicalYAML()
        guard canonical.utf8.count <= RunSpec.maxYAMLBytes else {
            throw CLIError("cannot submit \(file): written out in full, \(RunSpec.sizeProblem(bytes: canonical.utf8.count))")
        }
        // One key per invocation: every retry below is the same submission, never a second run.
        let submission = SubmitRun(specYaml: canonical, fileName: file, idempotencyKey: UUID().uuidString)
        let runID: String = try await client.withClient { c in
            let reply = try await c.request(.submitRun(submission), attempts: Submit.attempts) { attempt, error in
                var silence = "\(error)"
                if case .unreachable(let address, _) = error {
                    silence = "no answer from the coordinator at \(address) within \(String(format: "%g", client.timeout)) s"
                }
                FileHandle.standardError.write(Data(("distillery submit: \(silence); retrying (attempt \(attempt) of "
                    + "\(Submit.attempts)) with the same idempotency key, so the run is created at most once\n").utf8))
            }
            guard case .submitRunReply(let r) = reply else { throw unexpected(reply) }
            guard r.accepted else {
                let lines = r.errors.map { "  - \($0.field.isEmpty ? "" : $0.field + ": ")\($0.message)" }
                throw CLIError("the coordinator refused \(file):\n" + lines.joined(separator: "\n"))
            }
            if client.json { printJSON(SubmitOutput(runID: r.runID, accepted: true)) } else { print("submitted \(r.runID) (\(spec.name))") }
            if watch { try await followRun(r.runID, client: c, json: client.json) }
            return r.runID
        }
        _ = runID
    }
}

struct Resume: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Continue an ended run (failed, interrupted or cancelled) from its last checkpoint, as a new run.",
        discussion: "The new run has the ended run's spec; its replicas load the checkpoint rank 0 sent every "
            + "elastic.checkpoint-every steps (default: each epoch) and train on from its step, so the student is the one an "
            + "uninterrupted run gives, bit for bit. A run that left no checkpoint starts again from step 0, reusing its "
            + "stored teachers. Offline runs only.")

    @Argument(help: "The ended run's id, or run-N / N (see `distillery runs`).") var run: String
    @Flag(help: "Follow the new run until it ends (like `distillery watch`).") var watch = false
    @OptionGroup var client: ClientOptions

    func run() async throws {
        let submission = SubmitRun(idempotencyKey: UUID().uuidString, resumeRunID: run)
        try await client.withClient { c in
            let reply = try await c.request(.submitRun(submission), attempts: Submit.attempts) { attempt, error in
                FileHandle.standardError.write(Data(("distillery resume: \(error); retrying (attempt \(attempt) of "
                    + "\(Submit.attempts)) with the same idempotency key, so the run is created at most once\n").utf8))
            }
            guard case .submitRunReply(let r) = reply else { throw unexpected(reply) }
            guard r.accepted else {
                let lines = r.errors.map { "  - \($0.message)" }
                throw CLIError("the coordinator refused to resume \(run):\n" + lines.joined(separator: "\n"))
            }
            if client.json {
                printJSON(SubmitOutput(runID: r.runID, accepted: true, resumes: run, resumeStep: r.resumeStep))
            } else if r.resumeStep > 0 {
                print("submitted \(r.runID): resumes \(run) from its checkpoint at step \(r.resumeStep)")
            } else {
                print("submitted \(r.runID): resumes \(run) from the beginning (it left no checkpoint)")
            }
            if watch { try await followRun(r.runID, client: c, json: client.json) }
        }
    }
}

struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the cluster's nodes: roles, address, liveness, load, current task.",
        discussion: """
            --watch refreshes the table every second until Ctrl-C (like `watch kubectl get nodes`), \
            nodes sorted by state (alive, suspect, dead, left) then name, and coloured by state on \
            a terminal unless NO_COLOR is set.
            """)
    @Flag(help: "Refresh every second until interrupted.") var watch = false
    @OptionGroup var client: ClientOptions

    func run() async throws {
        guard watch else {
            let status = try await fetch()
            if client.json { printJSON(StatusOutput(status)) } else { print(Self.text(status, coordinator: client.coordinator, colour: false)) }
            return
        }
        let terminal = isatty(STDOUT_FILENO) != 0
        let colour = terminal && ProcessInfo.processInfo.environment["NO_COLOR"].map(\.isEmpty) != false
        while !Task.isCancelled {
            let status = try await fetch()
            if client.json {
                printJSON(StatusOutput(status))
            } else {
                // Home and clear on a terminal: the table stays in place.
                print((terminal ? "\u{1B}[H\u{1B}[2J" : "") + Format.timestamp(unixMs: UInt64(Date().timeIntervalSince1970 * 1000))
                      + "  (every 1 s; Ctrl-C to stop)\n" + Self.text(status, coordinator: client.coordinator, colour: colour))
            }
            fflush(nil)
            try await Task.sleep(for: .seconds(1))
        }
    }

    private func fetch() async throws -> ClusterStatus {
        try await client.withClient { c in
            let reply = try await c.request(.statusRequest(StatusRequest()))
            guard case .clusterStatus(let s) = reply else { throw unexpected(reply) }
            return s
        }
    }

    /// Liveness states in the order `--watch` lists them, with their ANSI colour.
    static let order: [NodeState: (rank: Int, colour: String)] = [
        .alive: (0, "\u{1B}[32m"), .suspect: (1, "\u{1B}[33m"), .dead: (2, "\u{1B}[31m"), .left: (3, "\u{1B}[2m"),
    ]

    /// The status as text: the header line, the node table (sorted by state then name), refused keys.
    static func text(_ status: ClusterStatus, coordinator: String, colour: Bool) -> String {
        var out = ["coordinator \(coordinator) (version \(status.coordinatorVersion), \(status.security.text)): "
                   + "\(status.nodes.count) worker(s)"]
        if !status.nodes.isEmpty {
            let nodes = status.nodes.sorted { (order[$0.state]?.rank ?? 9, $0.name) < (order[$1.state]?.rank ?? 9, $1.name) }
            let rows = nodes.map { n in
                [n.name, n.roles.map { "\($0)" }.joined(separator: ","), n.address, "\(n.state)",
                 Format.age(milliseconds: n.lastHeardMsAgo), String(format: "%.0f%%", Double(n.cpuPercent)), ByteCount.text(n.rssBytes),
                 n.currentTask.isEmpty ? "-" : n.currentTask]
            }
            let lines = TextTable(header: ["NODE", "ROLES", "ADDRESS", "STATE", "HEARD", "CPU", "RSS", "TASK"], rows: rows,
                                  alignments: [.left, .left, .left, .left, .right, .right, .right]).render().split(separator: "\n")
            for (i, line) in lines.enumerated() {
                guard colour, i > 0, i - 1 < nodes.count, let c = order[nodes[i - 1].state]?.colour else { out.append(String(line)); continue }
                out.append(c + line + "\u{1B}[0m")
            }
        }
        if !status.refusedKeys.isEmpty {
            out.append("refused keys:")
            let rows = status.refusedKeys.map { k in
                [k.publicKey.isEmpty ? "(no CURVE key)" : k.publicKey, k.name.isEmpty ? "-" : k.name, String(k.count),
                 Format.age(milliseconds: k.lastMsAgo), k.reason]
            }
            out.append(TextTable(header: ["KEY", "NAME", "COUNT", "LAST", "REASON"], rows: rows,
                                 alignments: [.left, .left, .right, .right, .left]).render())
        }
        return out.joined(separator: "\n")
    }
}

struct Runs: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List runs, newest first (the history survives coordinator restarts).")
    @Option(help: "Show at most this many runs (0 = all).") var limit: UInt32 = 0
    @OptionGroup var client: ClientOptions

    func run() async throws {
        let list: RunList = try await client.withClient { c in
            let reply = try await c.request(.listRuns(ListRuns(limit: limit)))
            guard case .runList(let l) = reply else { throw unexpected(reply) }
            return l
        }
        if client.json {
            printJSON(list.runs.map(RunOutput.init))
            return
        }
        guard !list.runs.isEmpty else { print("no runs yet; `distillery submit FILE` starts one"); return }
        let rows = list.runs.map { r in
            [r.runID, r.name, r.state.text, Format.timestamp(unixMs: r.submittedUnixMs), Format.timestamp(unixMs: r.updatedUnixMs),
             r.reason.isEmpty ? "-" : r.reason]
        }
        TextTable(header: ["RUN", "NAME", "STATE", "SUBMITTED", "UPDATED", "REASON"], rows: rows).print()
    }
}

struct Watch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Follow a run live until it ends; exit 0 only if it completed.",
        discussion: """
            On a terminal the screen is redrawn in place: the phase with a bar, rate and ETA, each \
            teacher while teachers train, then the student's numbers with the curves of its \
            training loss and validation accuracy per epoch, samples/s, the split of a step and \
            the replicas. Piped, or with --no-tty, one plain line per change; with --json one \
            JSON object per update.
            """)
    @Argument(help: "Run id, or run-N / N (see `distillery runs`).") var run: String
    @Flag(help: "Plain lines even on a terminal.") var noTTY = false
    @OptionGroup var client: ClientOptions

    func run() async throws {
        try await client.withClient { c in try await followRun(run, client: c, json: client.json, plain: noTTY) }
    }
}

/// Prints updates until the run ends; a run that did not complete is an error (exit 1).
func followRun(_ runID: String, client: ControlClient, json: Bool, plain: Bool = false) async throws {
    let display = ProgressDisplay(json: json, plain: plain)
    let last = try await client.watch(runID: runID) { display.show($0) }
    display.finish(last)
    if last.run.state != .completed {
        throw CLIError("run \(runID) \(last.run.state.text): \(last.run.reason)")
    }
}

struct Cancel: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Cancel a run; its workers stop its tasks.")
    @Argument(help: "Run id, or run-N / N.") var run: String
    @OptionGroup var client: ClientOptions

    func run() async throws {
        let reply: CancelRunReply = try await client.withClient { c in
            let reply = try await c.request(.cancelRun(CancelRun(runID: run)))
            guard case .cancelRunReply(let r) = reply else { throw unexpected(reply) }
            return r
        }
        if client.json { printJSON(CancelOutput(reply)) } else { print(reply.message) }
        if !reply.cancelled { throw ExitCode(1) }
    }
}

struct Logs: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show a run's event log (state changes, placement, tasks, shards); without RUN, the cluster's.")
    @Argument(help: "Run id, or run-N / N (omit for cluster-wide events such as workers joining or dying).") var run: String?
    @Option(help: "Show the newest N events (0 = all).") var limit: UInt32 = 0
    @OptionGroup var client: ClientOptions

    func run() async throws {
        let list: EventList = try await client.withClient { c in
            let reply = try await c.request(.listEvents(ListEvents(runID: run ?? "", limit: limit)))
            guard case .eventList(let l) = reply else { throw unexpected(reply) }
            return l
        }
        if client.json {
            printJSON(list.events.map(EventOutput.init))
            return
        }
        for e in list.events { print("\(Format.timestamp(unixMs: e.atUnixMs))  \(e.kind.padding(toLength: 9, withPad: " ", startingAt: 0)) \(e.message)") }
    }
}

struct Report: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a run's report: each teacher's and the student's parameters, test accuracy and latency, and the compression.")
    @Argument(help: "Run id, or run-N / N.") var run: String
    @Option(help: "Also write the report as a self-contained HTML page (curves as inline SVG) to this file.") var html: String?
    @OptionGroup var client: ClientOptions

    func run() async throws {
        let update: RunUpdate = try await client.withClient { c in
            let reply = try await c.request(.watchRun(WatchRun(runID: run)))
            guard case .runUpdate(let u) = reply else { throw unexpected(reply) }
            return u
        }
        let report = RunReport(update)
        if let html {
            do throws(FileError) { try AtomicFile.write([UInt8](report.html(history: update.history).utf8), to: html) } catch {
                throw CLIError("cannot write the report page to \(html): \(error)")
            }
        }
        if client.json { printJSON(report) } else { print(report.text) }
        if let html, !client.json { print("report page: \(html)") }
    }
}
