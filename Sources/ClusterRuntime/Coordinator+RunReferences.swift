import ClusterStore
import Wire

extension Coordinator {
    /// A client may name a run by its id ("run-3-k7q2m9xa") or by the short form people say
    /// ("run-3" or "3", ``RunID``): the run ids of `WatchRun`, `CancelRun`, `ListEvents` and
    /// `SubmitRun.resume_run_id` are replaced by the full id here, before anything reads them.
    /// Workers always use full ids (they have them from `AssignTask`); a reference that names
    /// no run is left as it is, to be refused as "no run" where it is read.
    func resolvingRunReferences(_ body: Body) -> Body {
        switch body {
        case .watchRun(var m): m.runID = fullRunID(m.runID); return .watchRun(m)
        case .cancelRun(var m): m.runID = fullRunID(m.runID); return .cancelRun(m)
        case .listEvents(var m) where !m.runID.isEmpty: m.runID = fullRunID(m.runID); return .listEvents(m)
        case .submitRun(var m) where !m.resumeRunID.isEmpty: m.resumeRunID = fullRunID(m.resumeRunID); return .submitRun(m)
        default: return body
        }
    }

    private func fullRunID(_ reference: String) -> String {
        if runs[reference] != nil { return reference }
        return (try? store.run(reference: reference))?.id ?? reference
    }
}
