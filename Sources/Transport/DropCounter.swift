import Logging
import Synchronization
import Wire

/// Counts what an endpoint refused or could not deliver, by kind (a `WireError.Kind` raw value
/// such as "malformed", or a transport reason such as "unroutable" or "curve-rejected").
///
/// Rule: the first drop of each kind is logged at warning level with its detail; later ones
/// are only counted, so a flood of bad input cannot flood the log.
public final class DropCounter: Sendable {
    private let counts = Mutex<[String: Int]>([:])
    private let logger: Logger
    private let endpoint: String

    public init(endpoint: String, logger: Logger) {
        self.endpoint = endpoint
        self.logger = logger
    }

    /// Counts one drop of `kind`; logs it if it is the first of its kind.
    public func record(_ kind: String, detail: @autoclosure () -> String) {
        let first = counts.withLock { c -> Bool in
            c[kind, default: 0] += 1
            return c[kind] == 1
        }
        if first {
            logger.warning("\(endpoint): dropped input (\(kind)): \(detail()) — further drops of this kind are counted, not logged")
        }
    }

    /// Counts per kind so far.
    public var snapshot: [String: Int] { counts.withLock { $0 } }
    /// All drops so far.
    public var total: Int { counts.withLock { $0.values.reduce(0, +) } }
    public func count(_ kind: String) -> Int { counts.withLock { $0[kind] ?? 0 } }
}
