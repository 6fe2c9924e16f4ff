import Clocks
import Foundation
import Wire

/// Results a run cannot do without (the student, trained teachers) are sent until the
/// coordinator has stored them (docs/PROTOCOL.md "Results"): a refusal — a full disk, an
/// unwritable artifacts directory — is retried every `uploadRetryEvery`, for at most
/// `uploadWait`; the file stays in the worker's cache meanwhile, and the task fails with the
/// last reason after that.
extension TaskRunner {
    /// Time between two attempts after a refusal.
    static let uploadRetryEvery: Duration = .seconds(10)
    /// Longest wait for the coordinator's answer to one attempt.
    static let uploadAnswerWait: Duration = .seconds(30)

    /// The coordinator answered artifact `ack.name` of run `ack.runID`.
    public func artifactAcked(_ ack: ArtifactAck) {
        artifactAcks.withLock { $0["\(ack.runID)/\(ack.name)"] = ack }
        acks.signal()
    }

    /// The worker registered (again) with a coordinator: an upload waiting for an answer from
    /// the one before — lost with it — is sent again at once.
    public func registered() {
        registrations.withLock { $0 += 1 }
        acks.signal()
    }

    /// Sends `bytes` as artifact `name` and waits (this task's thread, bounded) until the
    /// coordinator has stored it; nil then, else why not (the last refusal, or its silence).
    /// A cancelled run stops waiting at once.
    func upload(_ assign: AssignTask, name: String, bytes: [UInt8]) -> String? {
        let key = "\(assign.runID)/\(name)"
        let overall = clock.deadline(after: uploadWait)
        var attempt = 0
        while true {
            attempt += 1
            artifactAcks.withLock { $0[key] = nil }
            let registration = registrations.withLock { $0 }
            sendArtifact(assign, name: name, bytes: bytes)
            let answer = clock.deadline(after: min(Self.uploadAnswerWait, max(overall.remaining, .seconds(1))))
            _ = answer.block(on: acks, atMost: .seconds(1)) {
                artifactAcks.withLock { $0[key] != nil } || isCancelled(assign.runID) || registrations.withLock { $0 } != registration
            }
            let ack = artifactAcks.withLock { $0.removeValue(forKey: key) }
            if ack?.stored == true { return nil }
            if ack == nil, registrations.withLock({ $0 }) != registration, !overall.hasPassed, !isCancelled(assign.runID) {
                logger.info("\(assign.taskID): registered with the coordinator again before \(name) was stored: sending it again now")
                continue
            }
            let why = ack.map { "the coordinator refused it: \($0.error)" }
                ?? "the coordinator did not answer within \(Self.uploadAnswerWait.shortDescription)"
            if isCancelled(assign.runID) || overall.hasPassed { return why }
            let text = "\(assign.taskID): \(name) was not stored (attempt \(attempt): \(why)); sending it again in "
                + "\(Self.uploadRetryEvery.shortDescription), for at most \(overall.remaining.shortDescription) more"
            logger.warning("\(text)")
            _ = clock.deadline(after: min(Self.uploadRetryEvery, overall.remaining)).block(on: acks, atMost: .seconds(1)) {
                isCancelled(assign.runID)
            }
        }
    }
}
