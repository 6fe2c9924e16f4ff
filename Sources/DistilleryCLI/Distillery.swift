import ArgumentParser
import TransportZMQ

/// `distillery` — the composition root: cluster nodes (coordinator, worker, up), the client
/// commands that talk to the coordinator, single-process training commands and key management.
/// The benchmarks are a separate executable, `distillery-bench`.
@main
struct Distillery: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "distillery",
        abstract: "Distributed multi-teacher knowledge distillation: run a cluster, submit runs, or train and distil in one process.",
        discussion: """
            Model specs: mlp:784-1200-1200-10,dropout=0.2  or  cnn:1x28x28-c32-p2-c64-p2-fc128-fc10,bn,dropout=0.3
            (see `distillery help train` and docs/ARCHITECTURE.md for the grammar).
            """,
        subcommands: [
            CoordinatorCommand.self, WorkerCommand.self, Up.self, Submit.self, Resume.self, Status.self, Runs.self, Watch.self,
            Cancel.self, Logs.self, Report.self, Train.self, Eval.self, Inspect.self, Distill.self, ExportCommand.self, Keys.self,
        ]
    )

    static func main() async {
        ProcessMemoryPolicy.keepLargeBuffersInTheHeap()
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }
}
