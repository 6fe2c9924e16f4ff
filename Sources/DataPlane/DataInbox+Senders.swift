import Clocks
import Logging
import Transport
import Wire

/// Who may send what to a worker's data endpoint, and what waits meanwhile (see ``DataInbox``).
extension DataInbox {
    /// A CURVE cluster's senders of `run` for the given queues (merged with the queues other
    /// tasks of the run here set), from an assignment's ``PeerKey`` list: waiting messages they
    /// sent are queued now.
    public func allow(_ senders: [InboxKey: Set<String>], run: String) {
        state.withLock { s in
            for (key, keys) in senders where key.run == run { s.senders[key] = keys }
            releasePending(in: &s)
        }
    }

    /// Every key some queue here admits (what the data endpoint's CURVE handshake lets in).
    public var admittedKeys: Set<String> {
        state.withLock { $0.senders.values.reduce(into: Set<String>()) { $0.formUnion($1) } }
    }

    /// Bytes waiting for their run or their sender's admission.
    public var pendingBytes: Int { state.withLock { $0.pendingBytes } }

    /// The queues of `assign`'s task here and who may send to each: a student replica takes
    /// logits from the run's teachers and gradient chunks from its replicas; a teacher takes
    /// credits from the replicas and (mutual term) logits from the other teachers.
    public static func senders(of assign: AssignTask) -> [InboxKey: Set<String>] {
        let teachers = Set(assign.peerKeys.filter(\.teacher).map(\.publicKey))
        let students = Set(assign.peerKeys.filter(\.student).map(\.publicKey))
        let run = assign.runID
        switch assign.task {
        case .student:
            return [InboxKey(run: run, .stepLogits): teachers, InboxKey(run: run, .testSplitLogits): teachers,
                    InboxKey(run: run, .gradients): students]
        case .teacher(let t):
            let i = Int(t.teacherIndex)
            return [InboxKey(run: run, .credits(teacher: i)): students, InboxKey(run: run, .peerLogits(teacher: i)): teachers]
        case nil:
            return [:]
        }
    }

    /// Keeps `p` until its run opens or its sender is admitted; false when the buffer is full.
    func hold(_ p: Pending, in s: inout State) -> Bool {
        dropExpired(in: &s)
        guard s.pendingBytes + p.bytes <= pendingLimit else {
            note("pending-full", "a \(p.message.envelope.body.name) of \(p.bytes) bytes for run '\(p.key.run)' from "
                + "\(p.sender ?? "a peer without CURVE"): the \(pendingLimit >> 20) MiB for messages of unknown runs and unknown "
                + "senders are full", in: &s)
            return false
        }
        s.pending.append(p)
        s.pendingBytes += p.bytes
        return true
    }

    /// Drops waiting messages older than ``pendingAge`` (counted; the first of each kind logged).
    public func expirePending() {
        state.withLock { dropExpired(in: &$0) }
    }

    private func dropExpired(in s: inout State) {
        guard let first = s.pending.first, clock.instant() - first.at > pendingAge else { return }
        let now = clock.instant()
        let (old, kept) = (s.pending.filter { now - $0.at > pendingAge }, s.pending.filter { now - $0.at <= pendingAge })
        s.pending = kept
        for p in old {
            s.pendingBytes -= p.bytes
            s.dropped[p.message.envelope.body.name, default: 0] += 1
            let opened = s.opened.contains(p.key.run)
            note(opened ? "not-a-sender" : "unknown-run",
                 opened ? "a \(p.message.envelope.body.name) for run '\(p.key.run)' from \(p.sender ?? "?"), which is not one of "
                    + "the run's senders of \(p.key.stream), waited \(pendingAge) and was dropped"
                    : "a \(p.message.envelope.body.name) for run '\(p.key.run)', which no task here has started, waited "
                    + "\(pendingAge) and was dropped", in: &s)
        }
    }

    /// Queues the waiting messages that now belong somewhere, in their order of arrival.
    func releasePending(in s: inout State) {
        dropExpired(in: &s)
        guard !s.pending.isEmpty else { return }
        let waiting = s.pending
        s.pending = []
        s.pendingBytes = 0
        for p in waiting {
            if s.ended.contains(p.key.run) { continue }
            if s.admits(p.key, from: p.sender) {
                if !offerFor(p.message, p.key, in: &s)() { s.dropped[p.message.envelope.body.name, default: 0] += 1 }
            } else {
                s.pending.append(p)
                s.pendingBytes += p.bytes
            }
        }
    }

    /// Logs the first drop of each kind.
    func note(_ kind: String, _ text: String, in s: inout State) {
        s.dropped[kind, default: 0] += 1
        if s.logged.insert(kind).inserted {
            logger.warning("data endpoint: dropped (\(kind)): \(text) — further drops of this kind are counted, not logged")
        }
    }
}

extension DataInbox.State {
    /// Whether a message for `key` from `sender` (its CURVE key; nil without CURVE) goes to
    /// its queue now: its run is open here, and without CURVE anyone, with CURVE only the
    /// keys allowed to send that kind (``DataInbox/allow(_:)``).
    func admits(_ key: InboxKey, from sender: String?) -> Bool {
        guard opened.contains(key.run) else { return false }
        guard let sender else { return true }
        return senders[key]?.contains(sender) == true
    }
}
