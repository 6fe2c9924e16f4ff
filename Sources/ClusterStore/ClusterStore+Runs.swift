import GRDB

extension ClusterStore {
    /// Allocates the next run id and stores the run as "pending". The id is "run-N-xxxxxxxx":
    /// N from a counter (monotonic, never reused, even after the run's rows are deleted or the
    /// coordinator restarts), then 8 random characters (``RunID``), so that nobody can name a
    /// run before it is submitted. People may call it "run-N" (``run(reference:)``).
    ///
    /// `idempotencyKey` (nil or empty = none) is the client's key of this submission; a key
    /// already used by another run is refused (look it up first with ``run(idempotencyKey:)``).
    public func insertRun(name: String, specYAML: String, submittedAtMs: Int64,
                          idempotencyKey: String? = nil) throws(ClusterStoreError) -> RunRecord {
        let key = idempotencyKey.flatMap { $0.isEmpty ? nil : $0 }
        return try write("cannot insert run \(name) into") { db in
            if let key, let existing = try String.fetchOne(
                db, sql: "SELECT id FROM runs WHERE idempotencyKey = ?", arguments: [key]) {
                throw DatabaseError(resultCode: .SQLITE_CONSTRAINT, message: "idempotency key '\(key)' "
                    + "already belongs to \(existing); a retry must be answered with that run, not a new one")
            }
            try db.execute(sql: "UPDATE counters SET value = value + 1 WHERE name = 'run'")
            guard let seq = try Int64.fetchOne(db, sql: "SELECT value FROM counters WHERE name = 'run'") else {
                throw DatabaseError(resultCode: .SQLITE_CORRUPT, message: "the run counter row is missing")
            }
            let run = RunRecord(
                id: RunID.make(seq: seq), name: name, specYAML: specYAML, state: "pending", reason: "",
                submittedAtMs: submittedAtMs, updatedAtMs: submittedAtMs, idempotencyKey: key)
            try db.execute(
                sql: """
                    INSERT INTO runs (id, seq, name, specYAML, state, reason, submittedAtMs, updatedAtMs, idempotencyKey)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    run.id, seq, run.name, run.specYAML, run.state, run.reason, run.submittedAtMs, run.updatedAtMs,
                    run.idempotencyKey,
                ])
            return run
        }
    }

    /// The run a submission with `idempotencyKey` created, or nil (always nil for "").
    public func run(idempotencyKey: String) throws(ClusterStoreError) -> RunRecord? {
        guard !idempotencyKey.isEmpty else { return nil }
        return try read("cannot look up idempotency key '\(idempotencyKey)' in") { db in
            try Row.fetchOne(db, sql: "SELECT * FROM runs WHERE idempotencyKey = ?", arguments: [idempotencyKey])
                .map(Self.runRecord)
        }
    }

    /// Sets the run's state, reason and `updatedAtMs`. Throws if there is no such run.
    public func updateRun(id: String, state: String, reason: String, atMs: Int64) throws(ClusterStoreError) {
        let action = "cannot update run \(id) in"
        try write(action) { db in
            try db.execute(
                sql: "UPDATE runs SET state = ?, reason = ?, updatedAtMs = ? WHERE id = ?",
                arguments: [state, reason, atMs, id])
            if db.changesCount == 0 {
                try requireRun(id, db, for: action)
            }
        }
    }

    /// The run, or nil.
    public func run(id: String) throws(ClusterStoreError) -> RunRecord? {
        try read("cannot read run \(id) from") { db in
            try Row.fetchOne(db, sql: "SELECT * FROM runs WHERE id = ?", arguments: [id]).map(Self.runRecord)
        }
    }

    /// The run `reference` names: its id, or the short form "run-N" / "N" of it (the run whose
    /// counter value is N); nil when there is none.
    public func run(reference: String) throws(ClusterStoreError) -> RunRecord? {
        if let exact = try run(id: reference) { return exact }
        guard let seq = RunID.shortSequence(reference) else { return nil }
        return try read("cannot read run \(reference) from") { db in
            try Row.fetchOne(db, sql: "SELECT * FROM runs WHERE seq = ?", arguments: [seq]).map(Self.runRecord)
        }
    }

    /// How many runs are in each state (states with none are absent).
    public func runCounts() throws(ClusterStoreError) -> [String: Int] {
        try read("cannot count the runs of") { db in
            var counts: [String: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT state, COUNT(*) AS n FROM runs GROUP BY state") {
                counts[row["state"]] = row["n"]
            }
            return counts
        }
    }

    /// Newest first; limit 0 = all.
    public func runs(limit: Int) throws(ClusterStoreError) -> [RunRecord] {
        try read("cannot read the runs of") { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM runs ORDER BY seq DESC LIMIT ?", arguments: [limit > 0 ? limit : -1]
            ).map(Self.runRecord)
        }
    }

    /// Stores the coordinator's state of a run in flight (opaque text, JSON in practice),
    /// replacing the previous one. Throws if there is no such run.
    public func saveSnapshot(runID id: String, _ snapshot: String) throws(ClusterStoreError) {
        let action = "cannot save the state of run \(id) in"
        try write(action) { db in
            try db.execute(sql: "UPDATE runs SET snapshot = ? WHERE id = ?", arguments: [snapshot, id])
            if db.changesCount == 0 { try requireRun(id, db, for: action) }
        }
    }

    /// The runs whose state is not in `terminalStates`, oldest first, each with its last
    /// snapshot (nil when none was saved).
    public func unfinishedRuns(terminalStates: Set<String>) throws(ClusterStoreError) -> [(run: RunRecord, snapshot: String?)] {
        try read("cannot read the unfinished runs of") { db in
            let terminal = Array(terminalStates)
            let placeholders = Array(repeating: "?", count: terminal.count).joined(separator: ", ")
            return try Row.fetchAll(
                db, sql: "SELECT * FROM runs WHERE state NOT IN (\(placeholders)) ORDER BY seq",
                arguments: StatementArguments(terminal)
            ).map { row in
                let snapshot: String? = try row.decode(forColumn: "snapshot")
                return (run: try Self.runRecord(row), snapshot: snapshot)
            }
        }
    }

    /// Marks every run whose state is not in `terminalStates` as `newState` with `reason`;
    /// returns their ids, oldest first. Called once at coordinator start ("interrupted").
    /// Include `newState` in `terminalStates` so that a second start does not mark them again.
    public func markUnfinishedRuns(
        terminalStates: Set<String>, as newState: String, reason: String, atMs: Int64
    ) throws(ClusterStoreError) -> [String] {
        try write("cannot mark the unfinished runs as \(newState) in") { db in
            let terminal = Array(terminalStates)
            let placeholders = Array(repeating: "?", count: terminal.count).joined(separator: ", ")
            let ids = try String.fetchAll(
                db, sql: "SELECT id FROM runs WHERE state NOT IN (\(placeholders)) ORDER BY seq",
                arguments: StatementArguments(terminal))
            let update = try db.cachedStatement(sql: "UPDATE runs SET state = ?, reason = ?, updatedAtMs = ? WHERE id = ?")
            for id in ids {
                try update.execute(arguments: [newState, reason, atMs, id])
            }
            return ids
        }
    }

    /// Deletes the run and, by cascade, its events, metrics and artifact records (not the
    /// artifact files). Its id is never allocated again. Returns whether the run existed.
    @discardableResult
    public func deleteRun(id: String) throws(ClusterStoreError) -> Bool {
        try write("cannot delete run \(id) from") { db in
            try db.execute(sql: "DELETE FROM runs WHERE id = ?", arguments: [id])
            return db.changesCount > 0
        }
    }

    static func runRecord(_ row: Row) throws -> RunRecord {
        RunRecord(
            id: try row.decode(forColumn: "id"),
            name: try row.decode(forColumn: "name"),
            specYAML: try row.decode(forColumn: "specYAML"),
            state: try row.decode(forColumn: "state"),
            reason: try row.decode(forColumn: "reason"),
            submittedAtMs: try row.decode(forColumn: "submittedAtMs"),
            updatedAtMs: try row.decode(forColumn: "updatedAtMs"),
            idempotencyKey: try row.decode(forColumn: "idempotencyKey"))
    }
}
