internal import DistilleryProtoC

// Register, RegisterAck, Heartbeat, Deregister ↔ protobuf-c structs.

extension Register {
    init(c: Distillery__V1__Register) throws(WireError) {
        try self.init(
            name: CRead.string(c.name, "register.name"),
            roles: CRead.enums(c.n_roles, c.roles, "register.roles"),
            dataEndpoint: CRead.string(c.data_endpoint, "register.data_endpoint"),
            cores: c.cores,
            memoryBytes: c.memory_bytes,
            version: CRead.string(c.version, "register.version"),
            cachedShards: CRead.strings(c.n_cached_shards, c.cached_shards, "register.cached_shards"),
            incarnation: CRead.string(c.incarnation, "register.incarnation"))
    }

    func c(_ a: CArena) throws(WireError) -> UnsafeMutablePointer<Distillery__V1__Register> {
        let p = a.message(distillery__v1__register__init)
        p.pointee.name = try a.string(name, "register.name")
        p.pointee.n_roles = roles.count
        p.pointee.roles = a.enums(roles, Distillery__V1__Role.init(rawValue:))
        p.pointee.data_endpoint = try a.string(dataEndpoint, "register.data_endpoint")
        p.pointee.cores = cores
        p.pointee.memory_bytes = memoryBytes
        p.pointee.version = try a.string(version, "register.version")
        p.pointee.n_cached_shards = cachedShards.count
        p.pointee.cached_shards = try a.strings(cachedShards, "register.cached_shards")
        p.pointee.incarnation = try a.string(incarnation, "register.incarnation")
        return p
    }
}

extension RegisterAck {
    init(c: Distillery__V1__RegisterAck) throws(WireError) {
        try self.init(
            nodeID: CRead.string(c.node_id, "register_ack.node_id"),
            heartbeatIntervalMs: c.heartbeat_interval_ms,
            livenessTimeoutMs: c.liveness_timeout_ms)
    }

    func c(_ a: CArena) throws(WireError) -> UnsafeMutablePointer<Distillery__V1__RegisterAck> {
        let p = a.message(distillery__v1__register_ack__init)
        p.pointee.node_id = try a.string(nodeID, "register_ack.node_id")
        p.pointee.heartbeat_interval_ms = heartbeatIntervalMs
        p.pointee.liveness_timeout_ms = livenessTimeoutMs
        return p
    }
}

extension Heartbeat {
    init(c: Distillery__V1__Heartbeat) throws(WireError) {
        try self.init(
            sentUnixMs: c.sent_unix_ms,
            cpuPercent: c.cpu_percent,
            rssBytes: c.rss_bytes,
            currentTask: CRead.string(c.current_task, "heartbeat.current_task"),
            runs: CRead.strings(c.n_runs, c.runs, "heartbeat.runs"))
    }

    func c(_ a: CArena) throws(WireError) -> UnsafeMutablePointer<Distillery__V1__Heartbeat> {
        let p = a.message(distillery__v1__heartbeat__init)
        p.pointee.sent_unix_ms = sentUnixMs
        p.pointee.cpu_percent = cpuPercent
        p.pointee.rss_bytes = rssBytes
        p.pointee.current_task = try a.string(currentTask, "heartbeat.current_task")
        p.pointee.n_runs = runs.count
        p.pointee.runs = try a.strings(runs, "heartbeat.runs")
        return p
    }
}

extension Deregister {
    init(c: Distillery__V1__Deregister) throws(WireError) {
        try self.init(reason: CRead.string(c.reason, "deregister.reason"))
    }

    func c(_ a: CArena) throws(WireError) -> UnsafeMutablePointer<Distillery__V1__Deregister> {
        let p = a.message(distillery__v1__deregister__init)
        p.pointee.reason = try a.string(reason, "deregister.reason")
        return p
    }
}
