// Semantic rules of the control-plane messages (membership, runs, tasks, shards, results).

extension Register {
    func check() throws(WireError) {
        try Rules.nonEmpty(name, "register.name")
        try Rules.rule(!roles.isEmpty, "register.roles must list at least one role (teacher, student)")
        try Rules.distinct(roles, "register.roles")
        try Rules.rule(incarnation.utf8.count <= 64, "register.incarnation is \(incarnation.utf8.count) bytes; at most 64 are allowed")
    }
}

extension RegisterAck {
    func check() throws(WireError) {
        try Rules.nonEmpty(nodeID, "register_ack.node_id")
        try Rules.rule(heartbeatIntervalMs >= 1, "register_ack.heartbeat_interval_ms must be at least 1")
        try Rules.rule(livenessTimeoutMs > heartbeatIntervalMs, "register_ack.liveness_timeout_ms "
            + "(\(livenessTimeoutMs)) must be greater than heartbeat_interval_ms (\(heartbeatIntervalMs))")
    }
}

extension Heartbeat {
    func check() throws(WireError) {
        try Rules.finiteNonNegative(cpuPercent, "heartbeat.cpu_percent")
        try Rules.distinct(runs, "heartbeat.runs")
        for (i, run) in runs.enumerated() { try Rules.nonEmpty(run, "heartbeat.runs[\(i)]") }
    }
}

extension SubmitRun {
    func check() throws(WireError) {
        if resumeRunID.isEmpty {
            try Rules.nonEmpty(specYaml, "submit_run.spec_yaml")
        } else {
            try Rules.rule(specYaml.isEmpty && fileName.isEmpty, "submit_run.spec_yaml and file_name must be empty with "
                + "resume_run_id (a resumed run keeps its spec)")
            let idBytes = resumeRunID.utf8.count
            try Rules.rule(idBytes <= SubmitRun.maxResumeRunIDBytes, "submit_run.resume_run_id must be at most "
                + "\(SubmitRun.maxResumeRunIDBytes) bytes, got \(idBytes)")
        }
        let keyBytes = idempotencyKey.utf8.count
        try Rules.rule(keyBytes <= SubmitRun.maxIdempotencyKeyBytes, "submit_run.idempotency_key must be at most "
            + "\(SubmitRun.maxIdempotencyKeyBytes) bytes (a UUID is 36), got \(keyBytes)")
    }
}

extension SubmitRunReply {
    func check() throws(WireError) {
        if accepted {
            try Rules.nonEmpty(runID, "submit_run_reply.run_id (accepted)")
            try Rules.rule(errors.isEmpty, "submit_run_reply.errors must be empty when accepted, got "
                + "\(errors.count)")
        } else {
            try Rules.rule(!errors.isEmpty, "submit_run_reply.errors must say why the run was not accepted")
            try Rules.rule(!duplicate, "submit_run_reply.duplicate must be false when the run was not accepted "
                + "(a duplicate names the run its key already created)")
        }
        for (i, e) in errors.enumerated() {
            try Rules.nonEmpty(e.message, "submit_run_reply.errors[\(i)].message")
        }
    }
}

extension ClusterStatus {
    func check() throws(WireError) {
        for (i, node) in nodes.enumerated() {
            try Rules.nonEmpty(node.nodeID, "cluster_status.nodes[\(i)].node_id")
            try Rules.finiteNonNegative(node.cpuPercent, "cluster_status.nodes[\(i)].cpu_percent")
        }
        try Rules.rule(refusedKeys.count <= ClusterStatus.maxRefusedKeys,
                       "cluster_status.refused_keys has \(refusedKeys.count) entries, at most \(ClusterStatus.maxRefusedKeys) allowed")
        for (i, k) in refusedKeys.enumerated() {
            try Rules.rule(k.publicKey.isEmpty || k.publicKey.utf8.count == 40,
                           "cluster_status.refused_keys[\(i)].public_key must be empty or 40 Z85 characters")
            try Rules.nonEmpty(k.reason, "cluster_status.refused_keys[\(i)].reason")
        }
    }
}

extension RunSummary {
    func check(_ path: String) throws(WireError) {
        try Rules.nonEmpty(runID, "\(path).run_id")
        if state.isTerminal {
            try Rules.rule(!reason.isEmpty, "\(path).reason must say why the run is \(state)")
        }
    }
}

extension RunList {
    func check() throws(WireError) {
        for (i, run) in runs.enumerated() {
            try run.check("run_list.runs[\(i)]")
        }
    }
}

extension RunUpdate {
    func check() throws(WireError) {
        try run.check("run_update.run")
        if phaseTotal > 0 {
            try Rules.rule(phaseDone <= phaseTotal, "run_update.phase_done (\(phaseDone)) must not exceed "
                + "phase_total (\(phaseTotal))")
        }
        for (i, m) in latest.enumerated() {
            try Rules.nonEmpty(m.name, "run_update.latest[\(i)].name")
        }
        try Rules.rule(history.count <= RunUpdate.maxHistory, "run_update.history has \(history.count) points; at most "
            + "\(RunUpdate.maxHistory) are allowed")
        for (i, p) in history.enumerated() {
            try Rules.nonEmpty(p.name, "run_update.history[\(i)].name")
            try Rules.rule(p.epoch >= 1, "run_update.history[\(i)].epoch must be 1 or more (epochs are 1-based), not 0")
        }
        try Rules.rule(teacherWorkers.count <= RunUpdate.maxTeacherWorkers, "run_update.teacher_workers has "
            + "\(teacherWorkers.count) entries; at most \(RunUpdate.maxTeacherWorkers) (one per teacher) are allowed")
        try Rules.rule(studentWorkers.count <= RunUpdate.maxStudentWorkers, "run_update.student_workers has "
            + "\(studentWorkers.count) entries; at most \(RunUpdate.maxStudentWorkers) (one per replica) are allowed")
    }
}

