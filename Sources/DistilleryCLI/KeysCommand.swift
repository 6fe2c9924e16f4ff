import ArgumentParser
import TransportZMQ

/// `distillery keys generate`: CurveZMQ key pairs for nodes and clients.
struct Keys: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage CurveZMQ keys (encrypted, authenticated cluster traffic).",
        subcommands: [Generate.self])

    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a new key pair: NAME.key (secret, mode 0600) and NAME.pub (give it to peers).",
            discussion: """
                Every node and client gets its own pair. A coordinator started with CURVE admits only \
                the public keys listed in its --allow file (`cat *.pub > allowed` makes one); clients \
                and workers need the coordinator's .pub file to connect.
                """)

        @Option(help: "Base name of the key files.") var name: String
        @Option(help: "Directory to write the key files into (created if missing).") var dir: String = "."

        func run() throws {
            guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == "." }) else {
                throw ValidationError("--name '\(name)' may contain only letters, digits, '-', '_' and '.'")
            }
            let pair = try CurveKeyPair.generate()
            let files = try pair.write(to: dir, name: name)
            print("secret key: \(files.secretFile) (keep it private)")
            print("public key: \(files.publicFile) = \(pair.publicKey)")
        }
    }
}
