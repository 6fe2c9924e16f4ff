import Clocks
import Transport
import Wire

/// The mutual term (docs/PROTOCOL.md "Mutual term"): online teachers that learn from each
/// other. At every step each teacher sends the others its logits of the global batch
/// (`PeerTeacherLogits`), waits for theirs, and trains toward their ensemble
/// (``TeacherStreamer`` has the loss).
///
/// A teacher placed again (its worker was lost) loads its predecessor's last epoch state and
/// trains again through the steps since, which needs the other teachers' logits of those
/// steps: each teacher keeps its own logits of the current and the previous epoch
/// (≤ 2·N·C floats) and answers a request for them. A request is a peer's logits (not
/// `resent`) of a step this teacher has already trained: only a teacher training through it
/// again sends those. The answer is this teacher's logits of that step, `resent` set, which is
/// never answered (two teachers cannot answer each other forever). A teacher waiting for a
/// peer sends its own logits of the step again every `resendEvery` (2 s), so that a peer that
/// missed them (sent to its lost predecessor) asks again.
extension TeacherStreamer {
    /// The mutual term (online only): its weight β and temperature, connections to the other
    /// teachers by index, and the queue where their logits for this teacher arrive.
    public struct Mutual {
        public var weight: Float
        public var temperature: Float
        /// The other teachers' indices, ascending, and how to reach each when sending.
        public var peers: [Int]
        public var route: PeerRoute
        /// Whether teacher i has a data endpoint now (false while it is being placed again:
        /// nothing is sent to it, and the wait for it is the replacement's).
        public var reachable: @Sendable (Int) -> Bool
        public var arrivals: BoundedQueue<ArrivedPeerLogits>
        /// How long to wait for the others' logits of a step (not the first).
        public var timeout: Duration
        /// How often a teacher waiting for a peer's logits sends it its own of that step again.
        public var resendEvery: Duration = .seconds(2)

        public init(weight: Float, temperature: Float, peers: [Int], route: PeerRoute, arrivals: BoundedQueue<ArrivedPeerLogits>,
                    timeout: Duration = .seconds(30), reachable: @escaping @Sendable (Int) -> Bool = { _ in true }) {
            self.timeout = timeout
            self.weight = weight
            self.temperature = temperature
            self.peers = peers.sorted()
            self.route = route
            self.arrivals = arrivals
            self.reachable = reachable
        }

        /// Fixed connections to the other teachers, by index.
        public init(weight: Float, temperature: Float, peers: [Int: any Connection], arrivals: BoundedQueue<ArrivedPeerLogits>) {
            self.init(weight: weight, temperature: temperature, peers: Array(peers.keys), route: PeerRoute(peers),
                      arrivals: arrivals)
        }
    }

    /// This teacher's logits of one step, kept for a peer placed again.
    struct KeptLogits {
        var epoch: Int
        var step: Int
        var part: ArraySlice<Int>
        var logits: [Float]
    }

    /// Keeps this teacher's logits of global step `g` and drops those before the previous epoch.
    func keep(_ logits: [Float], g: Int, epoch: Int, step: Int, part: ArraySlice<Int>) {
        kept[g] = KeptLogits(epoch: epoch, step: step, part: part, logits: logits)
        let from = max(0, epoch - 1) * plan.stepsPerEpoch
        if let oldest = kept.keys.min(), oldest < from { kept = kept.filter { $0.key >= from } }
    }

    /// This step's logits of the global batch to every other teacher that has an endpoint now
    /// (one being placed again asks for them later), or to `only`.
    func sendToPeers(_ logits: [Float], _ mutual: Mutual, epoch: Int, step: Int, part: ArraySlice<Int>,
                     only: [Int]? = nil, resent: Bool = false) async throws(DataPlaneError) {
        for peer in only ?? mutual.peers where mutual.reachable(peer) {
            let message = stream.peerLogits(teacher: teacher, peer: peer, epoch: epoch, step: step, part: part, logits: logits,
                                            resent: resent)
            do { try await mutual.route(peer).send(message) } catch {
                throw .transport("teacher \(teacher) could not send its logits to teacher \(peer): \(error)")
            }
        }
    }

