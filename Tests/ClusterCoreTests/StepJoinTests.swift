import Testing
@testable import ClusterCore

@Suite struct StepJoinTests {
    @Test func stepsAreReleasedInOrderOnceEveryTeacherDelivered() {
        var join = StepJoin<String>(teachers: 3, stepsPerEpoch: 4, window: 2)
        #expect(join.add(epoch: 0, step: 1, teacher: 2, "s1t2") == .accepted)  // one step early
        #expect(join.add(epoch: 0, step: 0, teacher: 1, "s0t1") == .accepted)
        #expect(join.takeNext() == nil)
        #expect(join.missingTeachers == [0, 2])
        #expect(join.add(epoch: 0, step: 0, teacher: 0, "s0t0") == .accepted)
        #expect(join.add(epoch: 0, step: 0, teacher: 2, "s0t2") == .accepted)
        #expect(join.takeNext() == ["s0t0", "s0t1", "s0t2"])
        #expect(join.nextStep == (0, 1) as (Int, Int))
        #expect(join.takeNext() == nil)
        #expect(join.buffered == 1)
    }

    @Test func oddMessagesAreRefusedWithoutChangingAnything() {
        var join = StepJoin<Int>(teachers: 2, stepsPerEpoch: 3, window: 2)
        #expect(join.add(epoch: 0, step: 2, teacher: 0, 1) == .tooFarAhead)
        #expect(join.add(epoch: 0, step: 0, teacher: 2, 1) == .invalid)
        #expect(join.add(epoch: 0, step: 3, teacher: 0, 1) == .invalid)
        #expect(join.add(epoch: -1, step: 0, teacher: 0, 1) == .invalid)
        #expect(join.add(epoch: 0, step: 0, teacher: 0, 1) == .accepted)
        #expect(join.add(epoch: 0, step: 0, teacher: 0, 9) == .duplicate)
        #expect(join.add(epoch: 0, step: 0, teacher: 1, 2) == .accepted)
        #expect(join.takeNext() == [1, 2])
        #expect(join.add(epoch: 0, step: 0, teacher: 1, 2) == .stale)
        #expect(join.buffered == 0)
    }

    /// A resumed replica's join starts at its checkpoint's step: earlier steps are stale, and
    /// the window counts from there.
    @Test func aJoinCanStartAtAResumedStep() {
        var join = StepJoin<Int>(teachers: 1, stepsPerEpoch: 4, window: 2, start: 5)
        #expect(join.nextStep == (1, 1) as (Int, Int))
        #expect(join.add(epoch: 1, step: 0, teacher: 0, 4) == .stale)
        #expect(join.add(epoch: 1, step: 3, teacher: 0, 7) == .tooFarAhead)
        #expect(join.add(epoch: 1, step: 1, teacher: 0, 5) == .accepted)
        #expect(join.takeNext() == [5])
    }

    @Test func epochsContinueTheGlobalStepCount() {
        var join = StepJoin<Int>(teachers: 1, stepsPerEpoch: 2, window: 3)
        for (e, s) in [(0, 0), (0, 1), (1, 0), (1, 1), (2, 0)] {
            #expect(join.add(epoch: e, step: s, teacher: 0, e * 10 + s) == .accepted)
            #expect(join.takeNext() == [e * 10 + s])
        }
        #expect(join.nextStep == (2, 1) as (Int, Int))
    }

    @Test func randomArrivalOrdersAlwaysYieldTheSameSequence() {
        var state: UInt64 = 99
        for _ in 0..<200 {
            var join = StepJoin<Int>(teachers: 3, stepsPerEpoch: 5, window: 4)
            var messages = (0..<10).flatMap { g in (0..<3).map { t in (g, t) } }
            var out: [[Int]] = []
            while !messages.isEmpty || out.count < 10 {
                // Deliver a random message among those within the window, as credits allow.
                let allowed = messages.indices.filter { messages[$0].0 < join.next + 4 }
                guard !allowed.isEmpty else { break }
                state = state &* 6364136223846793005 &+ 1442695040888963407
                let pick = allowed[Int(state >> 33) % allowed.count]
                let (g, t) = messages.remove(at: pick)
                #expect(join.add(epoch: g / 5, step: g % 5, teacher: t, g * 10 + t) == .accepted)
                while let step = join.takeNext() { out.append(step) }
                #expect(join.buffered <= 4 * 3)
            }
            #expect(out == (0..<10).map { g in (0..<3).map { g * 10 + $0 } })
        }
    }
}
