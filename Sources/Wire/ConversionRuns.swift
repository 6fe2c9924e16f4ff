internal import DistilleryProtoC

// Run messages (CLI ↔ coordinator) ↔ protobuf-c structs.

extension SubmitRun {
    init(c: Distillery__V1__SubmitRun) throws(WireError) {
        try self.init(
            specYaml: CRead.string(c.spec_yaml, "submit_run.spec_yaml"),
            fileName: CRead.string(c.file_name, "submit_run.file_name"),
            idempotencyKey: CRead.string(c.idempotency_key, "submit_run.idempotency_key"),
            resumeRunID: CRead.string(c.resume_run_id, "submit_run.resume_run_id"))
    }

    func c(_ a: CArena) throws(WireError) -> UnsafeMutablePointer<Distillery__V1__SubmitRun> {
        let p = a.message(distillery__v1__submit_run__init)
        p.pointee.spec_yaml = try a.string(specYaml, "submit_run.spec_yaml")
        p.pointee.file_name = try a.string(fileName, "submit_run.file_name")
        p.pointee.idempotency_key = try a.string(idempotencyKey, "submit_run.idempotency_key")
        p.pointee.resume_run_id = try a.string(resumeRunID, "submit_run.resume_run_id")
        return p
    }
}

extension FieldError {
    init(c: Distillery__V1__FieldError, path: String) throws(WireError) {
        try self.init(
            field: CRead.string(c.field, "\(path).field"),
            message: CRead.string(c.message, "\(path).message"))
    }

    func c(_ a: CArena, path: String) throws(WireError) -> UnsafeMutablePointer<Distillery__V1__FieldError> {
        let p = a.message(distillery__v1__field_error__init)
        p.pointee.field = try a.string(field, "\(path).field")
        p.pointee.message = try a.string(message, "\(path).message")
        return p
    }
}

extension SubmitRunReply {
    init(c: Distillery__V1__SubmitRunReply) throws(WireError) {
        try self.init(
            accepted: c.accepted != 0,
            runID: CRead.string(c.run_id, "submit_run_reply.run_id"),
            errors: CRead.messages(c.n_errors, c.errors, "submit_run_reply.errors") { (e, path) throws(WireError) in
                try FieldError(c: e, path: path)
            },
            duplicate: c.duplicate != 0,
            resumeStep: c.resume_step)
    }

    func c(_ a: CArena) throws(WireError) -> UnsafeMutablePointer<Distillery__V1__SubmitRunReply> {
        let p = a.message(distillery__v1__submit_run_reply__init)
        p.pointee.accepted = accepted ? 1 : 0
        p.pointee.run_id = try a.string(runID, "submit_run_reply.run_id")
        p.pointee.duplicate = duplicate ? 1 : 0
        p.pointee.resume_step = resumeStep
        p.pointee.n_errors = errors.count
        p.pointee.errors = try a.messages(errors) { (e, i) throws(WireError) in
            try e.c(a, path: "submit_run_reply.errors[\(i)]")
        }
        return p
    }
}

extension StatusRequest {
    func c(_ a: CArena) -> UnsafeMutablePointer<Distillery__V1__StatusRequest> {
        a.message(distillery__v1__status_request__init)
    }
}

extension NodeStatus {
    init(c: Distillery__V1__NodeStatus, path: String) throws(WireError) {
        try self.init(
            nodeID: CRead.string(c.node_id, "\(path).node_id"),
            name: CRead.string(c.name, "\(path).name"),
            roles: CRead.enums(c.n_roles, c.roles, "\(path).roles"),
            address: CRead.string(c.address, "\(path).address"),
            state: CRead.enumValue(c.state.rawValue, "\(path).state"),
            lastHeardMsAgo: c.last_heard_ms_ago,
            cpuPercent: c.cpu_percent,
            rssBytes: c.rss_bytes,
            currentTask: CRead.string(c.current_task, "\(path).current_task"),
            version: CRead.string(c.version, "\(path).version"))
    }

    func c(_ a: CArena, path: String) throws(WireError) -> UnsafeMutablePointer<Distillery__V1__NodeStatus> {
        let p = a.message(distillery__v1__node_status__init)
        p.pointee.node_id = try a.string(nodeID, "\(path).node_id")
        p.pointee.name = try a.string(name, "\(path).name")
        p.pointee.n_roles = roles.count
        p.pointee.roles = a.enums(roles, Distillery__V1__Role.init(rawValue:))
        p.pointee.address = try a.string(address, "\(path).address")
        p.pointee.state = Distillery__V1__NodeState(rawValue: state.rawValue)
        p.pointee.last_heard_ms_ago = lastHeardMsAgo
        p.pointee.cpu_percent = cpuPercent
        p.pointee.rss_bytes = rssBytes
        p.pointee.current_task = try a.string(currentTask, "\(path).current_task")
        p.pointee.version = try a.string(version, "\(path).version")
        return p
    }
}