extension AssignTask {
    func check() throws(WireError) {
        try Rules.nonEmpty(runID, "assign_task.run_id")
        try Rules.nonEmpty(taskID, "assign_task.task_id")
        try Rules.nonEmpty(runSpecYaml, "assign_task.run_spec_yaml")
        switch task {
        case .teacher(let t): try t.check()
        case .student(let s): try s.check()
        case nil: throw WireError(.invalid, "assign_task.task must be set (teacher or student)")
        }
        for (i, k) in peerKeys.enumerated() {
            try Rules.nonEmpty(k.endpoint, "assign_task.peer_keys[\(i)].endpoint")
            try Rules.rule(k.publicKey.utf8.count == 40, "assign_task.peer_keys[\(i)].public_key must be a 40-character Z85 key")
        }
    }
}

extension TeacherTask {
    func check() throws(WireError) {
        try Rules.distinct(replicas, "assign_task.teacher.replicas")
        try Rules.rule(replicaEndpoints.isEmpty || replicaEndpoints.count == replicas.count, "assign_task.teacher"
            + ".replica_endpoints has \(replicaEndpoints.count) entries; it must be empty or one per replica (\(replicas.count))")
        try Rules.rule(teacherEndpoints.isEmpty || Int(teacherIndex) < teacherEndpoints.count, "assign_task.teacher"
            + ".teacher_endpoints has \(teacherEndpoints.count) entries; it must be empty or include teacher \(teacherIndex)")
    }
}

extension StudentTask {
    func check() throws(WireError) {
        try Rules.rule(replicas >= 1, "assign_task.student.replicas must be at least 1")
        try Rules.rule(rank < replicas, "assign_task.student.rank (\(rank)) must be less than replicas (\(replicas))")
        try Rules.rule(peerEndpoints.isEmpty || peerEndpoints.count == Int(replicas), "assign_task.student"
            + ".peer_endpoints has \(peerEndpoints.count) entries; it must be empty or list all \(replicas) ranks")
    }
}

extension TaskStatus {
    func check() throws(WireError) {
        try Rules.nonEmpty(runID, "task_status.run_id")
        try Rules.nonEmpty(taskID, "task_status.task_id")
        if state == .failed {
            try Rules.rule(!reason.isEmpty, "task_status.reason must say why the task failed")
        }
        if total > 0 {
            try Rules.rule(done <= total, "task_status.done (\(done)) must not exceed total (\(total))")
        }
    }
}

extension ShardOffer {
    func check() throws(WireError) {
        try Rules.nonEmpty(shardHash, "shard_offer.shard_hash")
        try Rules.rule(chunkCount >= 1, "shard_offer.chunk_count must be at least 1")
        try Rules.rule(totalBytes >= UInt64(chunkCount), "shard_offer.total_bytes (\(totalBytes)) must be at least "
            + "chunk_count (\(chunkCount)): every chunk holds at least one byte")
    }
}

extension ShardRequest {
    func check() throws(WireError) {
        try Rules.nonEmpty(shardHash, "shard_request.shard_hash")
        try Rules.rule(chunkCount >= 1, "shard_request.chunk_count must be at least 1")
        try Rules.rule(UInt64(firstChunk) + UInt64(chunkCount) <= UInt64(UInt32.max) + 1, "shard_request.first_chunk "
            + "(\(firstChunk)) + chunk_count (\(chunkCount)) goes past the last possible chunk index \(UInt32.max)")
    }
}

extension ShardAck {
    func check() throws(WireError) {
        try Rules.nonEmpty(shardHash, "shard_ack.shard_hash")
        if have {
            try Rules.rule(error.isEmpty, "shard_ack.error must be empty when have is true")
        } else {
            try Rules.rule(!error.isEmpty, "shard_ack.error must say why the shard is not present (have is false)")
        }
    }
}

extension Metrics {
    func check() throws(WireError) {
        try Rules.nonEmpty(runID, "metrics.run_id")
        for (i, m) in values.enumerated() {
            try Rules.nonEmpty(m.name, "metrics.values[\(i)].name")
        }
    }
}

extension ArtifactAck {
    func check() throws(WireError) {
        try Rules.nonEmpty(runID, "artifact_ack.run_id")
        try Rules.nonEmpty(name, "artifact_ack.name")
        if stored {
            try Rules.rule(error.isEmpty, "artifact_ack.error must be empty when stored is true")
        } else {
            try Rules.rule(!error.isEmpty, "artifact_ack.error must say why the artifact was not stored")
        }
    }
}

extension EventList {
    func check() throws(WireError) {
        for (i, entry) in events.enumerated() {
            try Rules.nonEmpty(entry.kind, "event_list.events[\(i)].kind")
            try Rules.nonEmpty(entry.message, "event_list.events[\(i)].message")
        }
    }
}
