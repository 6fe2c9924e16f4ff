import ClusterStore
import Datasets
import FileSupport
import Foundation
import Wire

extension Coordinator {
    /// Writes `<state-dir>/artifacts/<run>/report.json` and `report.html` when a run ends
    /// (DESIGN.md §2 step 6) and records them as artifacts: the ``RunReport`` of the run's
    /// latest figures, with the spec's replicas and mode, and its page with the run's curves.
    func writeReport(_ run: ActiveRun) {
        let report = RunReport(runID: run.id, name: run.spec.name, state: run.lifecycle.phase.rawValue,
                               reason: run.lifecycle.reason, figures: RunFigures.latest(run.latest),
                               replicas: run.spec.replicas, mode: run.spec.distillation.mode.rawValue)
        let relative = "artifacts/\(run.id)/report.json"
        let path = database.directory + "/" + relative
        do {
            let data = try report.json()
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try AtomicFile.write([UInt8](data), to: path)
            try store.saveArtifact(ArtifactRecord(runID: run.id, name: "report.json", sha256: SHA256.hex([UInt8](data)),
                                                  bytes: Int64(data.count), path: relative, atMs: clock.wallMs()))
        } catch {
            logger.warning("could not write the report of \(run.id) to \(path): \(error)")
        }
        // The same report as a page to look at, with the run's curves.
        let page = [UInt8](report.html(history: run.history.points()).utf8)
        let htmlRelative = "artifacts/\(run.id)/report.html"
        let htmlPath = database.directory + "/" + htmlRelative
        do {
            try AtomicFile.write(page, to: htmlPath)
            try store.saveArtifact(ArtifactRecord(runID: run.id, name: "report.html", sha256: SHA256.hex(page),
                                                  bytes: Int64(page.count), path: htmlRelative, atMs: clock.wallMs()))
        } catch {
            logger.warning("could not write the report page of \(run.id) to \(htmlPath): \(error)")
        }
    }
}