extension ClusterStatus {
    init(c: Distillery__V1__ClusterStatus) throws(WireError) {
        try self.init(
            nodes: CRead.messages(c.n_nodes, c.nodes, "cluster_status.nodes") { (n, path) throws(WireError) in
                try NodeStatus(c: n, path: path)
            },
            coordinatorVersion: CRead.string(c.coordinator_version, "cluster_status.coordinator_version"),
            security: CRead.anyEnumValue(c.security.rawValue, "cluster_status.security"),
            refusedKeys: CRead.messages(c.n_refused_keys, c.refused_keys, "cluster_status.refused_keys") { (k, path) throws(WireError) in
                try RefusedKey(c: k, path: path)
            })
    }

    func c(_ a: CArena) throws(WireError) -> UnsafeMutablePointer<Distillery__V1__ClusterStatus> {
        let p = a.message(distillery__v1__cluster_status__init)
        p.pointee.n_nodes = nodes.count
        p.pointee.nodes = try a.messages(nodes) { (n, i) throws(WireError) in
            try n.c(a, path: "cluster_status.nodes[\(i)]")
        }
        p.pointee.coordinator_version = try a.string(coordinatorVersion, "cluster_status.coordinator_version")
        p.pointee.security = Distillery__V1__ListenerSecurity(rawValue: security.rawValue)
        p.pointee.n_refused_keys = refusedKeys.count
        p.pointee.refused_keys = try a.messages(refusedKeys) { (k, i) throws(WireError) in
            try k.c(a, path: "cluster_status.refused_keys[\(i)]")
        }
        return p
    }
}

extension RefusedKey {
    init(c: Distillery__V1__RefusedKey, path: String) throws(WireError) {
        try self.init(
            publicKey: CRead.string(c.public_key, "\(path).public_key"),
            name: CRead.string(c.name, "\(path).name"),
            reason: CRead.string(c.reason, "\(path).reason"),
            count: c.count, lastMsAgo: c.last_ms_ago)
    }

    func c(_ a: CArena, path: String) throws(WireError) -> UnsafeMutablePointer<Distillery__V1__RefusedKey> {
        let p = a.message(distillery__v1__refused_key__init)
        p.pointee.public_key = try a.string(publicKey, "\(path).public_key")
        p.pointee.name = try a.string(name, "\(path).name")
        p.pointee.reason = try a.string(reason, "\(path).reason")
        p.pointee.count = count
        p.pointee.last_ms_ago = lastMsAgo
        return p
    }
}

extension ListRuns {
    init(c: Distillery__V1__ListRuns) {
        self.init(limit: c.limit)
    }

    func c(_ a: CArena) -> UnsafeMutablePointer<Distillery__V1__ListRuns> {
        let p = a.message(distillery__v1__list_runs__init)
        p.pointee.limit = limit
        return p
    }
}

extension RunSummary {
    init(c: Distillery__V1__RunSummary, path: String) throws(WireError) {
        try self.init(
            runID: CRead.string(c.run_id, "\(path).run_id"),
            name: CRead.string(c.name, "\(path).name"),
            state: CRead.enumValue(c.state.rawValue, "\(path).state"),
            reason: CRead.string(c.reason, "\(path).reason"),
            submittedUnixMs: c.submitted_unix_ms,
            updatedUnixMs: c.updated_unix_ms)
    }

    func c(_ a: CArena, path: String) throws(WireError) -> UnsafeMutablePointer<Distillery__V1__RunSummary> {
        let p = a.message(distillery__v1__run_summary__init)
        p.pointee.run_id = try a.string(runID, "\(path).run_id")
        p.pointee.name = try a.string(name, "\(path).name")
        p.pointee.state = Distillery__V1__RunState(rawValue: state.rawValue)
        p.pointee.reason = try a.string(reason, "\(path).reason")
        p.pointee.submitted_unix_ms = submittedUnixMs
        p.pointee.updated_unix_ms = updatedUnixMs
        return p
    }
}

