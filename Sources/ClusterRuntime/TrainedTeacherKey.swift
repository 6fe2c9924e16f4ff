import Datasets
import NN
import RunSpec

/// The name under which a worker keeps a teacher it trained, and the coordinator finds a
/// stored one, so a later run reuses it instead of training it again: the SHA-256 (lowercase
/// hex) of an explicit canonical text of everything that determines the weights.
///
/// The text is UTF-8, one `name value` line per item, each ending in a line feed, in exactly
/// this order (the names are written here as literals, never derived from Swift's field names,
/// so renaming a Swift property changes no key):
///
/// ```
/// trained-teacher-key 1                  encoding version (this format)
/// distillery 0.5.0                       DistilleryVersion.current: the engine's arithmetic
/// model mlp:784-32-10                    ModelSpec.description, the canonical spelling
/// epochs 3
/// batch 64
/// lr 0.001                               Float.description: the shortest decimal that reads back to the same Float
/// optimizer adamw                        OptimizerChoice.description: sgd | momentum | nesterov | adamw
/// weight-decay 0.0                       Float.description
/// schedule cosine                        ScheduleChoice.description: constant | cosine[:W] | step:E:G
/// seed 7
/// bootstrap false                        true | false
/// shard ab12                             the data shard's SHA-256
/// validation 500                         images held out for validation
/// split-seed 1                           the seed of that split (the run's training seed)
/// ```
///
/// Aliases do not change the key (`adam` and `adamw` give the same text). Any change of this
/// format — a line added, renamed or reordered, a value spelled differently — must raise the
/// encoding version: every stored teacher is then trained once more (docs/OPERATIONS.md,
/// "Trained teachers"). `TrainedTeacherKeyTests` pins one key's value.
public enum TrainedTeacherKey {
    /// The version of the canonical text, its first line.
    public static let encodingVersion = 1

    /// The key of a teacher trained from `recipe` as model `model` on shard `shardHash`.
    /// `version` is the program's version (a parameter so tests can pin a key across releases).
    public static func of(model: ModelSpec, recipe: TeacherRecipe, shardHash: String, validation: Int, splitSeed: UInt64,
                          version: String = DistilleryVersion.current) -> String {
        let text = canonicalText(model: model, recipe: recipe, shardHash: shardHash, validation: validation,
                                 splitSeed: splitSeed, version: version)
        return SHA256.hex(Array(text.utf8))
    }

    /// The text that is hashed (see the type's documentation for the format).
    public static func canonicalText(model: ModelSpec, recipe: TeacherRecipe, shardHash: String, validation: Int,
                                     splitSeed: UInt64, version: String = DistilleryVersion.current) -> String {
        let lines: [(String, String)] = [
            ("trained-teacher-key", String(encodingVersion)),
            ("distillery", version),
            ("model", model.description),
            ("epochs", String(recipe.epochs)),
            ("batch", String(recipe.batch)),
            ("lr", recipe.learningRate.description),
            ("optimizer", recipe.optimizer.description),
            ("weight-decay", recipe.weightDecay.description),
            ("schedule", recipe.schedule.description),
            ("seed", String(recipe.seed)),
            ("bootstrap", recipe.bootstrap ? "true" : "false"),
            ("shard", shardHash),
            ("validation", String(validation)),
            ("split-seed", String(splitSeed)),
        ]
        return lines.map { "\($0.0) \($0.1)\n" }.joined()
    }
}
