import ClusterCore
import Wire

/// The data plane's keys (docs/PROTOCOL.md "Security"): in a CURVE cluster every assignment
/// lists the run's workers with their data endpoints, public keys (their lines in authorized_keys,
/// the keys they registered with) and parts, so that each worker connects to its peers as a
/// CURVE client and its data endpoint admits only them.
extension Coordinator {
    /// `assign` with the run's current ``PeerKey`` list (unchanged without CURVE).
    func withPeerKeys(_ assign: AssignTask) -> AssignTask {
        guard access.security == .curve, let run = runs[assign.runID] else { return assign }
        // Placed, joining, or holding a task: a teacher learns its replicas' keys with its
        // first assignment, before their own tasks are assigned.
        var parts: [String: (teacher: Bool, student: Bool)] = [:]
        func add(_ worker: String, teacher: Bool) {
            guard !worker.isEmpty else { return }
            var p = parts[worker] ?? (false, false)
            if teacher { p.teacher = true } else { p.student = true }
            parts[worker] = p
        }
        if let placement = run.lifecycle.placement {
            placement.teacherWorkers.forEach { add($0, teacher: true) }
            placement.studentWorkers.forEach { add($0, teacher: false) }
        }
        run.lifecycle.joining.values.forEach { add($0, teacher: false) }
        for (ref, task) in run.lifecycle.tasks { add(task.worker, teacher: ref.kind == .teacher) }
        var out = assign
        out.peerKeys = parts.keys.sorted().compactMap { worker in
            guard let endpoint = membership.member(worker)?.info.dataEndpoint, !endpoint.isEmpty,
                  let key = access.publicKey(ofWorker: worker), let p = parts[worker] else { return nil }
            return PeerKey(endpoint: endpoint, publicKey: key, teacher: p.teacher, student: p.student)
        }
        return out
    }
}
