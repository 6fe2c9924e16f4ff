import NN

/// Resume checkpoints (docs/PROTOCOL.md "Resume"): rank 0 of an offline run takes one every
/// `elastic.checkpoint-every` steps and sends it to the coordinator; `distillery resume RUN`
/// starts a new run whose replicas load the last one and train on from its step. The
/// checkpoint holds the replica's whole state (``packState()``: parameters, running statistics,
/// optimizer state, step counts, random streams) and its soft-label cache, all exact, so the
/// resumed run replays nothing and its student is the uninterrupted run's, bit for bit.
extension StudentReplica {
    /// This replica's state after `trainer.globalStep` steps, as a resume checkpoint.
    public func resumeCheckpoint(student: String) -> ResumeCheckpoint {
        ResumeCheckpoint(runID: runID, step: trainer.globalStep, stepsPerEpoch: plan.stepsPerEpoch,
                         totalSteps: plan.stepsPerEpoch * plan.epochs, replicas: ranks, student: student,
                         state: packState(), cache: cache?.packed ?? [])
    }

    /// Loads `checkpoint` before the first step: the replica then trains from its step, and its
    /// teachers stream from that step (`TeacherTask.from_step`; the steps before it are cached,
    /// or past). Throws when the checkpoint does not fit this replica's model or data.
    public func resume(from checkpoint: ResumeCheckpoint) throws(DataPlaneError) {
        let expected = packState().count
        let totalSteps = plan.stepsPerEpoch * plan.epochs
        guard checkpoint.state.count == expected else {
            throw .badCheckpoint("the resume checkpoint of \(checkpoint.runID) holds a state of \(checkpoint.state.count) values, but "
                + "this replica's student (\(checkpoint.student)) has \(expected): it was taken of another model")
        }
        guard checkpoint.cache.count == (cache?.packedCount ?? 0) else {
            throw .badCheckpoint("the resume checkpoint of \(checkpoint.runID) holds a soft-label cache of \(checkpoint.cache.count) "
                + "values, but this run's data and top-k give \(cache?.packedCount ?? 0)")
        }
        guard checkpoint.step <= totalSteps, checkpoint.stepsPerEpoch == plan.stepsPerEpoch else {
            throw .badCheckpoint("the resume checkpoint of \(checkpoint.runID) stands at step \(checkpoint.step) of \(checkpoint.totalSteps) "
                + "(\(checkpoint.stepsPerEpoch) per epoch), but this run has \(totalSteps) (\(plan.stepsPerEpoch) per epoch)")
        }
        loadState(checkpoint.state)
        guard trainer.globalStep == checkpoint.step else {
            throw .badCheckpoint("the resume checkpoint of \(checkpoint.runID) says step \(checkpoint.step) but its state is at step "
                + "\(trainer.globalStep)")
        }
        if !checkpoint.cache.isEmpty { cache!.load(packed: checkpoint.cache) }
        taken = checkpoint.step - 1
        streamStart = min(checkpoint.step, plan.streamedSteps)
        generations[generations.count - 1].fromStep = checkpoint.step
    }
}
