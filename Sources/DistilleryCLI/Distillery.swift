import ArgumentParser
import TransportZMQ

/// `distillery` — the composition root. Single-process commands and key management for now; the cluster
/// commands (coordinator, worker, submit, status, …) arrive with the control plane.
@main
struct Distillery: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "distillery",
        abstract: "Multi-teacher knowledge distillation: train teachers, distil an ensemble into a small student.",
        discussion: """
            Model specs: mlp:784-1200-1200-10,dropout=0.2  or  cnn:1x28x28-c32-p2-c64-p2-fc128-fc10,bn,dropout=0.3
            (see `distillery help train` and docs/ARCHITECTURE.md for the grammar).
            """,
        subcommands: [Train.self, Eval.self, Inspect.self, Distill.self, Bench.self, Keys.self, WireBench.self]
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
