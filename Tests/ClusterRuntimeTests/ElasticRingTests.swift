import ClusterCore
import DataPlane
import Datasets
import Distillation
import NN
import Synchronization
import Tensor
import Testing
import Training
import Transport
import Wire

/// Elastic rings on the data plane, in memory: replicas of an offline run are lost at chosen
/// steps (they stop, or their sends are cut in the middle of an all-reduce), the test plays the
/// coordinator (a new ring generation of the survivors, the teachers told which slots remain),
/// and the survivors end where one process distilling the same ensemble ends.
@Suite struct ElasticRingTests {
    /// A replica lost at `step` (global, 0-based): it stops before training that step or, with
    /// `cutAfter`, its gradient sends are dropped after that many in the step and it stops after.
    struct Fault: Sendable, CustomStringConvertible {
        var slot: Int
        var step: Int
        var cutAfter: Int?
        /// Real time between the loss and the new ring's assignment (the coordinator's dead window).
        var notice: Duration = .zero

        var description: String {
            "slot \(slot) at step \(step)" + (cutAfter.map { ", cut after \($0) sends" } ?? "") + ", noticed after \(notice)"
        }
    }

    /// A replica that joins (slot `replicas + i` for the i-th join, on an endpoint of its own)
    /// once the lowest surviving slot has finished `step` steps.
    struct Join: Sendable, CustomStringConvertible {
        var step: Int
        var description: String { "a replica joins after step \(step)" }
    }

    /// What the test's "coordinator" has told everyone.
    final class Board: @unchecked Sendable {
        let rings = Mutex<[Int: RingAssignment]>([:])
        /// The slots the teachers serve (lost ones leave; joiners need no teacher).
        let slots: Mutex<[Int]>
        /// The ring's members in rank order.
        let members: Mutex<[Int]>
        let dead = Mutex<Set<Int>>([])
        let endpoints: [String]
        /// Wakes replica slot r's waits for gradient chunks (its inbox).
        var wake: [@Sendable () -> Void] = []

        init(replicas: Int, joins: Int = 0) {
            endpoints = (0..<(replicas + joins)).map { "mem://replica-\($0)" }
            slots = Mutex(Array(0..<replicas))
            members = Mutex(Array(0..<replicas))
        }

        /// `slot` is lost: the next generation of the survivors.
        func lose(_ slot: Int) {
            slots.withLock { $0.removeAll { $0 == slot } }
            announce(members.withLock { m in
                m.removeAll { $0 == slot }
                return m
            })
        }

        /// `slot` joins: the next generation of the members and it, last.
        func join(_ slot: Int) {
            announce(members.withLock { m in
                m.append(slot)
                return m
            })
        }

        private func announce(_ ring: [Int]) {
            rings.withLock { r in
                let generation = (r.values.map(\.generation).max() ?? 1) + 1
                for (rank, s) in ring.enumerated() {
                    r[s] = RingAssignment(generation: generation, rank: rank, ranks: ring.count, endpoints: ring.map { endpoints[$0] })
                }
            }
            for s in ring { wake[s]() }
        }
    }

    /// Drops every send once `armed` and `limit` sends have passed since.
    final class CutConnection: Connection {
        let base: any Connection
        let limit: Int
        let state = Mutex<(armed: Bool, sent: Int)>((false, 0))

        init(_ base: any Connection, after limit: Int) {
            self.base = base
            self.limit = limit
        }

        func arm() { state.withLock { $0.armed = true } }
        var address: String { base.address }
        var drops: DropCounter { base.drops }
        func receive(timeout: Duration) async throws -> Message? { try await base.receive(timeout: timeout) }
        func close() async { await base.close() }
        func send(_ message: Message) async throws {
            let pass = state.withLock { s -> Bool in
                guard s.armed else { return true }
                s.sent += 1
                return s.sent <= limit
            }
            if pass { try await base.send(message) }
        }
    }

    /// Adds 1 to the first value of every chunk of the resynchronisation's state round
    /// (step 2⁶¹ + 1) it sends: a transfer corrupted on the way.
    final class CorruptingConnection: Connection {
        let base: any Connection
        init(_ base: any Connection) { self.base = base }
        var address: String { base.address }
        var drops: DropCounter { base.drops }
        func receive(timeout: Duration) async throws -> Message? { try await base.receive(timeout: timeout) }
        func close() async { await base.close() }
        func send(_ message: Message) async throws {
            guard case .gradientChunk(let g) = message.envelope.body, g.step == (1 << 61) + 1, let frame = message.frames.first,
                  frame.count >= 4, let base = frame.base else { return try await self.base.send(message) }
            var bytes = Array(UnsafeRawBufferPointer(start: base, count: frame.count))
            var first = bytes.withUnsafeBytes { $0.loadUnaligned(as: Float.self) } + 1
            withUnsafeBytes(of: &first) { for i in 0..<4 { bytes[i] = $0[i] } }
            try await self.base.send(Message(message.envelope, frames: [Frame(bytes: bytes)] + message.frames.dropFirst()))
        }
    }

