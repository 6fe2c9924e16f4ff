import ArgumentParser
import FileSupport
import Foundation
import Transport
import TransportZMQ

/// `distillery keys`: CurveZMQ key pairs for nodes and clients (docs/OPERATIONS.md "Securing a
/// cluster").
struct Keys: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage CurveZMQ keys (encrypted, authenticated cluster traffic).",
        subcommands: [Initialize.self, Generate.self])

    /// The keys directory of this machine: `--dir`, else $DISTILLERY_KEYS, else ~/.config/distillery/keys.
    static func directory(_ flag: String?) -> String {
        NodeKeys.directory(flag: flag, environment: ProcessInfo.processInfo.environment, home: NSHomeDirectory())
    }

    static func validName(_ name: String) throws {
        guard !name.isEmpty, name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) }) else {
            throw ValidationError("--name '\(name)' may contain only letters, digits, '-', '_' and '.'")
        }
    }

    struct Initialize: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "init",
            abstract: "Make the coordinator's keys directory: its key pair, coordinator.pub, and an authorized_keys that admits it.",
            discussion: """
                Writes coordinator.key (secret, mode 0600), coordinator.pub (give it to every worker and \
                client) and authorized_keys listing this key as `admin`, so that clients on this machine \
                using the same directory may submit and cancel. Add a line `KEY NAME ROLE` to \
                authorized_keys for each worker (role worker) and client (admin or read); \
                `distillery keys generate` prints it.
                """)

        @Option(help: "The keys directory (default: $DISTILLERY_KEYS, else ~/.config/distillery/keys).") var dir: String?

        func run() throws {
            let directory = Keys.directory(dir)
            let existing = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasSuffix(".key") }
            guard existing.isEmpty else {
                throw CLIError("\(directory) holds a key pair already (\(existing.sorted().joined(separator: ", "))); "
                    + "use another --dir, or delete it first")
            }
            let pair = try CurveKeyPair.generate()
            let files = try pair.write(to: directory, name: "coordinator")
            let authorized = (directory as NSString).appendingPathComponent(NodeKeys.authorizedKeysFile)
            let text = """
                # Who may connect to this coordinator, one per line: KEY NAME ROLE
                # roles: worker (a worker node), admin (submit, resume, cancel, read), read (status, runs, watch, logs, report)
                # Edits take effect at once (the coordinator reads this file again when it changes, or on SIGHUP).
                \(pair.publicKey) coordinator admin

                """
            do throws(FileError) {
                try AtomicFile.write(Array(text.utf8), to: authorized, permissions: 0o600, replacing: false)
            } catch {
                throw CLIError("cannot write \(authorized): \(error)")
            }
            print("""
                coordinator keys in \(directory):
                  \(files.secretFile)   secret, keep it here
                  \(files.publicFile)   the coordinator's public key: copy it into every worker's and client's keys directory
                  \(authorized)   who may connect (this key as admin); add one line per worker and client
                start it with: distillery coordinator --keys \(directory) --state-dir DIR
                """)
        }
    }

    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a new key pair: NAME.key (secret, mode 0600) and NAME.pub (give it to the coordinator's operator).",
            discussion: """
                Every worker and client gets its own pair, in its own keys directory beside the \
                coordinator's public key (coordinator.pub). The coordinator admits the keys listed in its \
                authorized_keys; this command prints the line to add there.
                """)

        @Option(help: "Base name of the key files; for a worker, its --name.") var name: String
        @Option(help: "Directory to write the key files into (default: $DISTILLERY_KEYS, else ~/.config/distillery/keys).")
        var dir: String?
        @Option(help: "The role to print in the authorized_keys line: worker, admin or read.") var role: String = "worker"

        func run() throws {
            try Keys.validName(name)
            guard let keyRole = KeyRole(rawValue: role) else {
                throw ValidationError("--role '\(role)' is not one of worker, admin, read")
            }
            let directory = Keys.directory(dir)
            let pair = try CurveKeyPair.generate()
            let files = try pair.write(to: directory, name: name)
            print("secret key: \(files.secretFile) (keep it private)")
            print("public key: \(files.publicFile) = \(pair.publicKey)")
            print("on the coordinator, add this line to its authorized_keys:")
            print("  \(pair.publicKey) \(name) \(keyRole.rawValue)")
            if !FileManager.default.fileExists(atPath: (directory as NSString).appendingPathComponent(NodeKeys.coordinatorFile)) {
                print("and copy the coordinator's coordinator.pub into \(directory)")
            }
        }
    }
}
