import Clocks
import Foundation
import Synchronization
import Transport
import Wire

/// What a CLI call can run into when talking to the coordinator. Each text says what
/// happened, where, and what to do.
public enum ControlError: Error, Sendable, CustomStringConvertible {
    /// No answer within the timeout: nothing is listening there, or the coordinator is stuck.
    case unreachable(address: String, timeout: Duration)
    /// The coordinator answered with an error.
    case refused(ErrorReply)
    /// The coordinator went silent in the middle of a watch.
    case lost(address: String, silentFor: Duration)
    /// The transport failed (bad address, …).
    case transport(String)
    /// The coordinator refused this client's security handshake (a refused CURVE handshake
    /// is silent on the wire: the socket's events tell why).
    case handshake(address: String, failure: HandshakeFailure, keys: ClientKeys?)

    public var description: String {
        switch self {
        case .unreachable(let address, let timeout):
            return "no answer from the coordinator at \(address) within \(timeout.shortDescription) — is "
                + "`distillery coordinator` running there? Pass --coordinator or set $DISTILLERY_COORDINATOR."
        case .refused(let e):
            return "the coordinator refused the request (\(e.code)): \(e.message)"
        case .lost(let address, let silentFor):
            return "lost the coordinator at \(address): no update for \(silentFor.shortDescription)"
        case .transport(let text):
            return text
        case .handshake(let address, let failure, let keys):
            let dir = keys?.directory ?? "~/.config/distillery/keys"
            switch failure {
            case .keyRefused:
                return "the coordinator at \(address) refused this client's key \(keys?.publicKey ?? "") (\(keys?.publicFile ?? dir) is "
                    + "not in its authorized_keys): ask its operator to add the line `\(keys?.publicKey ?? "KEY") NAME ROLE` there"
            case .closedByListener(localCurve: false), .mechanismMismatch(localCurve: false):
                return "the coordinator at \(address) requires CURVE; this client has no keys: make them with `distillery keys "
                    + "generate --name NAME --dir \(dir)`, copy the coordinator's public key there as coordinator.pub, and have the "
                    + "coordinator's operator list your key in its authorized_keys"
            case .closedByListener(localCurve: true), .cryptographic:
                return "the coordinator at \(address) did not complete the CURVE handshake: this coordinator's public key is not "
                    + "the one in \(dir)/coordinator.pub (copy its current coordinator.pub there), or it runs without keys"
            case .mechanismMismatch(localCurve: true):
                return "the coordinator at \(address) runs without CURVE (no keys) but this client has keys (\(dir)): start the "
                    + "coordinator with its keys, or point this client at an empty --keys"
            case .other(let text):
                return "the coordinator at \(address) refused the connection's handshake: \(text)"
            }
        }
    }
}

/// What a client's refusal messages name: its public key and keys directory.
public struct ClientKeys: Sendable, Equatable {
    public var publicKey: String
    public var directory: String
    /// Its `NAME.pub`, when known.
    public var publicFile: String?

    public init(publicKey: String, directory: String, publicFile: String? = nil) {
        self.publicKey = publicKey
        self.directory = directory
        self.publicFile = publicFile
    }
}

/// One CLI session with the coordinator: request/reply over a DEALER connection, every wait
/// bounded (docs/PROTOCOL.md "Status / runs / cancel": one request, one reply, 5 s).
public final class ControlClient: Sendable {
    public let address: String
    public let name: String
    public let timeout: Duration
    /// The clock the request timeouts run on.
    public let clock: any RuntimeClock
    private let connection: any Connection
    private let ids = RequestIDs()
    /// Named in the refusal of a handshake.
    public let keys: ClientKeys?

    public init(transport: any Transport, coordinator address: String, name: String? = nil,
                timeout: Duration = .seconds(5), clock: any RuntimeClock = SystemRuntimeClock(),
                keys: ClientKeys? = nil) async throws(ControlError) {
        self.address = address
        self.keys = keys
        self.clock = clock
        self.name = name ?? "cli-\(ProcessInfo.processInfo.processIdentifier)-\(UInt32.random(in: 0 ... .max))"
        self.timeout = timeout
        do {
            connection = try await transport.connect(to: address, identity: self.name)
        } catch {
            throw .transport("cannot connect to the coordinator at \(address): \(error)")
        }
    }

    public func close() async { await connection.close() }

    /// Sends `body` and returns the reply's body; an `Error` reply is thrown as `.refused`.
    public func request(_ body: Body) async throws(ControlError) -> Body {
        let id = ids.next()
        try await send(body, id: id)
        return try await reply(to: [id])
    }

