import Clocks
import ClusterCore
import ClusterRuntime
import Datasets
import Distillation
import Foundation
import Logging
import NN
import RunSpec
import Synchronization
import Training
import Transport
import Wire

/// What a teacher does during a run (docs/ARCHITECTURE.md "Data plane"): prepare the teacher
/// (`Teacher+Preparation.swift`: train it, reuse it, adopt the coordinator's copy or load its
/// checkpoint), report it ready, serve its logits to the replicas (`TeacherStreamer`) and, in
/// online runs, keep what it became.
extension TaskRunner {
    func teacherTask(_ assign: AssignTask, _ task: TeacherTask, spec: RunSpec) async throws(TaskFailure) {
        let bundle = try runData(assign, spec)
        let index = Int(task.teacherIndex)
        guard index < spec.teachers.count else {
            throw TaskFailure("teacher \(index) does not exist: the run has \(spec.teachers.count) teachers")
        }
        let model = try prepareTeacher(assign, task, spec: spec, bundle: bundle, index: index)
        metrics(assign, epoch: 0, step: 0, [("teacher\(index).parameters", Double(model.parameterCount)),
                                            ("teacher\(index).latency_us", latencyMicroseconds(model, on: bundle.test))])
        if spec.teachers[index].recipe == nil {  // a checkpoint or ONNX teacher: its accuracy on this data
            metrics(assign, epoch: 0, step: 0, [("teacher\(index).test_accuracy", Double(Evaluation.run(model, on: bundle.test).accuracy))])
        }
        report(assign, .completed)
        peers.markReady(assign.taskID)
        // An online teacher placed again after every replica finished serves none, but trains on
        // to the run's last step: what it becomes is a result of the run.
        guard let dataPlane, !task.replicaEndpoints.isEmpty || spec.distillation.mode == .online,
              !isCancelled(assign.runID) else { return }
        setCurrent(assign, "\(assign.taskID) serving logits")
        // Peers are looked up when sending: a repeated AssignTask may have moved them.
        let taskID = assign.taskID, peers = self.peers
        let replicas = PeerRoute { slot in
            guard let endpoint = peers.replicaEndpoint(taskID, slot) else {
                throw TaskFailure("teacher \(index) has no endpoint for replica \(slot)")
            }
            return try await dataPlane.connect(endpoint)
        }
        let plan = stepPlan(spec, bundle)
        let online = try onlineTrainer(spec, index: index, model: model as? Sequential, plan: plan)
        var mutual: TeacherStreamer.Mutual?
        if online != nil, spec.distillation.mutual > 0 {
            guard task.teacherEndpoints.count == spec.teachers.count else {
                throw TaskFailure("teacher \(index): the run's mutual term needs every teacher's endpoint; the task lists "
                    + "\(task.teacherEndpoints.count) of \(spec.teachers.count)")
            }
            let others = (0..<spec.teachers.count).filter { $0 != index }
            let route = PeerRoute { peer in
                guard let endpoint = peers.teacherEndpoint(taskID, peer) else {
                    throw TaskFailure("teacher \(index) has no endpoint for teacher \(peer)")
                }
                return try await dataPlane.connect(endpoint)
            }
            mutual = TeacherStreamer.Mutual(weight: spec.distillation.mutual, temperature: spec.distillation.temperature,
                                            peers: others, route: route,
                                            arrivals: dataPlane.inbox.peerLogitsQueue(run: assign.runID, teacher: index),
                                            timeout: dataTimeout,
                                            reachable: { peers.teacherEndpoint(taskID, $0) != nil })
        }
        let streamer = TeacherStreamer(runID: assign.runID, teacher: index, model: model, train: bundle.train,
                                       plan: plan, codec: codec(spec, classes: model.outputFeatures), online: online,
                                       test: bundle.test, replicaRoute: replicas,
                                       credits: dataPlane.inbox.creditQueue(run: assign.runID, teacher: index),
                                       // Elastic runs: the replicas may stop granting while a lost teacher is
                                       // placed again or their ring changes (docs/PROTOCOL.md "Elastic rings").
                                       timeout: StudentReplica.teacherReplacementWait,
                                       startTimeout: .seconds(3600), mutual: mutual,
                                       receivers: { peers.replicaSlots(taskID) })
        streamer.clock = clock
        let logger = self.logger, taskID0 = assign.taskID
        streamer.note = { logger.info("\(taskID0): \($0)") }
        streamer.fromStep = Int(clamping: task.fromStep)  // a resumed run (docs/PROTOCOL.md "Resume")
        if let online, let modelSpec = spec.teachers[index].model {
            // A teacher placed again goes on from its predecessor's last state; every epoch's goes
            // to the coordinator for the next one (docs/PROTOCOL.md "Elastic rings"). With a mutual
            // term the other teachers give it their logits of the steps since (TeacherStreamer+Mutual).
            if !task.stateHash.isEmpty { streamer.startStep = try loadState(task.stateHash, into: online, assign, index: index, plan: plan) }
            let name = Self.teacherStateArtifact(index)
            streamer.onEpochState = { [self] step, state in
                let checkpoint = ResumeCheckpoint(runID: assign.runID, step: step, stepsPerEpoch: plan.stepsPerEpoch,
                                                  totalSteps: plan.streamedSteps, replicas: 1,
                                                  student: "teacher \(index): \(modelSpec.description)", state: state, cache: [])
                sendArtifact(assign, name: name, bytes: checkpoint.encoded())
            }
        }
        streamer.onEpochEnd = { [self, weak streamer] epoch, bytes in
            var figures = [("teacher\(index).logits_sent_bytes", Double(bytes))]
            // An online teacher trains alongside the student: its loss per epoch is a curve of `watch`.
            if let loss = streamer?.takeOnlineLoss() {
                figures.append(("teacher\(index).online_train_loss", loss))
                // … and its validation accuracy (inference mode: its training is untouched).
                if let online, let validation = bundle.validation {
                    figures.append(("teacher\(index).online_val_accuracy", Double(Evaluation.run(online.model, on: validation).accuracy)))
                }
            }
            metrics(assign, epoch: epoch, step: epoch * plan.stepsPerEpoch, figures)
        }
        let runID = assign.runID
        do throws(DataPlaneError) { try await streamer.run(isCancelled: { [self] in isCancelled(runID) }) } catch {
            throw TaskFailure("teacher \(index) serving the students: \(error)")
        }
        logger.info("\(assign.taskID) sent \(max(0, plan.streamedSteps - streamer.fromStep)) steps' logits (\(streamer.bytesSent) bytes)")
        if let online, let modelSpec = spec.teachers[index].model, !isCancelled(assign.runID) {
            // The teacher trained on alongside the student: keep what it became.
            let accuracy = streamer.finalTestAccuracy ?? Evaluation.run(model, on: bundle.test).accuracy
            let out = "\(cacheDirectory)/teachers/\(assign.runID)/teacher-\(index)-online.safetensors"
            do {
                try save(online.model, spec: modelSpec,
                         metadata: ["run": assign.runID, "teacher": String(index), "mode": "online",
                                    "test.accuracy": String(accuracy), "complete": "true"], to: out)
                // Sent until stored (bounded): the run completes only with it (docs/PROTOCOL.md "Results").
                try sendCheckpoint(assign, index: index, path: out, name: "teacher-\(index)-online.safetensors", untilStored: true)
            } catch {
                logger.warning("\(assign.taskID): could not keep the online teacher: \(error)")
            }
        }
        // Replicas that join the ring before every replica took the last step still get it; with a
        // mutual term, a peer placed again gets this teacher's logits until the run ends.
        await streamer.linger(isCancelled: { [self] in isCancelled(runID) })
        if !isCancelled(runID) { servedTeachers.withLock { $0.append(assign.taskID); if $0.count > 1000 { $0.removeFirst() } } }
    }

