// preparingTeachers → distilling → completed: the teachers' and students' tasks.

extension RunLifecycle {
    /// Creates one `kind` task per worker (index = position in `workers`; a slot without a
    /// worker, "", gets none), assigned at `now`, and the `.assign` directives for them, in index order.
    mutating func assign(_ kind: TaskKind, on workers: [String], at now: ClockTime) -> [RunDirective] {
        workers.enumerated().filter { !$0.element.isEmpty }.map { index, worker in
            let ref = TaskRef(kind, index)
            tasks[ref] = TaskProgress(ref: ref, worker: worker, assignedAt: now)
            return .assign(ref, worker: worker)
        }
    }

    /// A worker's report about one of this run's tasks.
    ///
    /// Rules:
    /// - only while preparingTeachers or distilling, and only for tasks that were assigned;
    /// - a task moves forward only: assigned → accepted → running (repeats, figures replaced)
    ///   → completed | failed; it may skip states; a finished task ignores further updates;
    /// - a failed task fails the run ("teacher 1 on w2 failed: …"), and so does a teacher that
    ///   fails while distilling, after it was ready (it serves the students' logits);
    /// - a teacher completed while every teacher is completed, every part placed and every
    ///   worker's shard delivered: distilling, one `.assign` per replica; the last student
    ///   completed: completed.
    mutating func taskUpdate(_ ref: TaskRef, _ update: TaskUpdate, _ event: RunEvent, at now: ClockTime) -> [RunDirective] {
        guard phase == .preparingTeachers || phase == .distilling else {
            return ignore(event, notNow("task updates are expected only while preparing teachers or distilling"))
        }
        guard var task = tasks[ref] else { return ignore(event, "\(ref) is not assigned in this run") }
        if case .failed(let why) = update, ref.kind == .teacher, phase == .distilling, task.state == .completed {
            return fail(&task, because: why, servingStudents: true)
        }
        guard task.state != .completed, task.state != .failed else {
            return ignore(event, "\(ref) is already \(task.state.rawValue)")
        }
        switch update {
        case .accepted:
            guard task.state == .assigned else { return ignore(event, "\(ref) is already \(task.state.rawValue)") }
            task.state = .accepted
        case .running(let done, let total):
            if ref.kind == .student && phase == .distilling { studentProgressed(from: task.done, to: done, at: now) }
            if ref.kind == .student && done > 0 { recruits.remove(ref.index) }  // it holds the ring's state now
            task.state = .running
            task.done = done
            task.total = total
        case .completed:
            task.state = .completed
            // A teacher placed again while distilling serves now: it catches up first (the ring's
            // stall window starts here, but a renewal before the replicas' next step is excused).
            if ref.kind == .teacher && phase == .distilling {
                ringProgressAt = now
                teacherCatchingUp = true
            }
            if task.total > 0 { task.done = task.total }
        case .failed(let why):
            if ref.kind == .student, phase == .distilling, recruits.contains(ref.index) {
                return loseRecruit(ref.index, because: why.isEmpty ? "no reason given" : why, at: now)
            }
            return fail(&task, because: why)
        }
        tasks[ref] = task
        guard task.state == .completed else { return [] }
        if phase == .preparingTeachers { return advanceIfReady(at: now) }
        return completeIfDone()
    }

    /// Every one of the run's `kind` tasks (all `teacherCount` teachers, or every replica slot
    /// not lost while distilling — not just those assigned now) is completed.
    func allCompleted(_ kind: TaskKind) -> Bool {
        let indices = kind == .teacher ? Array(0..<teacherCount) : activeSlots
        return !indices.isEmpty && indices.allSatisfy { tasks[TaskRef(kind, $0)]?.state == .completed }
    }

    /// Records the task's failure and fails the run with it: "teacher 1 on w2 failed: …", or
    /// "teacher 1 on w2 failed while serving the students: …" for a ready teacher.
    mutating func fail(_ task: inout TaskProgress, because why: String, servingStudents: Bool = false) -> [RunDirective] {
        let detail = why.isEmpty ? "no reason given" : why
        task.state = .failed
        task.reason = detail
        tasks[task.ref] = task
        let when = servingStudents ? " while serving the students" : ""
        return end(.failed, because: "\(task.ref) on \(task.worker) failed\(when): \(detail)")
    }
}
