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
        }
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

    public init(transport: any Transport, coordinator address: String, name: String? = nil,
                timeout: Duration = .seconds(5), clock: any RuntimeClock = SystemRuntimeClock()) async throws(ControlError) {
        self.address = address
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

    /// Waits at most `timeout` for the answer to one of the requests `ids`.
    private func reply(to ids: Set<UInt64>) async throws(ControlError) -> Body {
        let deadline = clock.deadline(after: timeout)
        while true {
            let message: Message?
            do { message = try await deadline.wait({ try await connection.receive(timeout: $0) }) } catch {
                throw .transport("receiving from \(address): \(error)")
            }
            guard let message else { throw .unreachable(address: address, timeout: timeout) }
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

    private func send(_ body: Body, id: UInt64) async throws(ControlError) {
        let message = Message(Envelope(sender: name, requestID: id, body: body))
        do { try await connection.send(message) } catch TransportError.timedOut {
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