    /// The artifact an online teacher sends after each epoch: its state (docs/PROTOCOL.md
    /// "Elastic rings").
    static func teacherStateArtifact(_ index: Int) -> String { "teacher-\(index)-state.safetensors" }

    /// Loads the online teacher state `hash` the coordinator offered into `online` and returns
    /// its step (a teacher placed again goes on from there).
    func loadState(_ hash: String, into online: Trainer, _ assign: AssignTask, index: Int, plan: StepPlan) throws(TaskFailure) -> Int {
        let (checkpoint, path) = try shippedResumeCheckpoint(hash, assign, what: "teacher \(index): its state")
        let expected = online.packState().count
        guard checkpoint.state.count == expected, checkpoint.stepsPerEpoch == plan.stepsPerEpoch,
              checkpoint.step <= plan.streamedSteps else {
            throw TaskFailure("the state \(path) (\(checkpoint.student), step \(checkpoint.step), \(checkpoint.state.count) values) "
                + "does not fit teacher \(index) (\(expected) values, \(plan.stepsPerEpoch) steps per epoch)")
        }
        online.loadState(checkpoint.state)
        logger.info("\(assign.taskID): goes on from teacher \(index)'s state at step \(checkpoint.step) (epoch \(checkpoint.epoch))")
        return checkpoint.step
    }

    /// Online mode: a trainer that keeps training the teacher on the run's global batches with
    /// its recipe's optimizer and learning rate (a checkpoint teacher gets the run's training
    /// settings). Nil in offline mode, where teachers are frozen.
    func onlineTrainer(_ spec: RunSpec, index: Int, model: Sequential?, plan: StepPlan) throws(TaskFailure) -> Trainer? {
        guard spec.distillation.mode == .online else { return nil }
        guard let model else {
            throw TaskFailure("teacher \(index) is an ONNX model, which is frozen: it cannot train in an online run (use mode: offline)")
        }
        do {
            let settings: TrainingSettings
            if case .train(let recipe) = spec.teachers[index].source {
                settings = try recipe.trainingSettings(stepsPerEpoch: plan.stepsPerEpoch)
            } else {
                settings = try spec.training.trainingSettings(stepsPerEpoch: plan.stepsPerEpoch)
            }
            return Trainer(model: model, settings: settings, clock: stopwatch)
        } catch {
            throw TaskFailure("teacher \(index) online training settings: \(error)")
        }
    }
}
