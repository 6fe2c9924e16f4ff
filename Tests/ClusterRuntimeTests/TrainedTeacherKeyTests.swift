import ClusterRuntime
import RunSpec
import Testing

/// A trained teacher is reused only when nothing that shapes its weights changed.
@Suite struct TrainedTeacherKeyTests {
    static let recipe = TeacherRecipe(epochs: 3, batch: 64, seed: 7)

    static func key(model: String = "mlp:784-32-10", recipe: TeacherRecipe = recipe, shard: String = "ab12",
                    validation: Int = 500, seed: UInt64 = 1) -> String {
        TrainedTeacherKey.of(model: model, recipe: recipe, shardHash: shard, validation: validation, splitSeed: seed)
    }

    @Test func theSameInputsGiveTheSameKey() {
        #expect(Self.key() == Self.key())
        #expect(Self.key().count == 64)
    }

    @Test func anythingThatShapesTheWeightsChangesTheKey() {
        var otherSeed = Self.recipe; otherSeed.seed = 8
        var bootstrap = Self.recipe; bootstrap.bootstrap = true
        var lr = Self.recipe; lr.learningRate = 2e-3
        let variants = [Self.key(model: "mlp:784-64-10"), Self.key(recipe: otherSeed), Self.key(recipe: bootstrap),
                        Self.key(recipe: lr), Self.key(shard: "cd34"), Self.key(validation: 1000), Self.key(seed: 2)]
        #expect(Set(variants + [Self.key()]).count == variants.count + 1)
    }
}
