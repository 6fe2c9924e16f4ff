/// A task executor with a thread of its own. CPU-bound async work (a replica's training loop,
/// a teacher computing logits) runs here via `Task(executorPreference:)`: its synchronous
/// stretches occupy this thread, not one of Swift's cooperative pool — on 2 cores the pool
/// has 2 threads, and a training step on one of them would delay heartbeats and timeouts.
/// Awaited calls (sends, receives) suspend as usual and resume here.
public final class ThreadExecutor: TaskExecutor, @unchecked Sendable {
    private let thread: JobThread

    public init(name: String) {
        thread = JobThread(name: name)
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let unowned = UnownedJob(job)
        thread.enqueue { [self] in unowned.runSynchronously(on: asUnownedTaskExecutor()) }
    }

    /// Lets the thread end once the queued jobs have run.
    public func stop() { thread.stop() }
}
