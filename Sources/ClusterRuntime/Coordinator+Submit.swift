import ClusterCore
import ClusterStore
import FileSupport
import Foundation
import RunSpec
import Wire

/// Submissions being checked off the coordinator's actor, by idempotency key: the retries
/// that arrived meanwhile wait here and get the first one's answer.
struct SubmissionsInFlight: Sendable {
    var retries: [String: [Coordinator.Request]] = [:]
}

/// A submitted spec as checked off the actor: parsed, its paths checked (absolute; the data
/// set's files, the checkpoints and ONNX models present and readable), an npz data set's
/// arrays and the ONNX teachers' graphs checked (``dataProblems(_:)``) and its canonical text
/// rendered.
/// `spec` is nil when it could not be parsed.
struct CheckedSpec: Sendable {
    var spec: RunSpec?
    var canonicalYAML = ""
    var problems: [FieldError] = []
    /// A resumption's source: the ended run and its last checkpoint (nil: a new submission).
    var resume: ResumeSource?

    /// A submission refused before its spec was read.
    init(problems: [FieldError]) {
        self.problems = problems
    }

    /// Parses and checks `yaml` (linear in its size; touches the file system for the data set).
    /// Paths must be absolute: a relative one is refused, naming its field, rather than read
    /// against the coordinator's working directory (docs/PROTOCOL.md "Submit").
    init(yaml: String, fileName: String) {
        do {
            let spec = try CheckedSpec.parse(yaml, fileName: fileName)
            self.spec = spec
            canonicalYAML = spec.canonicalYAML()
            let relative = spec.relativePathProblems()
            let relativeFields = Set(relative.map(\.field))
            let files = (spec.datasetProblems() + spec.checkpointProblems()).filter { !relativeFields.contains($0.field) }
            let contents = relative.isEmpty && files.isEmpty ? CheckedSpec.dataProblems(spec) : []
            problems = (relative + files + contents).map(FieldError.init)
        } catch {
            problems = error.errors.map(FieldError.init)
        }
    }

    /// The coordinator's one parse of spec text: a submission's, and a stored run's that it
    /// takes back after a restart (Coordinator+Recovery).
    static func parse(_ yaml: String, fileName: String) throws(RunSpecErrors) -> RunSpec {
        try RunSpec(yaml: yaml, fileName: fileName)
    }
}

extension Coordinator {
    /// The one thread that parses and checks submitted specs, so that neither the actor nor
    /// the cooperative pool (two threads on two cores) ever waits for a spec: submissions are
    /// checked one after another while the coordinator keeps handling heartbeats.
    static let specChecker = ThreadExecutor(name: "distillery-specs")

    // MARK: submit

    /// `SubmitRun` (docs/PROTOCOL.md "Submit"). Rules:
    /// - a spec over `RunSpec.maxYAMLBytes` is refused at once (field "spec");
    /// - a non-empty idempotency key already in the store is answered at once with its run
    ///   (`duplicate`); one whose submission is still being checked waits for that answer;
    /// - otherwise the spec is parsed and its data set checked on ``specChecker``, and
    ///   ``admit(_:key:request:)`` decides on the actor: placement now, then record and start
    ///   the run, or refuse with every problem named by field. Refused runs are not recorded.
    ///
    /// The answer goes out with the service's next tick when it is decided off the actor.
    func submit(_ m: SubmitRun, _ request: Request) {
        let size = m.specYaml.utf8.count
        guard size <= RunSpec.maxYAMLBytes else {
            return rejectRun([FieldError(field: "spec", message: RunSpec.sizeProblem(bytes: size))], request)
        }
        let key = m.idempotencyKey
        if !key.isEmpty {
            if submissionsInFlight.retries[key] != nil {
                logger.info("\(request.sender) retried submission \(key) while it is being checked; it gets the same answer")
                submissionsInFlight.retries[key]?.append(request)
                return
            }
            do {
                if let run = try store.run(idempotencyKey: key) {
                    logger.info("\(request.sender) retried submission \(key): it created \(run.id) already")
                    return reply(.submitRunReply(SubmitRunReply(accepted: true, runID: run.id, duplicate: true)), to: request)
                }
            } catch {
                return refuse(.internal, "could not look up the submission's idempotency key: \(error)", to: request)
            }
            submissionsInFlight.retries[key] = []
        }
        if !m.resumeRunID.isEmpty { return resume(m.resumeRunID, key: key, request: request) }
        let fileName = m.fileName.isEmpty ? "run spec" : m.fileName
        let yaml = m.specYaml
        Task.detached(executorPreference: Coordinator.specChecker) { [self] in
            let checked = CheckedSpec(yaml: yaml, fileName: fileName)
            await admit(checked, key: key, request: request)
        }
    }

    /// Back on the actor with a checked spec: checks placement, records and starts the run,
    /// and answers the submission and every retry of it that arrived meanwhile (an accepted
    /// run is `duplicate` for the retries).
    func admit(_ checked: CheckedSpec, key: String, request: Request) {
        let retries = key.isEmpty ? [] : submissionsInFlight.retries.removeValue(forKey: key) ?? []
        let (answer, started) = decide(checked, key: key, request: request)
        reply(answer, to: request)
        for retry in retries {
            guard case .submitRunReply(var r) = answer, r.accepted else {
                reply(answer, to: retry)
                continue
            }
            r.duplicate = true
            reply(.submitRunReply(r), to: retry)
        }
        if let started { drive(started, .start) }
    }

