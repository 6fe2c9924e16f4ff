import GRDB

extension ClusterStore {
    /// The schema's history. Never edit a registered migration: append "v2", "v3", … instead.
    /// A database that has applied migrations this list does not know was written by a newer
    /// Distillery and is refused on open.
    ///
    /// Tables (all times are wall-clock unix milliseconds):
    /// - `counters(name, value)`: the last allocated number per sequence ("run"), so run ids are
    ///   never reused, even after their rows are deleted.
    /// - `workers(name PK, roles JSON array, …)`, listed by name.
    /// - `runs(id PK "run-N-xxxxxxxx", seq UNIQUE = N, …, idempotencyKey NULL UNIQUE)`, listed by `seq`
    ///   (newest first); `idempotencyKey` (v2) is the client's key of the submission that
    ///   created the run, NULL for none (NULLs do not collide).
    /// - `events(id AUTOINCREMENT, runID NULL = cluster-wide → runs, …)`, index (runID, id).
    /// - `metrics(id AUTOINCREMENT, runID → runs, epoch, step, name, value REAL NULL = NaN, …)`,
    ///   index (runID, id).
    /// - `artifacts(runID → runs, name, …, PK (runID, name))`.
    /// References to runs cascade on delete.
    static let migrator: DatabaseMigrator = {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                PRAGMA application_id = \(ClusterStore.applicationID);

                CREATE TABLE counters (
                    name  TEXT PRIMARY KEY NOT NULL,
                    value INTEGER NOT NULL
                );
                INSERT INTO counters (name, value) VALUES ('run', 0);

                CREATE TABLE workers (
                    name        TEXT PRIMARY KEY NOT NULL,
                    roles       TEXT NOT NULL,
                    address     TEXT NOT NULL,
                    cores       INTEGER NOT NULL,
                    memoryBytes INTEGER NOT NULL,
                    version     TEXT NOT NULL,
                    state       TEXT NOT NULL,
                    lastSeenMs  INTEGER NOT NULL,
                    reason      TEXT NOT NULL
                );

                CREATE TABLE runs (
                    id            TEXT PRIMARY KEY NOT NULL,
                    seq           INTEGER NOT NULL UNIQUE,
                    name          TEXT NOT NULL,
                    specYAML      TEXT NOT NULL,
                    state         TEXT NOT NULL,
                    reason        TEXT NOT NULL,
                    submittedAtMs INTEGER NOT NULL,
                    updatedAtMs   INTEGER NOT NULL
                );

                CREATE TABLE events (
                    id      INTEGER PRIMARY KEY AUTOINCREMENT,
                    runID   TEXT REFERENCES runs(id) ON DELETE CASCADE,
                    kind    TEXT NOT NULL,
                    message TEXT NOT NULL,
                    atMs    INTEGER NOT NULL
                );
                CREATE INDEX events_on_runID_id ON events(runID, id);

                CREATE TABLE metrics (
                    id    INTEGER PRIMARY KEY AUTOINCREMENT,
                    runID TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
                    epoch INTEGER NOT NULL,
                    step  INTEGER NOT NULL,
                    name  TEXT NOT NULL,
                    value REAL,
                    atMs  INTEGER NOT NULL
                );
                CREATE INDEX metrics_on_runID_id ON metrics(runID, id);

                CREATE TABLE artifacts (
                    runID  TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
                    name   TEXT NOT NULL,
                    sha256 TEXT NOT NULL,
                    bytes  INTEGER NOT NULL,
                    path   TEXT NOT NULL,
                    atMs   INTEGER NOT NULL,
                    PRIMARY KEY (runID, name)
                );
                """)
        }
        // v2: a client-chosen key per submission, so a retried SubmitRun finds the run it created.
        migrator.registerMigration("v2") { db in
            try db.execute(sql: """
                ALTER TABLE runs ADD COLUMN idempotencyKey TEXT;
                CREATE UNIQUE INDEX runs_on_idempotencyKey ON runs(idempotencyKey);
                """)
        }
        // v3: the coordinator's state of a run in flight (its lifecycle as JSON), so that a
        // restarted coordinator takes the run back instead of marking it interrupted.
        migrator.registerMigration("v3") { db in
            try db.execute(sql: "ALTER TABLE runs ADD COLUMN snapshot TEXT")
        }
        return migrator
    }()
}
