import GRDB

extension ClusterStore {
    /// Inserts or replaces the artifact (`runID`, `name`). The run must exist.
    public func saveArtifact(_ artifact: ArtifactRecord) throws(ClusterStoreError) {
        let action = "cannot save artifact \(artifact.name) of \(artifact.runID) in"
        try write(action) { db in
            try requireRun(artifact.runID, db, for: action)
            try db.execute(
                sql: """
                    INSERT INTO artifacts (runID, name, sha256, bytes, path, atMs) VALUES (?, ?, ?, ?, ?, ?)
                    ON CONFLICT(runID, name) DO UPDATE SET
                        sha256 = excluded.sha256, bytes = excluded.bytes, path = excluded.path, atMs = excluded.atMs
                    """,
                arguments: [artifact.runID, artifact.name, artifact.sha256, artifact.bytes, artifact.path, artifact.atMs])
        }
    }

    /// The run's artifacts, by name.
    public func artifacts(runID: String) throws(ClusterStoreError) -> [ArtifactRecord] {
        try read("cannot read the artifacts of \(runID) from") { db in
            try Row.fetchAll(db, sql: "SELECT * FROM artifacts WHERE runID = ? ORDER BY name", arguments: [runID]).map { row in
                ArtifactRecord(
                    runID: try row.decode(forColumn: "runID"),
                    name: try row.decode(forColumn: "name"),
                    sha256: try row.decode(forColumn: "sha256"),
                    bytes: try row.decode(forColumn: "bytes"),
                    path: try row.decode(forColumn: "path"),
                    atMs: try row.decode(forColumn: "atMs"))
            }
        }
    }
}
