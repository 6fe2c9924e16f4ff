import NN
import Training

/// A trainer's whole state as one F32 vector: what a ring copies to a replica that joins or
/// stood a step apart (docs/PROTOCOL.md "Joining a ring"), what a resume checkpoint holds, and
/// what an online teacher sends the coordinator after each epoch (`teacher-<i>-state.safetensors`).
extension Trainer {
    /// Parameters, running statistics, optimizer state tensors, then the integers (global step,
    /// optimizer steps, each random stream) as three exact 22-bit pieces each.
    func packState() -> [Float] {
        let model = self.model
        var out = Array(UnsafeBufferPointer(start: model.parameters.pointer, count: model.parameterCount))
        out += UnsafeBufferPointer(start: model.state.pointer, count: model.state.count)
        for (_, storage) in optimizer.stateTensors { out += UnsafeBufferPointer(start: storage.pointer, count: storage.count) }
        for value in [UInt64(globalStep), UInt64(optimizer.stepCount)] + model.randomStreams {
            out += ParameterHashes.encode(value, rank: 0, ranks: 1)
        }
        return out
    }

    /// The inverse of `packState`.
    func loadState(_ values: [Float]) {
        let model = self.model
        var at = 0
        values.withUnsafeBufferPointer { v in
            func take(_ into: UnsafeMutablePointer<Float>, _ count: Int) {
                into.update(from: v.baseAddress! + at, count: count)
                at += count
            }
            take(model.parameters.pointer, model.parameterCount)
            take(model.state.pointer, model.state.count)
            for (_, storage) in optimizer.stateTensors { take(storage.pointer, storage.count) }
        }
        var integers: [UInt64] = []
        while at + 3 <= values.count {
            integers += ParameterHashes.decode(Array(values[at ..< at + 3]))
            at += 3
        }
        restore(globalStep: Int(integers[0]))
        optimizer.restore(stepCount: Int(integers[1]))
        model.randomStreams = Array(integers.dropFirst(2))
    }
}