    struct Outcome {
        /// Each surviving slot's parameters.
        var survivors: [Int: [Float]]
        var transfers: Int
        var cacheTransfers: Int
        var generations: [Int: [UInt64]]
    }

    static func run(replicas: Int, faults: [Fault], joins: [Join] = [], plan: StepPlan, train: LabeledImages,
                    teachers: [Sequential], kd: KDLoss, student: String, corrupting: Int? = nil) async throws -> Outcome {
        let network = InMemoryNetwork()
        let board = Board(replicas: replicas, joins: joins.count)
        var teacherInboxes: [DataInbox] = [], replicaInboxes: [DataInbox] = []
        for t in teachers.indices {
            teacherInboxes.append(DataInbox(listener: try await network.transport(name: "t\(t)").listen(at: "mem://teacher-\(t)")))
        }
        for r in 0..<(replicas + joins.count) {
            replicaInboxes.append(DataInbox(listener: try await network.transport(name: "r\(r)").listen(at: board.endpoints[r])))
        }
        board.wake = replicaInboxes.map { inbox in { inbox.wakeGradientWaiter(run: "run-1") } }
        let pumps = (teacherInboxes + replicaInboxes).map { inbox in Task { await inbox.run() } }
        defer { pumps.forEach { $0.cancel() } }
        var streamers: [TeacherStreamer] = []
        for (t, model) in teachers.enumerated() {
            var toReplicas: [any Connection] = []
            for r in 0..<replicas { toReplicas.append(try await network.transport(name: "t\(t)").connect(to: board.endpoints[r])) }
            streamers.append(TeacherStreamer(runID: "run-1", teacher: t, model: model, train: train, plan: plan, replicas: toReplicas,
                                             credits: teacherInboxes[t].creditQueue(run: "run-1", teacher: t),
                                             timeout: .seconds(10), receivers: { board.slots.withLock { $0 } }))
        }
        var students: [StudentReplica] = []
        var cuts: [Int: CutConnection] = [:]
        for r in 0..<replicas {
            let transport = try await network.transport(name: "r\(r)")
            var toTeachers: [any Connection] = []
            for t in teachers.indices { toTeachers.append(try await transport.connect(to: "mem://teacher-\(t)")) }
            var next: any Connection = try await transport.connect(to: board.endpoints[(r + 1) % replicas])
            let fault = faults.first { $0.slot == r }
            if let cut = fault?.cutAfter {
                let c = CutConnection(next, after: cut)
                cuts[r] = c
                next = c
            }
            let corrupts = corrupting == r
            let elastic = ElasticRing(latest: { board.rings.withLock { $0[r] } }, connect: {
                let connection = try await transport.connect(to: $0)
                return corrupts ? CorruptingConnection(connection) : connection
            })
            let trainer = try DataPlaneTests.studentTrainer(plan: plan, spec: student)
            let ring = try RingAllReduce(runID: "run-1", generation: 1, rank: r, ranks: replicas, count: trainer.model.parameterCount,
                                         source: replicaInboxes[r].gradientSource(run: "run-1"), next: next,
                                         timeout: fault == nil ? .seconds(10) : .milliseconds(500), watch: elastic.watch())
            students.append(StudentReplica(runID: "run-1", rank: r, trainer: trainer, plan: plan, kd: kd, rule: .meanProbabilities,
                                           train: train, teachers: toTeachers, logits: replicaInboxes[r].logitsQueue(run: "run-1"),
                                           ring: ring, timeout: .seconds(10), hashEvery: 4, elastic: elastic))
        }
        // Joiners: built (in generation > 1, last rank) once their join is announced.
        let joiners = Joiners()
        let teacherCount = teachers.count
        let firstSurvivor = (0..<replicas).first { r in !faults.contains { $0.slot == r } }!
        let parts = ElasticParts(streamers: streamers, students: students, cuts: cuts, faults: faults, board: board)
        let joinInboxes = Array(replicaInboxes[replicas...])
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in parts.streamers.indices { group.addTask { try await parts.streamers[i].run() } }
            for (i, _) in joins.enumerated() {
                let slot = replicas + i, inbox = joinInboxes[i], board = parts.board
                group.addTask {
                    var assigned: RingAssignment?
                    for _ in 0..<15_000 where assigned == nil {  // 30 s at most
                        try await Task.sleep(for: .milliseconds(2))
                        assigned = board.rings.withLock { $0[slot] }
                    }
                    guard let a = assigned else { throw TestFailure("joiner \(slot) was never assigned a ring") }
                    let transport = try await network.transport(name: "r\(slot)")
                    let elastic = ElasticRing(latest: { board.rings.withLock { $0[slot] } },
                                              connect: { try await transport.connect(to: $0) })
                    let trainer = try DataPlaneTests.studentTrainer(plan: plan, spec: student)
                    let ring = try RingAllReduce(runID: "run-1", generation: a.generation, rank: a.rank, ranks: a.ranks,
                                                 count: trainer.model.parameterCount, source: inbox.gradientSource(run: "run-1"),
                                                 next: try await transport.connect(to: a.endpoints[(a.rank + 1) % a.ranks]),
                                                 timeout: .seconds(10), watch: elastic.watch())
                    let joiner = StudentReplica(runID: "run-1", rank: a.rank, slot: slot, trainer: trainer, plan: plan, kd: kd,
                                                rule: .meanProbabilities, train: train, teachers: [], teacherCount: teacherCount,
                                                logits: inbox.logitsQueue(run: "run-1"), ring: ring, timeout: .seconds(10),
                                                hashEvery: 4, elastic: elastic, joins: true)
                    joiners.list.withLock { $0[slot] = UncheckedReplica(replica: joiner) }
                    try await joiner.run()
                }
            }
            for r in parts.students.indices {
                let fault = parts.faults.first { $0.slot == r }
                group.addTask {
                    let isDead: @Sendable () -> Bool = { parts.board.dead.withLock { $0.contains(r) } }
                    do {
                        try await parts.students[r].run(onStep: { done, _ in
                            if r == firstSurvivor {
                                for i in joins.indices where joins[i].step == done { parts.board.join(replicas + i) }
                            }
                            guard let fault, done == fault.step, !isDead() else { return }
                            if let cut = parts.cuts[r] {
                                cut.arm()  // the next step's sends stop part-way; the replica stops after it
                            }
                            parts.board.dead.withLock { _ = $0.insert(r) }
                            let board = parts.board
                            Task {
                                try? await Task.sleep(for: fault.notice)
                                board.lose(r)
                            }
                        }, isCancelled: {
                            guard let fault, isDead() else { return false }
                            return fault.cutAfter == nil || parts.students[r].trainer.globalStep > fault.step
                        })
                    } catch {
                        if fault == nil { throw error }  // a lost replica's own failure is expected
                    }
                }
            }
            try await group.waitForAll()
        }
        let lost = Set(faults.map(\.slot))
        var survivors: [Int: [Float]] = [:], generations: [Int: [UInt64]] = [:]
        let all = students.enumerated().map { ($0.offset, $0.element) } + joiners.list.withLock { $0.sorted { $0.key < $1.key }.map { ($0.key, $0.value.replica) } }
        for (r, replica) in all where !lost.contains(r) {
            survivors[r] = DataPlaneTests.parameters(replica.trainer.model)
            generations[r] = replica.generations.map(\.generation)
        }
        return Outcome(survivors: survivors, transfers: all.reduce(0) { $0 + $1.1.transfers },
                       cacheTransfers: all.reduce(0) { $0 + $1.1.cacheTransfers }, generations: generations)
    }

    /// One process distilling the same ensemble on whole batches.
    static func reference(plan: StepPlan, train: LabeledImages, teachers: [Sequential], kd: KDLoss, student: String) throws -> [Float] {
        let logits = teachers.map { Evaluation.logits($0, on: train) }
        let targets = EnsembleTargets.compute(rule: .meanProbabilities, logits: logits, labels: train.labels, classes: 10,
                                              temperature: kd.temperature)
        let single = try DataPlaneTests.studentTrainer(plan: plan, spec: student)
        for e in 0..<plan.epochs {
            _ = single.trainEpoch(e, train: train, validation: nil, objective: .distillation(loss: kd, targets: targets, labelMask: nil))
        }
        return DataPlaneTests.parameters(single.model)
    }

    static func check(_ faults: [Fault], joins: [Join] = [], replicas: Int = 3, student: String = "mlp:24-16-10",
                      streaming: LogitsStreaming = .firstEpochCached) async throws -> Outcome {
        let train = DataPlaneTests.data(count: 240)
        let plan = StepPlan(sampleCount: train.count, batchSize: 30, seed: 9, epochs: 3, replicas: replicas, window: 3,
                            streaming: streaming)
        let teachers = try [DataPlaneTests.teacher(1), DataPlaneTests.teacher(2)]
        let kd = KDLoss(temperature: 4, alpha: 0.9)
        let expected = try reference(plan: plan, train: train, teachers: teachers, kd: kd, student: student)
        let outcome = try await run(replicas: replicas, faults: faults, joins: joins, plan: plan, train: train, teachers: teachers,
                                    kd: kd, student: student)
        #expect(outcome.survivors.count == replicas - faults.count + joins.count)
        let first = outcome.survivors.values.first!
        for (slot, p) in outcome.survivors { #expect(p == first, "slot \(slot) is bit-identical to the other survivors") }
        let diff = zip(expected, first).map { abs($0 - $1) }.max()!
        print("elastic ring: \(faults)\(joins.isEmpty ? "" : ", \(joins)") → max |θ − θ_single| = \(diff), \(outcome.transfers) state transfer(s), "
            + "generations \(outcome.generations)")
        #expect(diff <= 1e-5, "\(faults)")
        return outcome
    }

    @Test(arguments: [(slot: 2, step: 3), (slot: 0, step: 10), (slot: 1, step: 21)])
    func aReplicaThatStopsIsReplacedByTheSurvivorsExactly(slot: Int, step: Int) async throws {
        let outcome = try await Self.check([Fault(slot: slot, step: step)])
        #expect(outcome.generations.values.allSatisfy { $0 == [1, 2] })
    }

    /// Cut in the middle of an all-reduce: some survivors finished the step and some did not;
    /// the new ring copies the state of one that did. Whether a cut leaves the survivors a step apart depends on timing (usually 2 of the 8
    /// cuts do); under a heavy load none may, so the cuts are repeated up to 3 times until one does.
    @Test func aReplicaCutMidAllReduceLeavesNoStepLostOrRedone() async throws {
        var transfers = 0
        for _ in 0..<3 where transfers == 0 {
            for cut in 0..<4 {
                for notice in [Duration.zero, .milliseconds(100)] {
                    transfers += try await Self.check([Fault(slot: 1, step: 9, cutAfter: cut, notice: notice)]).transfers
                }
            }
        }
        #expect(transfers > 0, "some cut left the survivors a step apart")
    }

    /// Online runs' streaming: the teachers send every replica the whole global batch of every
    /// step (no cache). A replica stopped in any epoch, or cut part-way through an all-reduce
    /// after the survivors took that step's logits, leaves the survivors equal to one process:
    /// they run the step in flight again from its kept targets, split over the new ring.
    @Test(arguments: [(slot: 2, step: 3, cutAfter: nil), (slot: 0, step: 10, cutAfter: nil), (slot: 1, step: 21, cutAfter: nil),
                      (slot: 1, step: 9, cutAfter: 0), (slot: 1, step: 17, cutAfter: 2), (slot: 0, step: 22, cutAfter: 3)] as [(Int, Int, Int?)])
    func aReplicaLostWhileTeachersStreamEveryStepWholeIsReplacedExactly(slot: Int, step: Int, cutAfter: Int?) async throws {
        let outcome = try await Self.check([Fault(slot: slot, step: step, cutAfter: cutAfter)], streaming: .everyEpochWholeBatch)
        #expect(outcome.cacheTransfers == 0)
        #expect(outcome.generations.values.allSatisfy { $0 == [1, 2] })
    }

    @Test func twoLossesLeaveOneReplicaThatFinishesAlone() async throws {
        let outcome = try await Self.check([Fault(slot: 0, step: 4), Fault(slot: 2, step: 12, cutAfter: 1)])
        #expect(outcome.generations[1] == [1, 2, 3])
    }

    /// Random fault schedules: 2–4 replicas, up to all but one lost, each at a random step,
    /// stopping or cut part-way through an all-reduce, noticed at once or 50 ms later, losses
    /// overlapping; and 0–2 replicas joining after epoch 0. Every schedule ends with the
    /// replicas equal to one process.
    @Test func randomFaultSchedulesEndWithTheSameStudent() async throws {
        var rng = SplitMix64(seed: 16)
        var transfers = 0
        for _ in 0..<100 {
            let joins = (0..<Int(rng.next() % 3)).map { _ in Join(step: 8 + Int(rng.next() % 14)) }
            let replicas = 2 + Int(rng.next() % 3)
            let losses = 1 + Int(rng.next() % UInt64(replicas - 1))
            var slots = Array(0..<replicas)
            var steps = Array(1..<23)
            var faults: [Fault] = []
            for _ in 0..<losses {
                let slot = slots.remove(at: Int(rng.next() % UInt64(slots.count)))
                let step = steps.remove(at: Int(rng.next() % UInt64(steps.count)))
                let sends = replicas == 2 ? 1 : 2 * (replicas - 1)
                let cut = rng.next() % 2 == 0 ? nil : Int(rng.next() % UInt64(sends + 1))
                faults.append(Fault(slot: slot, step: step, cutAfter: cut, notice: rng.next() % 2 == 0 ? .zero : .milliseconds(50)))
            }
            transfers += try await Self.check(faults, joins: joins, replicas: replicas).transfers
        }
        print("elastic ring: 100 random schedules, \(transfers) state transfer(s)")
    }

    /// A replica joins after epoch 0 (the teachers have streamed everything): it takes the
    /// ring's state and soft-label cache, trains its share of every later step, and ends
    /// bit-identical to the others — which end where one process ends.
    @Test(arguments: [(lostAt: 3, joinAt: 12), (lostAt: 10, joinAt: 11), (lostAt: 20, joinAt: 9)])
    func aReplicaThatJoinsTakesTheStateAndCacheAndTheStudentIsUnchanged(lostAt: Int, joinAt: Int) async throws {
        let outcome = try await Self.check([Fault(slot: 1, step: lostAt)], joins: [Join(step: joinAt)])
        #expect(outcome.cacheTransfers >= 1, "the joiner loaded the ring's cache")
        #expect(outcome.survivors[3] != nil, "the joiner is among the replicas that end bit-identical")
    }

    @Test func aRingGrowsFromOneReplicaBackToThree() async throws {
        let outcome = try await Self.check([Fault(slot: 0, step: 2), Fault(slot: 2, step: 4, cutAfter: 1)],
                                           joins: [Join(step: 9), Join(step: 14)])
        #expect(outcome.generations[1] == [1, 2, 3, 4, 5], "\(outcome.generations)")
        #expect(outcome.cacheTransfers >= 2)
    }

    /// A state copy that arrives corrupted is caught by its hash (the one the source announced
    /// in the positions round): the replica fails, naming it, instead of training on.
    @Test func aCorruptedStateTransferIsCaughtByItsHash() async throws {
        let train = DataPlaneTests.data(count: 240)
        let plan = StepPlan(sampleCount: train.count, batchSize: 30, seed: 9, epochs: 3, replicas: 3, window: 3,
                            streaming: .firstEpochCached)
        let teachers = try [DataPlaneTests.teacher(1), DataPlaneTests.teacher(2)]
        var caught: [String] = []
        // Cuts part-way through an all-reduce leave the survivors a step apart in some of these
        // (then a state moves); the first caught corruption ends the search.
        search: for cut in 0..<5 {
            for notice in [Duration.zero, .milliseconds(100)] {
                for corrupting in [0, 2] {
                    do {
                        let outcome = try await Self.run(replicas: 3, faults: [Fault(slot: 1, step: 9, cutAfter: cut, notice: notice)],
                                                         plan: plan, train: train, teachers: teachers,
                                                         kd: KDLoss(temperature: 4, alpha: 0.9), student: "mlp:24-16-10",
                                                         corrupting: corrupting)
                        #expect(outcome.transfers == 0, "a state moved through a corrupting link and nobody noticed")
                    } catch {
                        caught.append("\(error)")
                        break search
                    }
                }
            }
        }
        #expect(!caught.isEmpty)
        #expect(caught.allSatisfy { $0.contains("its hash differs from the one rank") && $0.contains("the transfer was corrupted") },
                "\(caught)")
    }

    @Test func dropoutStudentsStayExactAcrossALoss() async throws {
        _ = try await Self.check([Fault(slot: 1, step: 5, cutAfter: 2, notice: .milliseconds(50))],
                                 student: "mlp:24-16-10,dropout=0.3")
    }
}

private final class Joiners: Sendable {
    let list = Mutex<[Int: UncheckedReplica]>([:])
}

private struct UncheckedReplica: @unchecked Sendable {
    let replica: StudentReplica
}

private struct ElasticParts: @unchecked Sendable {
    let streamers: [TeacherStreamer]
    let students: [StudentReplica]
    let cuts: [Int: ElasticRingTests.CutConnection]
    let faults: [ElasticRingTests.Fault]
    let board: ElasticRingTests.Board
}
