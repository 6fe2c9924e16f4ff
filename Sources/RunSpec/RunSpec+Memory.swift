import NN
import Training

/// What the native models of a run need in memory on the workers that run them
/// (``/NN/ModelSpec/Footprint``), so that the coordinator can refuse at submission a spec that
/// no worker could hold, naming the estimate and the limit, rather than let it crash every
/// worker it is placed on.
public struct MemoryNeed: Sendable, Equatable {
    /// The spec field of the model, e.g. `student.model` or `teachers[2].model`.
    public var field: String
    /// Whether student workers (else teacher workers) run it.
    public var onStudents: Bool
    /// Estimated bytes on one worker.
    public var bytes: Double
    /// Trainable parameters.
    public var parameters: Double
    /// What the estimate covers, e.g. "training, batch 64 per replica, adamw".
    public var what: String
}

extension OptimizerChoice {
    /// Floats of state the optimizer keeps per parameter: AdamW 2 (moments), SGD with momentum
    /// 1, plain SGD 0.
    public var stateSlots: Int {
        switch self {
        case .adamw: 2
        case .sgd(let momentum, _): momentum == 0 ? 0 : 1
        }
    }
}

extension RunSpec {
    /// One need per native model: the student (trained on each replica's share of the batch),
    /// each teacher with a recipe (trained, and in online runs trained on), each checkpoint
    /// teacher (inference on the global batch). ONNX teachers are bounded by their file's size
    /// and are not listed. Models whose shapes do not fit are left out (the validator refuses
    /// them).
    public func memoryNeeds() -> [MemoryNeed] {
        var needs: [MemoryNeed] = []
        let perReplica = Swift.max(1, training.batch / Swift.max(1, replicas))
        if let f = student.model.footprint {
            needs.append(MemoryNeed(field: "student.model", onStudents: true,
                                    bytes: f.trainingBytes(batch: perReplica, optimizerSlots: training.optimizer.stateSlots),
                                    parameters: f.parameters,
                                    what: "training, batch \(perReplica) per replica, \(training.optimizer)"))
        }
        for (i, teacher) in teachers.enumerated() {
            guard let model = teacher.model, let f = model.footprint else { continue }
            if let recipe = teacher.recipe {
                let batch = Swift.max(recipe.batch, distillation.mode == .online ? training.batch : 0)
                needs.append(MemoryNeed(field: "teachers[\(i)].model", onStudents: false,
                                        bytes: f.trainingBytes(batch: batch, optimizerSlots: recipe.optimizer.stateSlots),
                                        parameters: f.parameters, what: "training, batch \(batch), \(recipe.optimizer)"))
            } else {
                needs.append(MemoryNeed(field: "teachers[\(i)].model", onStudents: false,
                                        bytes: f.inferenceBytes(batch: training.batch), parameters: f.parameters,
                                        what: "inference, batch \(training.batch)"))
            }
        }
        return needs
    }
}
