// Figures for progress bars.

extension RunLifecycle {
    /// Progress of the current phase for progress bars: sharding = delivered/needed workers;
    /// preparingTeachers / distilling = sum(done)/sum(total) of that phase's tasks (or
    /// completed/count while totals are unknown); otherwise 0/0.
    ///
    /// A task's total is unknown while it is 0; a completed task counts as all done, and no
    /// task counts more done than its total.
    public var phaseProgress: (done: UInt64, total: UInt64) {
        switch phase {
        case .sharding:
            return (UInt64(shardsDelivered.count), UInt64(placement?.workers.count ?? 0))
        case .preparingTeachers:
            return progress(of: .teacher)
        case .distilling:
            return progress(of: .student)
        case .pending, .placing, .completed, .failed, .cancelled, .interrupted:
            return (0, 0)
        }
    }

    private func progress(of kind: TaskKind) -> (done: UInt64, total: UInt64) {
        let phaseTasks = tasks.values.filter { $0.ref.kind == kind }
        guard phaseTasks.allSatisfy({ $0.total > 0 }) else {
            return (UInt64(phaseTasks.filter { $0.state == .completed }.count), UInt64(phaseTasks.count))
        }
        return phaseTasks.reduce((done: UInt64(0), total: UInt64(0))) { sum, task in
            let done = task.state == .completed ? task.total : min(task.done, task.total)
            return (sum.done.addingSaturated(done), sum.total.addingSaturated(task.total))
        }
    }
}

extension UInt64 {
    /// `self + other`, or `UInt64.max` when that overflows.
    func addingSaturated(_ other: UInt64) -> UInt64 {
        let (sum, overflow) = addingReportingOverflow(other)
        return overflow ? .max : sum
    }
}
