import Datasets
import RunSpec

/// The name under which a worker keeps a teacher it trained, so a later run reuses it
/// instead of training it again: SHA-256 (hex) of everything that determines the weights —
/// this program's version (the engine's arithmetic), the model spec, the recipe (epochs,
/// batch, learning rate, optimizer, weight decay, schedule, seed, bootstrap), the data
/// shard's hash and the validation split (count and seed).
public enum TrainedTeacherKey {
    public static func of(model: String, recipe: TeacherRecipe, shardHash: String, validation: Int, splitSeed: UInt64) -> String {
        let text = ["distillery \(DistilleryVersion.current)", "model \(model)", "recipe \(recipe)", "shard \(shardHash)",
                    "validation \(validation) seed \(splitSeed)"].joined(separator: "\n")
        return SHA256.hex(Array(text.utf8))
    }
}
