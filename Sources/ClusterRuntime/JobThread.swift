import Foundation

/// A thread of its own that runs queued jobs one at a time, in the order they were queued.
/// The one home of "work off the cooperative pool": `ThreadExecutor` runs Swift tasks' jobs on
/// it, and the coordinator's store journal runs the writes nobody waits for on it
/// (`Coordinator.persist`), so a commit stalled behind another process's fsync never stalls
/// the actor.
///
/// Rules: ``waitUntilIdle()`` returns once every job queued before it has finished (never call
/// it from a job of the same thread); after ``stop()`` the jobs already queued still run, then
/// the thread ends.
final class JobThread: @unchecked Sendable {
    private let condition = NSCondition()
    private var jobs: [() -> Void] = []
    private var running = false
    private var stopped = false

    init(name: String, stackSize: Int = 8 << 20) {
        let thread = Thread { [self] in loop() }
        thread.name = name
        thread.stackSize = stackSize
        thread.start()
    }

    /// Queues `job`; returns at once.
    func enqueue(_ job: @escaping () -> Void) {
        condition.lock()
        jobs.append(job)
        condition.broadcast()
        condition.unlock()
    }

    /// Blocks until every job queued so far has run.
    func waitUntilIdle() {
        condition.lock()
        while !jobs.isEmpty || running { condition.wait() }
        condition.unlock()
    }

    /// Lets the thread end once the queued jobs have run.
    func stop() {
        condition.lock()
        stopped = true
        condition.broadcast()
        condition.unlock()
    }

    private func loop() {
        while true {
            condition.lock()
            while jobs.isEmpty && !stopped { condition.wait() }
            if jobs.isEmpty && stopped {
                condition.unlock()
                return
            }
            let batch = jobs
            jobs.removeAll(keepingCapacity: true)
            running = true
            condition.unlock()
            for job in batch { job() }
            condition.lock()
            running = false
            condition.broadcast()
            condition.unlock()
        }
    }
}
