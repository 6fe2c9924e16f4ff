import ClusterCore
import NN
import Wire

/// Online teachers' states (docs/PROTOCOL.md "Elastic rings"): an online teacher sends its
/// whole state after each epoch (artifact `teacher-<i>-state.safetensors`, a resume checkpoint
/// of the teacher's trainer); the coordinator keeps the latest, and a teacher placed again
/// after its worker was lost gets it (`TeacherTask.state_hash`, offered just before the
/// assignment) and goes on from its step instead of training again from the run's first.
extension Coordinator {
    /// `teacher-<digits>-state.safetensors`.
    static func isTeacherState(_ name: String) -> Bool {
        guard name.hasPrefix("teacher-"), name.hasSuffix("-state.safetensors") else { return false }
        let index = name.dropFirst("teacher-".count).dropLast("-state.safetensors".count)
        return !index.isEmpty && index.allSatisfy { $0.isASCII && $0.isNumber }
    }

    /// Whether `bytes`, arriving as `name` of run `runID`, may replace the stored teacher state:
    /// the run is an online run in flight whose teachers can be placed again, the bytes are such
    /// a state, and not older than the one stored.
    func checkTeacherState(_ bytes: [UInt8], runID: String, name: String) -> Result<ResumeCheckpoint.Summary, CheckpointRefusal> {
        guard let run = runs[runID] else {
            return .failure(CheckpointRefusal(text: "run \(runID) is not in flight: its teachers' states are no longer taken"))
        }
        guard run.lifecycle.elastic?.lostTeachers.trainsAgain == true else {
            return .failure(CheckpointRefusal(text: "run \(runID) is not an online run whose teachers can be placed again"))
        }
        let summary: ResumeCheckpoint.Summary
        do { summary = try ResumeCheckpoint.summary(of: bytes, source: name) } catch {
            return .failure(CheckpointRefusal(text: "\(error)"))
        }
        if let stored = storedTeacherStateSteps["\(runID)/\(name)"], stored > summary.step {
            return .failure(CheckpointRefusal(text: "its step \(summary.step) is older than the state stored (step \(stored))"))
        }
        return .success(summary)
    }

    /// The stored state of online teacher `index` of run `runID`, offered to `worker`: its
    /// SHA-256 for `TeacherTask.state_hash`, or nil when there is none (the teacher starts
    /// from the run's first step).
    func offerTeacherState(_ index: Int, of runID: String, to worker: String) -> String? {
        let name = "teacher-\(index)-state.safetensors"
        guard let record = ((try? store.artifacts(runID: runID)) ?? []).first(where: { $0.name == name }) else { return nil }
        guard offerStoredFile(record.path, sha256: record.sha256, what: "teacher \(index) state", of: runID, to: worker) else {
            logger.warning("run \(runID): \(record.path) is missing or changed; teacher \(index) starts from the run's first step")
            return nil
        }
        return record.sha256
    }
}