extension RunList {
    init(c: Distillery__V1__RunList) throws(WireError) {
        try self.init(runs: CRead.messages(c.n_runs, c.runs, "run_list.runs") { (r, path) throws(WireError) in
            try RunSummary(c: r, path: path)
        })
    }

    func c(_ a: CArena) throws(WireError) -> UnsafeMutablePointer<Distillery__V1__RunList> {
        let p = a.message(distillery__v1__run_list__init)
        p.pointee.n_runs = runs.count
        p.pointee.runs = try a.messages(runs) { (r, i) throws(WireError) in
            try r.c(a, path: "run_list.runs[\(i)]")
        }
        return p
    }
}

extension WatchRun {
    init(c: Distillery__V1__WatchRun) throws(WireError) {
        try self.init(runID: CRead.string(c.run_id, "watch_run.run_id"))
    }

    func c(_ a: CArena) throws(WireError) -> UnsafeMutablePointer<Distillery__V1__WatchRun> {
        let p = a.message(distillery__v1__watch_run__init)
        p.pointee.run_id = try a.string(runID, "watch_run.run_id")
        return p
    }
}

extension RunUpdate {
    init(c: Distillery__V1__RunUpdate) throws(WireError) {
        try self.init(
            run: RunSummary(c: CRead.required(c.run, "run_update.run"), path: "run_update.run"),
            phase: CRead.string(c.phase, "run_update.phase"),
            phaseDone: c.phase_done,
            phaseTotal: c.phase_total,
            latest: CRead.messages(c.n_latest, c.latest, "run_update.latest") { (m, path) throws(WireError) in
                try MetricValue(c: m, path: path)
            },
            history: CRead.messages(c.n_history, c.history, "run_update.history") { (m, path) throws(WireError) in
                try EpochPoint(name: CRead.string(m.name, "\(path).name"), epoch: m.epoch, value: m.value)
            },
            teacherWorkers: CRead.strings(c.n_teacher_workers, c.teacher_workers, "run_update.teacher_workers"),
            studentWorkers: CRead.strings(c.n_student_workers, c.student_workers, "run_update.student_workers"))
    }

    func c(_ a: CArena) throws(WireError) -> UnsafeMutablePointer<Distillery__V1__RunUpdate> {
        let p = a.message(distillery__v1__run_update__init)
        p.pointee.run = try run.c(a, path: "run_update.run")
        p.pointee.phase = try a.string(phase, "run_update.phase")
        p.pointee.phase_done = phaseDone
        p.pointee.phase_total = phaseTotal
        p.pointee.n_latest = latest.count
        p.pointee.latest = try a.messages(latest) { (m, i) throws(WireError) in
            try m.c(a, path: "run_update.latest[\(i)]")
        }
        p.pointee.n_history = history.count
        p.pointee.history = try a.messages(history) { (m, i) throws(WireError) in
            let q = a.message(distillery__v1__epoch_point__init)
            q.pointee.name = try a.string(m.name, "run_update.history[\(i)].name")
            q.pointee.epoch = m.epoch
            q.pointee.value = m.value
            return q
        }
        p.pointee.n_teacher_workers = teacherWorkers.count
        p.pointee.teacher_workers = try a.strings(teacherWorkers, "run_update.teacher_workers")
        p.pointee.n_student_workers = studentWorkers.count
        p.pointee.student_workers = try a.strings(studentWorkers, "run_update.student_workers")
        return p
    }
}

extension CancelRun {
    init(c: Distillery__V1__CancelRun) throws(WireError) {
        try self.init(runID: CRead.string(c.run_id, "cancel_run.run_id"))
    }

    func c(_ a: CArena) throws(WireError) -> UnsafeMutablePointer<Distillery__V1__CancelRun> {
        let p = a.message(distillery__v1__cancel_run__init)
        p.pointee.run_id = try a.string(runID, "cancel_run.run_id")
        return p
    }
}

extension CancelRunReply {
    init(c: Distillery__V1__CancelRunReply) throws(WireError) {
        try self.init(cancelled: c.cancelled != 0, message: CRead.string(c.message, "cancel_run_reply.message"))
    }

    func c(_ a: CArena) throws(WireError) -> UnsafeMutablePointer<Distillery__V1__CancelRunReply> {
        let p = a.message(distillery__v1__cancel_run_reply__init)
        p.pointee.cancelled = cancelled ? 1 : 0
        p.pointee.message = try a.string(message, "cancel_run_reply.message")
        return p
    }
}