    /// The other teachers' logits of global step `g` = (epoch, step), in teacher order, waiting at
    /// most `timeout` (`startTimeout` for the run's first step: a peer may still be preparing;
    /// the replacement wait while a peer is being placed again, and again after each request a
    /// peer catching up sends). Requests that arrive meanwhile are answered.
    func peersLogits(_ mutual: Mutual, g: Int, epoch: Int, step: Int, part: ArraySlice<Int>,
                     first: Bool) async throws(DataPlaneError) -> [[Float]] {
        let key = StepKey(epoch: epoch, step: step)
        var limit = first ? startTimeout : mutual.timeout
        var deadline = clock.deadline(after: limit)
        var resendAt = clock.deadline(after: mutual.resendEvery)
        while (early[key]?.count ?? 0) < mutual.peers.count {
            let missing = mutual.peers.filter { early[key]?[$0] == nil }
            if limit < timeout, missing.contains(where: { !mutual.reachable($0) }) {
                limit = timeout  // being placed again: it trains through the steps since its last state first
                deadline = clock.deadline(after: limit)
            }
            if resendAt.hasPassed, let mine = kept[g] {
                try await sendToPeers(mine.logits, mutual, epoch: epoch, step: step, part: part, only: missing)
                resendAt = clock.deadline(after: mutual.resendEvery)
            }
            let a: ArrivedPeerLogits?
            let slice = min(.milliseconds(250), max(.milliseconds(1), resendAt.remaining))
            do { a = try await mutual.arrivals.take(timeout: deadline.slice(atMost: slice)) } catch {
                throw .transport("teacher \(teacher), peers' logits: \(error)")
            }
            guard let a else {
                if !deadline.hasPassed { continue }
                throw .transport("teacher \(teacher) got no logits from teacher(s) \(missing.map(String.init).joined(separator: ", ")) "
                    + "for epoch \(epoch) step \(step) within \(limit.shortDescription); they are stuck, gone or unreachable")
            }
            if try await absorb(a, mutual, awaiting: g) {
                limit = max(limit, timeout)  // a peer catching up: it will need this step too
                deadline = clock.deadline(after: limit)
            }
        }
        let arrived = early.removeValue(forKey: key) ?? [:]
        var out: [[Float]] = []
        for peer in mutual.peers {
            out.append(try stream.peerLogits(arrived[peer]!, part: part,
                                             what: "teacher \(teacher)'s peer logits of epoch \(epoch) step \(step)"))
        }
        return out
    }

    /// Answers the requests waiting in the queue without blocking (while waiting for credits,
    /// or after the last step); `g` is the next step this teacher trains. True when it answered one.
    @discardableResult
    func servePeers(awaiting g: Int) async throws(DataPlaneError) -> Bool {
        guard let mutual else { return false }
        var answered = false
        while let a = mutual.arrivals.poll() {
            if try await absorb(a, mutual, awaiting: g) { answered = true }
        }
        return answered
    }

    /// Files a peer's logits for this teacher: a step from `g` on is kept for its training, a
    /// request (an earlier step, not `resent`) is answered, anything else dropped. True when
    /// it answered a request.
    private func absorb(_ a: ArrivedPeerLogits, _ mutual: Mutual, awaiting g: Int) async throws(DataPlaneError) -> Bool {
        let from = Int(a.logits.fromTeacher)
        guard a.logits.toTeacher == UInt32(teacher), mutual.peers.contains(from) else { return false }
        let at = StepKey(epoch: Int(a.logits.epoch), step: Int(a.logits.step))
        let atStep = at.epoch * plan.stepsPerEpoch + at.step
        guard atStep < g else {
            early[at, default: [:]][from] = a
            return false
        }
        guard !a.logits.resent else { return false }  // an answer to a request of ours, come late
        guard let mine = kept[atStep], mine.epoch == at.epoch, mine.step == at.step else {
            let range = kept.keys.min().map { "steps \($0)–\(kept.keys.max()!)" } ?? "no step"
            throw .transport("teacher \(teacher) cannot give teacher \(from), placed again, its logits of epoch \(at.epoch) step "
                + "\(at.step) (global step \(atStep)): it keeps only \(range) (the current and the previous epoch), so teacher \(from) "
                + "cannot train again to where the others are; resubmit the run (its trained teachers are reused)")
        }
        try await sendToPeers(mine.logits, mutual, epoch: at.epoch, step: at.step, part: mine.part, only: [from], resent: true)
        if !notedRequest.contains(from) {
            notedRequest.insert(from)
            note("teacher \(teacher) gives teacher \(from), which trains again from global step \(atStep), its logits of the steps "
                + "since as it asks for them")
        }
        return true
    }
}
