import GRDB

// Events and metrics: append-only, read back in the order they were appended.
extension ClusterStore {
    /// Appends an event. `runID` nil = a cluster-wide event (e.g. a worker died); otherwise the
    /// run must exist.
    public func appendEvent(runID: String?, kind: String, message: String, atMs: Int64) throws(ClusterStoreError) {
        let action = "cannot append a \(kind) event\(runID.map { " of \($0)" } ?? "") to"
        try write(action) { db in
            if let runID {
                try requireRun(runID, db, for: action)
            }
            try db.execute(
                sql: "INSERT INTO events (runID, kind, message, atMs) VALUES (?, ?, ?, ?)",
                arguments: [runID, kind, message, atMs])
        }
    }

    /// Oldest first; runID nil = cluster-wide events only; limit 0 = all (otherwise the newest
    /// `limit`, still oldest first).
    public func events(runID: String?, limit: Int) throws(ClusterStoreError) -> [EventRecord] {
        try read("cannot read the events\(runID.map { " of \($0)" } ?? "") from") { db in
            let filter = runID == nil ? "runID IS NULL" : "runID = ?"
            let arguments: StatementArguments = runID.map { [$0, limit > 0 ? limit : -1] } ?? [limit > 0 ? limit : -1]
            return try Row.fetchAll(
                db,
                sql: """
                    SELECT * FROM (SELECT * FROM events WHERE \(filter) ORDER BY id DESC LIMIT ?)
                    ORDER BY id
                    """,
                arguments: arguments
            ).map { row in
                EventRecord(
                    id: try row.decode(forColumn: "id"),
                    runID: try row.decode(forColumn: "runID"),
                    kind: try row.decode(forColumn: "kind"),
                    message: try row.decode(forColumn: "message"),
                    atMs: try row.decode(forColumn: "atMs"))
            }
        }
    }

    /// Appends one row per value, all at (`epoch`, `step`, `atMs`), in one transaction. The run
    /// must exist. NaN is stored as NULL (SQLite's only representation of it) and read back as NaN.
    public func appendMetrics(
        runID: String, epoch: Int, step: Int, values: [(name: String, value: Double)], atMs: Int64
    ) throws(ClusterStoreError) {
        guard !values.isEmpty else { return }
        let action = "cannot append metrics of \(runID) (epoch \(epoch), step \(step)) to"
        try write(action) { db in
            try requireRun(runID, db, for: action)
            let insert = try db.cachedStatement(
                sql: "INSERT INTO metrics (runID, epoch, step, name, value, atMs) VALUES (?, ?, ?, ?, ?, ?)")
            for (name, value) in values {
                try insert.execute(arguments: [runID, epoch, step, name, value.isNaN ? nil : value, atMs])
            }
        }
    }

    /// Appends several reports in one transaction (one commit, one fsync: the coordinator
    /// batches the per-step traffic of every run this way). Reports of runs that do not exist
    /// are skipped and their ids returned; the others are written in order.
    @discardableResult
    public func appendMetrics(_ reports: [MetricsReport]) throws(ClusterStoreError) -> [String] {
        guard !reports.isEmpty else { return [] }
        return try write("cannot append \(reports.count) metrics report(s) to") { db in
            let insert = try db.cachedStatement(
                sql: "INSERT INTO metrics (runID, epoch, step, name, value, atMs) VALUES (?, ?, ?, ?, ?, ?)")
            var known: [String: Bool] = [:]
            var skipped: [String] = []
            for r in reports {
                let exists = try known[r.runID] ?? {
                    let found = try Bool.fetchOne(db, sql: "SELECT 1 FROM runs WHERE id = ?", arguments: [r.runID]) == true
                    known[r.runID] = found
                    if !found { skipped.append(r.runID) }
                    return found
                }()
                guard exists else { continue }
                for (name, value) in r.values {
                    try insert.execute(arguments: [r.runID, r.epoch, r.step, name, value.isNaN ? nil : value, r.atMs])
                }
            }
            return skipped
        }
    }

    /// Oldest first (the order of `appendMetrics` calls, then the order of `values`).
    public func metrics(runID: String) throws(ClusterStoreError) -> [MetricRecord] {
        try read("cannot read the metrics of \(runID) from") { db in
            try Row.fetchAll(db, sql: "SELECT * FROM metrics WHERE runID = ? ORDER BY id", arguments: [runID]).map { row in
                let value: Double? = try row.decode(forColumn: "value")
                return MetricRecord(
                    runID: try row.decode(forColumn: "runID"),
                    epoch: try row.decode(forColumn: "epoch"),
                    step: try row.decode(forColumn: "step"),
                    name: try row.decode(forColumn: "name"),
                    value: value ?? .nan,
                    atMs: try row.decode(forColumn: "atMs"))
            }
        }
    }
}
