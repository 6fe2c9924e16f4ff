internal import DistilleryProtoC

// Task messages ↔ protobuf-c structs.

extension TeacherTask {
    init(c: Distillery__V1__TeacherTask) throws(WireError) {
        try self.init(
            teacherIndex: c.teacher_index,
            checkpointHash: CRead.string(c.checkpoint_hash, "assign_task.teacher.checkpoint_hash"),
            replicas: CRead.array(c.n_replicas, c.replicas),
            replicaEndpoints: CRead.strings(c.n_replica_endpoints, c.replica_endpoints, "assign_task.teacher.replica_endpoints"),
            teacherEndpoints: CRead.strings(c.n_teacher_endpoints, c.teacher_endpoints, "assign_task.teacher.teacher_endpoints"),
            fromStep: c.from_step,
            stateHash: CRead.string(c.state_hash, "assign_task.teacher.state_hash"))
    }

    func c(_ a: CArena) throws(WireError) -> UnsafeMutablePointer<Distillery__V1__TeacherTask> {
        let p = a.message(distillery__v1__teacher_task__init)
        p.pointee.teacher_index = teacherIndex
        p.pointee.checkpoint_hash = try a.string(checkpointHash, "assign_task.teacher.checkpoint_hash")
        p.pointee.n_replicas = replicas.count
        p.pointee.replicas = a.array(replicas)
        p.pointee.n_replica_endpoints = replicaEndpoints.count
        p.pointee.replica_endpoints = try a.strings(replicaEndpoints, "assign_task.teacher.replica_endpoints")
        p.pointee.n_teacher_endpoints = teacherEndpoints.count
        p.pointee.teacher_endpoints = try a.strings(teacherEndpoints, "assign_task.teacher.teacher_endpoints")
        p.pointee.from_step = fromStep
        p.pointee.state_hash = try a.string(stateHash, "assign_task.teacher.state_hash")
        return p
    }
}

extension StudentTask {
    init(c: Distillery__V1__StudentTask) throws(WireError) {
        try self.init(
            rank: c.rank,
            replicas: c.replicas,
            ringGeneration: c.ring_generation,
            peerEndpoints: CRead.strings(c.n_peer_endpoints, c.peer_endpoints, "assign_task.student.peer_endpoints"),
            teacherEndpoints: CRead.strings(c.n_teacher_endpoints, c.teacher_endpoints,
                                            "assign_task.student.teacher_endpoints"),
            replicaSlot: c.replica_slot,
            resumeHash: CRead.string(c.resume_hash, "assign_task.student.resume_hash"),
            fromStep: c.from_step)
    }

    func c(_ a: CArena) throws(WireError) -> UnsafeMutablePointer<Distillery__V1__StudentTask> {
        let p = a.message(distillery__v1__student_task__init)
        p.pointee.rank = rank
        p.pointee.replicas = replicas
        p.pointee.ring_generation = ringGeneration
        p.pointee.n_peer_endpoints = peerEndpoints.count
        p.pointee.peer_endpoints = try a.strings(peerEndpoints, "assign_task.student.peer_endpoints")
        p.pointee.n_teacher_endpoints = teacherEndpoints.count
        p.pointee.teacher_endpoints = try a.strings(teacherEndpoints, "assign_task.student.teacher_endpoints")
        p.pointee.replica_slot = replicaSlot
        p.pointee.resume_hash = try a.string(resumeHash, "assign_task.student.resume_hash")
        p.pointee.from_step = fromStep
        return p
    }
}

extension AssignTask {
    init(c: Distillery__V1__AssignTask) throws(WireError) {
        let task: TaskSpec?
        switch c.task_case {
        case DISTILLERY__V1__ASSIGN_TASK__TASK_TEACHER:
            task = try .teacher(TeacherTask(c: CRead.required(c.teacher, "assign_task.teacher")))
        case DISTILLERY__V1__ASSIGN_TASK__TASK_STUDENT:
            task = try .student(StudentTask(c: CRead.required(c.student, "assign_task.student")))
        default:
            task = nil
        }
        try self.init(
            runID: CRead.string(c.run_id, "assign_task.run_id"),
            taskID: CRead.string(c.task_id, "assign_task.task_id"),
            runSpecYaml: CRead.string(c.run_spec_yaml, "assign_task.run_spec_yaml"),
            shardHash: CRead.string(c.shard_hash, "assign_task.shard_hash"),
            task: task,
            peerKeys: CRead.messages(c.n_peer_keys, c.peer_keys, "assign_task.peer_keys") { (k, path) throws(WireError) in
                try PeerKey(endpoint: CRead.string(k.endpoint, "\(path).endpoint"),
                            publicKey: CRead.string(k.public_key, "\(path).public_key"),
                            teacher: k.teacher != 0, student: k.student != 0)
            })
    }

    func c(_ a: CArena) throws(WireError) -> UnsafeMutablePointer<Distillery__V1__AssignTask> {
        let p = a.message(distillery__v1__assign_task__init)
        p.pointee.run_id = try a.string(runID, "assign_task.run_id")
        p.pointee.task_id = try a.string(taskID, "assign_task.task_id")
        p.pointee.run_spec_yaml = try a.string(runSpecYaml, "assign_task.run_spec_yaml")
        p.pointee.shard_hash = try a.string(shardHash, "assign_task.shard_hash")
        switch task {
        case .teacher(let t):
            p.pointee.task_case = DISTILLERY__V1__ASSIGN_TASK__TASK_TEACHER
            p.pointee.teacher = try t.c(a)
        case .student(let s):
            p.pointee.task_case = DISTILLERY__V1__ASSIGN_TASK__TASK_STUDENT
            p.pointee.student = try s.c(a)
        case nil:
            p.pointee.task_case = DISTILLERY__V1__ASSIGN_TASK__TASK__NOT_SET
        }
        p.pointee.n_peer_keys = peerKeys.count
        p.pointee.peer_keys = try a.messages(peerKeys) { (k, i) throws(WireError) in
            let q = a.message(distillery__v1__peer_key__init)
            q.pointee.endpoint = try a.string(k.endpoint, "assign_task.peer_keys[\(i)].endpoint")
            q.pointee.public_key = try a.string(k.publicKey, "assign_task.peer_keys[\(i)].public_key")
            q.pointee.teacher = k.teacher ? 1 : 0
            q.pointee.student = k.student ? 1 : 0
            return q
        }
        return p
    }
}

extension TaskStatus {
    init(c: Distillery__V1__TaskStatus) throws(WireError) {
        try self.init(
            runID: CRead.string(c.run_id, "task_status.run_id"),
            taskID: CRead.string(c.task_id, "task_status.task_id"),
            state: CRead.enumValue(c.state.rawValue, "task_status.state"),
            reason: CRead.string(c.reason, "task_status.reason"),
            done: c.done,
            total: c.total)
    }

    func c(_ a: CArena) throws(WireError) -> UnsafeMutablePointer<Distillery__V1__TaskStatus> {
        let p = a.message(distillery__v1__task_status__init)
        p.pointee.run_id = try a.string(runID, "task_status.run_id")
        p.pointee.task_id = try a.string(taskID, "task_status.task_id")
        p.pointee.state = Distillery__V1__TaskState(rawValue: state.rawValue)
        p.pointee.reason = try a.string(reason, "task_status.reason")
        p.pointee.done = done
        p.pointee.total = total
        return p
    }
}
