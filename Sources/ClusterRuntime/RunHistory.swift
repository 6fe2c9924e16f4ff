import ClusterStore
import Wire

/// A run's curves: for every figure reported with an epoch (`Metrics.epoch` ≥ 1), its last
/// value in each epoch; confusion-matrix cells (``ConfusionMatrix/isCell(_:)``) are not curves. The coordinator keeps one per run in flight (fed by every `Metrics`,
/// loaded from the store when a run is taken back or has ended) and sends it in each
/// `RunUpdate.history` (docs/PROTOCOL.md "Watch"); `watch` draws it, `report --html` charts it.
public struct RunHistory: Sendable, Equatable {
    /// name → epoch → value.
    public private(set) var series: [String: [UInt32: Double]] = [:]

    public init() {}

    /// Every record of a run, in the order they were stored (a later value of the same epoch wins).
    public init(records: [MetricRecord]) {
        for r in records where r.epoch >= 1 { record(epoch: UInt32(clamping: r.epoch), name: r.name, value: r.value) }
    }

    public mutating func record(epoch: UInt32, name: String, value: Double) {
        guard epoch >= 1, value.isFinite, !ConfusionMatrix.isCell(name) else { return }
        series[name, default: [:]][epoch] = value
    }

    public mutating func record(_ m: Metrics) {
        for v in m.values { record(epoch: m.epoch, name: v.name, value: v.value) }
    }

    /// The points by name then epoch; beyond `limit` points the oldest epochs are left out.
    public func points(limit: Int = RunUpdate.maxHistory) -> [EpochPoint] {
        var all = series.flatMap { name, byEpoch in byEpoch.map { EpochPoint(name: name, epoch: $0.key, value: $0.value) } }
        if all.count > limit {
            all.sort { $0.epoch > $1.epoch || ($0.epoch == $1.epoch && $0.name < $1.name) }
            all.removeLast(all.count - limit)
        }
        return all.sorted { $0.name < $1.name || ($0.name == $1.name && $0.epoch < $1.epoch) }
    }
}