    /// Like ``request(_:)``, but an attempt without an answer within the timeout is sent again
    /// (a new request id), `attempts` times in all; `onRetry(attempt, error)` is called before
    /// each retry (attempt = 2, 3, …). A late answer to any earlier attempt is taken too.
    ///
    /// Only for requests that are safe to repeat: reads, and a `SubmitRun` with an idempotency
    /// key (the coordinator creates one run per key and answers a retry with it).
    public func request(_ body: Body, attempts: Int,
                        onRetry: (_ attempt: Int, _ error: ControlError) -> Void) async throws(ControlError) -> Body {
        var sent: [UInt64] = []
        for attempt in 1...max(1, attempts) {
            let id = ids.next()
            sent.append(id)
            do {
                try await send(body, id: id)
                return try await reply(to: Set(sent))
            } catch .unreachable(let address, let timeout) where attempt < attempts {
                onRetry(attempt + 1, .unreachable(address: address, timeout: timeout))
            }
        }
        throw .unreachable(address: address, timeout: timeout)
    }

    /// A refused handshake, as the error to throw (nil: none seen).
    private var handshakeRefusal: ControlError? {
        connection.handshakeFailure.map { .handshake(address: address, failure: $0, keys: keys) }
    }

    /// A refused handshake to end a wait with: a refused key at once; another failure once it
    /// has lasted ``handshakeCheck`` × 5 (a proxy that closes while the coordinator restarts
    /// looks the same for a moment), or at the deadline.
    private func settledRefusal(since firstSeen: inout ContinuousClock.Instant?, deadlinePassed: Bool) -> ControlError? {
        guard let failure = connection.handshakeFailure else {
            firstSeen = nil
            return nil
        }
        if case .keyRefused = failure { return handshakeRefusal }
        let now = ContinuousClock.now
        let since = firstSeen ?? now
        firstSeen = since
        return deadlinePassed || now - since >= Self.handshakeCheck * 5 ? handshakeRefusal : nil
    }

    /// Waits at most `timeout` for the answer to one of the requests `ids`; a refused
    /// handshake ends the wait at once (checked every ``handshakeCheck``).
    private func reply(to ids: Set<UInt64>) async throws(ControlError) -> Body {
        let deadline = clock.deadline(after: timeout)
        var failingSince: ContinuousClock.Instant?
        while true {
            let message: Message?
            do { message = try await connection.receive(timeout: max(.zero, min(deadline.remaining, Self.handshakeCheck))) } catch {
                throw .transport("receiving from \(address): \(error)")
            }
            guard let message else {
                if let refusal = settledRefusal(since: &failingSince, deadlinePassed: deadline.hasPassed) { throw refusal }
                if deadline.hasPassed { throw .unreachable(address: address, timeout: timeout) }
                continue
            }
            guard ids.contains(message.envelope.replyTo) else { continue }  // a late answer to an earlier request
            if case .error(let e) = message.envelope.body { throw .refused(e) }
            return message.envelope.body
        }
    }

    /// Follows a run: calls `onUpdate` for every `RunUpdate` until the run is terminal and
    /// returns the last one. No update for `silence`: re-sends `WatchRun` under a new request id
    /// — the coordinator then moves this connection's subscription to that id, so only answers
    /// to the newest one are followed; after `maxSilences` silent periods in a row, throws
    /// `.lost` (docs/PROTOCOL.md "Watch").
    public func watch(runID: String, silence: Duration = .seconds(10), maxSilences: Int = 3,
                      onUpdate: (RunUpdate) -> Void) async throws(ControlError) -> RunUpdate {
        var id = ids.next()
        try await send(.watchRun(WatchRun(runID: runID)), id: id)
        var silences = 0
        var answered = false
        while true {
            let message: Message?
            do { message = try await connection.receive(timeout: answered ? silence : timeout) } catch {
                throw .transport("receiving from \(address): \(error)")
            }
            guard let message else {
                if let refusal = handshakeRefusal { throw refusal }
                if !answered { throw .unreachable(address: address, timeout: timeout) }
                silences += 1
                if silences >= maxSilences { throw .lost(address: address, silentFor: silence * silences) }
                id = ids.next()
                try await send(.watchRun(WatchRun(runID: runID)), id: id)
                continue
            }
            guard message.envelope.replyTo == id else { continue }
            answered = true
            silences = 0
            switch message.envelope.body {
            case .error(let e): throw .refused(e)
            case .runUpdate(let update):
                onUpdate(update)
                if update.run.state.isTerminal { return update }
            default: continue
            }
        }
    }

    static let handshakeCheck: Duration = .milliseconds(200)

    private func send(_ body: Body, id: UInt64) async throws(ControlError) {
        let message = Message(Envelope(sender: name, requestID: id, body: body))
        do { try await connection.send(message) } catch TransportError.timedOut {
            if let refusal = handshakeRefusal { throw refusal }
            throw .unreachable(address: address, timeout: timeout)
        } catch {
            throw .transport("sending to \(address): \(error)")
        }
    }
}

/// Request ids unique per sender (docs/PROTOCOL.md: `request_id` is unique per sender).
final class RequestIDs: Sendable {
    private let counter = Mutex<UInt64>(0)
    func next() -> UInt64 { counter.withLock { $0 += 1; return $0 } }
}