    /// The answer to a checked submission, and the id of the run it recorded (nil if none).
    private func decide(_ checked: CheckedSpec, key: String, request: Request) -> (Body, String?) {
        guard let spec = checked.spec else { return (refusal(checked.problems, request), nil) }
        var problems = checked.problems
        if case .failure(let refusal) = Placer.place(teachers: spec.teachers.count, replicas: spec.replicas,
                                                     atLeast: spec.distillation.mode == .offline ? spec.elastic.minReplicas : nil,
                                                     on: placementCandidates()) {
            problems.append(FieldError(field: refusal.field, message: refusal.description))
        }
        problems += memoryProblems(spec)
        problems += resumeProblems(checked)
        guard problems.isEmpty else { return (refusal(problems, request), nil) }
        let record: RunRecord
        do {
            record = try store.insertRun(name: spec.name, specYAML: checked.canonicalYAML, submittedAtMs: clock.wallMs(),
                                         idempotencyKey: key)
        } catch {
            return (.error(ErrorReply(code: .internal, message: "could not record the run: \(error)")), nil)
        }
        // Runs are elastic: every replica holds the whole global batch's soft targets (offline
        // runs cache every sample's in epoch 0, online teachers stream every step whole), so the
        // survivors of a lost replica can take over its share (docs/OPERATIONS.md "When a node is
        // lost"). A lost online teacher is placed again and trains through the steps it had
        // served since its last state (with a mutual term, on the other teachers' logits of
        // those steps, which they keep).
        // A ring is renewed for a stall only past the dead window, so that a replica that died is
        // removed first (a renewal with it still in would be wasted).
        var timeouts = settings.runTimeouts
        timeouts.ringStall = max(timeouts.ringStall, settings.liveness.deadAfter + .seconds(2))
        let lifecycle = RunLifecycle(runID: record.id, teacherCount: spec.teachers.count, replicaCount: spec.replicas,
                                     timeouts: timeouts,
                                     elastic: ElasticPolicy(minReplicas: spec.elastic.minReplicas, maxRestarts: spec.elastic.maxRestarts,
                                                            waitTimeout: .seconds(spec.elastic.waitTimeout),
                                                            lostTeachers: spec.distillation.mode == .offline ? .streamAgain
                                                                : spec.distillation.mutual > 0 ? .trainAgainWithPeers : .trainAgain),
                                     studentEpochs: spec.distillation.mode == .offline ? spec.training.epochs : 0)
        runs[record.id] = ActiveRun(id: record.id, spec: spec, specYAML: record.specYAML, submittedMs: record.submittedAtMs,
                                    updatedMs: record.submittedAtMs, lifecycle: lifecycle,
                                    shardKey: ShardKey(spec.dataset))
        logger.info("run \(record.id) '\(spec.name)' submitted by \(request.sender): \(spec.teachers.count) teacher(s), \(spec.replicas) replica(s)")
        event(record.id, "state", "submitted by \(request.sender): \(spec.teachers.count) teacher(s), \(spec.replicas) replica(s)")
        var resumeStep: UInt64 = 0
        if let source = checked.resume {
            do {
                let point = try recordResume(source, into: record.id)
                runs[record.id]?.resume = point
                resumeStep = UInt64(point.step)
            } catch {
                runs[record.id] = nil
                persist("run \(record.id) state") { store throws(ClusterStoreError) in
                    try store.updateRun(id: record.id, state: RunPhase.failed.rawValue,
                                        reason: "could not keep the resume checkpoint: \(error)", atMs: record.submittedAtMs)
                }
                return (.error(ErrorReply(code: .internal, message: "could not keep run \(source.fromRun)'s checkpoint for "
                    + "the resumed run: \(error)")), nil)
            }
        }
        return (.submitRunReply(SubmitRunReply(accepted: true, runID: record.id, resumeStep: resumeStep)), record.id)
    }

    /// A refusal per native model that needs more memory (``RunSpec/memoryNeeds()``) than the
    /// largest live worker of its role has (`memory_bytes` of its registration; workers that
    /// report 0 are not counted), with the estimate and the limit. Without such a check, a spec
    /// like `mlp:784-1000000-1000000-10` was accepted and crashed every student worker.
    func memoryProblems(_ spec: RunSpec) -> [FieldError] {
        let alive = membership.members.filter { $0.liveness == .alive && $0.info.memoryBytes > 0 }
        var problems: [FieldError] = []
        for need in spec.memoryNeeds() {
            let role: WorkerRole = need.onStudents ? .student : .teacher
            guard let largest = alive.filter({ $0.info.roles.contains(role) })
                .max(by: { $0.info.memoryBytes < $1.info.memoryBytes }), need.bytes > Double(largest.info.memoryBytes) else { continue }
            let bytes = need.bytes >= Double(UInt64.max) ? UInt64.max : UInt64(need.bytes)
            let parameters = need.parameters >= 1e15 ? String(format: "%.2g", need.parameters) : String(Int64(need.parameters))
            problems.append(FieldError(field: need.field, message:
                "needs about \(ByteCount.text(bytes)) of memory (\(parameters) parameters; \(need.what)), but the largest "
                + "\(role.rawValue) worker (\(largest.name)) has \(ByteCount.text(largest.info.memoryBytes)); use a smaller model "
                + "or batch, or add a \(role.rawValue) worker with more memory"))
        }
        return problems
    }

    private func refusal(_ errors: [FieldError], _ request: Request) -> Body {
        logger.info("refused a run from \(request.sender): \(errors.map { "\($0.field): \($0.message)" }.joined(separator: "; "))")
        return .submitRunReply(SubmitRunReply(accepted: false, errors: errors))
    }

    private func rejectRun(_ errors: [FieldError], _ request: Request) {
        reply(refusal(errors, request), to: request)
    }
}
