import ClusterRuntime
import NN
import RunSpec
import Testing
import Training

/// A trained teacher is reused only when nothing that shapes its weights changed, and its key
/// comes from an explicit text, so a renamed Swift field cannot move every stored teacher.
@Suite struct TrainedTeacherKeyTests {
    static let recipe = TeacherRecipe(epochs: 3, batch: 64, seed: 7)
    static let model = spec("mlp:784-32-10")

    static func spec(_ text: String) -> ModelSpec {
        do { return try ModelSpec(parsing: text) } catch { fatalError("test model spec '\(text)': \(error)") }
    }

    static func key(model: ModelSpec = model, recipe: TeacherRecipe = recipe, shard: String = "ab12",
                    validation: Int = 500, seed: UInt64 = 1, version: String = DistilleryVersion.current) -> String {
        TrainedTeacherKey.of(model: model, recipe: recipe, shardHash: shard, validation: validation, splitSeed: seed,
                             version: version)
    }

    @Test func theSameInputsGiveTheSameKey() {
        #expect(Self.key() == Self.key())
        #expect(Self.key().count == 64)
    }

    /// The encoding is pinned: any change to it (a line, a name, an order, a spelling) fails
    /// here, and must raise `TrainedTeacherKey.encodingVersion` (stored teachers are trained again).
    /// The hex is `printf '<the text>' | sha256sum`.
    @Test func theEncodingIsPinned() {
        let text = TrainedTeacherKey.canonicalText(model: Self.model, recipe: Self.recipe, shardHash: "ab12", validation: 500,
                                                   splitSeed: 1, version: "0.0.0-pinned")
        #expect(text == """
            trained-teacher-key 1
            distillery 0.0.0-pinned
            model mlp:784-32-10
            epochs 3
            batch 64
            lr 0.001
            optimizer adamw
            weight-decay 0.0
            schedule cosine
            seed 7
            bootstrap false
            shard ab12
            validation 500
            split-seed 1

            """)
        #expect(Self.key(version: "0.0.0-pinned") == "d732d85bcd1952f69cdeeea712db7acfeead92acdff65ad538cff802340d8107")
        #expect(TrainedTeacherKey.encodingVersion == 1)
    }

    @Test func anythingThatShapesTheWeightsChangesTheKey() {
        func with(_ change: (inout TeacherRecipe) -> Void) -> String {
            var r = Self.recipe
            change(&r)
            return Self.key(recipe: r)
        }
        let variants = [
            Self.key(model: Self.spec("mlp:784-64-10")), Self.key(model: Self.spec("mlp:784-32-10,dropout=0.1")),
            with { $0.epochs = 4 }, with { $0.batch = 32 }, with { $0.learningRate = 2e-3 },
            with { $0.optimizer = .sgd(momentum: 0, nesterov: false) }, with { $0.optimizer = .sgd(momentum: 0.9, nesterov: true) },
            with { $0.weightDecay = 0.01 }, with { $0.schedule = .constant }, with { $0.schedule = .cosine(warmupEpochs: 1) },
            with { $0.schedule = .step(everyEpochs: 1, gamma: 0.5) }, with { $0.seed = 8 }, with { $0.bootstrap = true },
            Self.key(shard: "cd34"), Self.key(validation: 1000), Self.key(seed: 2), Self.key(version: "9.9.9"),
        ]
        #expect(Set(variants + [Self.key()]).count == variants.count + 1)
    }

    @Test func spellingsOfOneValueGiveOneKey() throws {
        var adam = Self.recipe
        adam.optimizer = try OptimizerChoice(parsing: "adam")
        #expect(Self.key(recipe: adam) == Self.key())
        #expect(Self.key(model: Self.spec("mlp:784-32-10,dropout=0")) == Self.key())
        var warm0 = Self.recipe
        warm0.schedule = try ScheduleChoice(parsing: "cosine:0")
        #expect(Self.key(recipe: warm0) == Self.key())
    }
}
