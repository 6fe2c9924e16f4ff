import Foundation

/// Write-behind for a `ClusterStore`: the writes nobody waits for (event log lines, worker
/// records, run states, metrics batches) run in order on a thread of their own, so a commit
/// that stalls (an fsync behind another process's I/O) never stalls the caller — the
/// coordinator's actor keeps handling messages.
///
/// Rules: jobs run one at a time, in the order they were queued. ``waitUntilIdle()`` returns
/// once every job queued before it has finished; reads and writes whose result someone waits
/// for (inserting a run, answering `runs`/`logs`) call it first, so they see every earlier
/// write (read-your-writes). A job's failure is the job's to report (it gets the store and
/// throws nothing out). Jobs queued but not yet run are lost if the process dies — they are
/// the same few milliseconds of writes an in-line commit would have been in the middle of.
public final class StoreJournal: @unchecked Sendable {
    private let store: ClusterStore
    private let condition = NSCondition()
    private var jobs: [@Sendable (ClusterStore) -> Void] = []
    private var running = false
    private var stopped = false

    public init(store: ClusterStore, name: String = "distillery-store") {
        self.store = store
        let thread = Thread { [self] in loop() }
        thread.name = name
        thread.start()
    }

    /// Queues `job`; returns at once.
    public func enqueue(_ job: @escaping @Sendable (ClusterStore) -> Void) {
        condition.lock()
        jobs.append(job)
        condition.broadcast()
        condition.unlock()
    }

    /// Blocks until every job queued so far has run. Never call it from a job.
    public func waitUntilIdle() {
        condition.lock()
        while !jobs.isEmpty || running { condition.wait() }
        condition.unlock()
    }

    /// Jobs waiting or running.
    public var backlog: Int {
        condition.lock()
        defer { condition.unlock() }
        return jobs.count + (running ? 1 : 0)
    }

    /// Runs what is queued, then lets the thread end.
    public func stop() {
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
            let job = jobs.removeFirst()
            running = true
            condition.unlock()
            job(store)
            condition.lock()
            running = false
            condition.broadcast()
            condition.unlock()
        }
    }
}
