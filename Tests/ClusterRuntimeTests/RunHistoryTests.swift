import ClusterRuntime
import Testing
import Wire

/// A run's curves: one point per figure and epoch (the last value wins), nothing for epoch 0,
/// non-finite values or confusion-matrix cells, and the newest epochs kept at the limit.
@Suite struct RunHistoryTests {
    @Test func onePointPerFigureAndEpochTheLastWins() {
        var h = RunHistory()
        h.record(Metrics(runID: "r", epoch: 1, step: 10, values: [MetricValue(name: "student.train_loss", value: 2)]))
        h.record(Metrics(runID: "r", epoch: 1, step: 20, values: [MetricValue(name: "student.train_loss", value: 1.5)]))
        h.record(Metrics(runID: "r", epoch: 2, step: 30, values: [MetricValue(name: "student.train_loss", value: 1),
                                                                MetricValue(name: "student.val_accuracy", value: .nan)]))
        h.record(Metrics(runID: "r", epoch: 0, step: 0, values: [MetricValue(name: "teacher0.parameters", value: 99)]))
        h.record(Metrics(runID: "r", epoch: 2, step: 30, values: [MetricValue(name: "student.classes", value: 10),
                                                                MetricValue(name: "student.confusion.3.5", value: 17),
                                                                MetricValue(name: "ensemble.confusion.0.0", value: 90)]))
        #expect(h.points() == [EpochPoint(name: "student.classes", epoch: 2, value: 10),
                               EpochPoint(name: "student.train_loss", epoch: 1, value: 1.5),
                               EpochPoint(name: "student.train_loss", epoch: 2, value: 1)])
    }

    @Test func atTheLimitTheOldestEpochsAreLeftOut() {
        var h = RunHistory()
        for e in 1...10 { h.record(epoch: UInt32(e), name: "a", value: Double(e)); h.record(epoch: UInt32(e), name: "b", value: 0) }
        let kept = h.points(limit: 5)
        #expect(kept.count == 5)
        #expect(Set(kept.map(\.epoch)) == [8, 9, 10])
        #expect(kept.filter { $0.name == "a" }.map(\.epoch) == [8, 9, 10])
    }
}
