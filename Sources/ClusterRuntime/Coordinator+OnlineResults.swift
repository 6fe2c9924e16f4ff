import ClusterCore

/// Online runs: what each teacher became by training on is a result of the run
/// (`teacher-<i>-online.safetensors`, docs/PROTOCOL.md "Results"). Its teacher sends it once
/// it has streamed its last step, which may be after the student's last replica completes; a
/// run is completed only with its results stored, so that last completion is held until every
/// one of them is (at most ``onlineResultsWait``; then the run fails naming the missing ones).
/// A teacher lost meanwhile is placed again and trains through the steps since its last state:
/// the wait starts again when it is assigned and at each epoch state it stores.
extension Coordinator {
    /// How long a finished online run waits for its teachers' final checkpoints.
    static let onlineResultsWait: Duration = .seconds(60)

    /// A student's report that would complete the run, held until its results are stored.
    struct HeldCompletion: Sendable {
        var ref: TaskRef
        var update: TaskUpdate
        var since: ClockTime
    }

    /// The online teachers' final checkpoints of run `id` not stored yet (empty for offline runs).
    func missingOnlineTeachers(_ id: String) -> [String] {
        guard let run = runs[id], run.spec.distillation.mode == .online else { return [] }
        let stored = Set((try? store.artifacts(runID: id))?.map(\.name) ?? [])
        return run.spec.teachers.indices.filter { run.spec.teachers[$0].model != nil }
            .map { "teacher-\($0)-online.safetensors" }.filter { !stored.contains($0) }
    }

    /// Holds `update` of `ref` when it would complete online run `id` before its teachers'
    /// final checkpoints are stored; true when held (the caller drives nothing).
    func holdCompletion(_ id: String, _ ref: TaskRef, _ update: TaskUpdate) -> Bool {
        guard case .completed = update, let run = runs[id], run.spec.distillation.mode == .online else { return false }
        var next = run.lifecycle
        _ = next.handle(.task(ref, update), at: clock.now())
        let missing = missingOnlineTeachers(id)
        guard next.phase == .completed, !missing.isEmpty else { return false }
        heldCompletions[id] = HeldCompletion(ref: ref, update: update, since: clock.now())
        let text = "the student is distilled; the run completes once \(missing.joined(separator: ", ")) "
            + "\(missing.count == 1 ? "is" : "are") stored (waiting up to \(Self.onlineResultsWait.shortDescription))"
        logger.info("run \(id): \(text)")
        event(id, "artifact", text)
        return true
    }

    /// An artifact of run `id` was stored: its held completion goes through once nothing is missing.
    func artifactStored(in id: String) {
        guard heldCompletions[id] != nil, missingOnlineTeachers(id).isEmpty else { return }
        release(id)
    }

    /// A teacher of run `id` was assigned or stored its epoch state: a held completion waits
    /// ``onlineResultsWait`` from now.
    func teacherProgress(in id: String) {
        heldCompletions[id]?.since = clock.now()
    }

    /// Held completions whose wait is over go through (the run then fails:
    /// ``resultProblem(_:)`` names what never arrived).
    func releaseExpiredCompletions(at now: ClockTime) {
        for (id, held) in heldCompletions.sorted(by: { $0.key < $1.key }) where now - held.since >= Self.onlineResultsWait {
            release(id)
        }
    }

    private func release(_ id: String) {
        guard let held = heldCompletions.removeValue(forKey: id) else { return }
        drive(id, .task(held.ref, held.update))
    }

    /// When ``releaseExpiredCompletions(at:)`` next has something to do.
    var nextHeldCompletionDeadline: ClockTime? {
        heldCompletions.values.map { $0.since + Self.onlineResultsWait }.min()
    }
}
