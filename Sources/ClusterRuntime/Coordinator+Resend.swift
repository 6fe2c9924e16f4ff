import ClusterCore

/// Offers and assignments that go unanswered are sent again (docs/PROTOCOL.md "Shards",
/// "Tasks"). A message to a worker whose connection is being replaced — its ZMTP heartbeat
/// timed out while this coordinator was paused, and it reconnected — is dropped by the ROUTER
/// (counted as "unroutable"); without a repeat, the run would fail when its shard-stall or
/// acceptance deadline came. A worker ignores a repeated offer of a shard it is receiving and
/// accepts a repeated assignment at once without starting anything twice, so a repeat is
/// always safe; the run's deadlines still bound the whole wait.
extension Coordinator {
    /// How long an offer or assignment goes unanswered before it is sent again.
    static let resendInterval: Duration = .seconds(3)

    /// Sends again what has waited ``resendInterval`` without an answer: the shard offer to a
    /// worker showing no transfer progress, the assignment of a task not accepted yet.
    func resendUnanswered(at now: ClockTime) {
        var sent: Set<String> = []
        for id in runs.keys.sorted() {
            guard let run = runs[id], !run.lifecycle.phase.isTerminal, recovering[id] == nil else { continue }
            for (worker, since) in run.lifecycle.shardActivity.sorted(by: { $0.key < $1.key }) {
                let key = "\(id) shard \(worker)"
                sent.insert(key)
                guard now >= max(since, resentAt[key] ?? since) + Self.resendInterval else { continue }
                resentAt[key] = now
                logger.info("run \(id): no shard progress from \(worker) for \((now - since).shortDescription); offering it again")
                offerShard(of: id, to: worker)
            }
            for task in run.lifecycle.tasks.values.sorted(by: { $0.ref < $1.ref }) where task.state == .assigned {
                let key = "\(id) task \(task.ref) \(task.worker)"
                sent.insert(key)
                guard now >= max(task.assignedAt, resentAt[key] ?? task.assignedAt) + Self.resendInterval else { continue }
                resentAt[key] = now
                logger.info("run \(id): \(task.ref) not accepted by \(task.worker) yet; assigning it again")
                sendAssignment(task.ref, of: id, to: task.worker)
            }
        }
        resentAt = resentAt.filter { sent.contains($0.key) }
    }

    /// When ``resendUnanswered(at:)`` next has something to send.
    var nextResend: ClockTime? {
        var times: [ClockTime] = []
        for (id, run) in runs where !run.lifecycle.phase.isTerminal && recovering[id] == nil {
            for (worker, since) in run.lifecycle.shardActivity {
                times.append(max(since, resentAt["\(id) shard \(worker)"] ?? since) + Self.resendInterval)
            }
            for task in run.lifecycle.tasks.values where task.state == .assigned {
                times.append(max(task.assignedAt, resentAt["\(id) task \(task.ref) \(task.worker)"] ?? task.assignedAt)
                    + Self.resendInterval)
            }
        }
        return times.min()
    }
}
