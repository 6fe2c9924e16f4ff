/// A curve for a terminal: one column per epoch (or per group of epochs when there are more
/// epochs than columns; a group shows its last value), drawn with the eighth blocks
/// ▁▂▃▄▅▆▇█ in `rows` lines, so each column has `rows` × 8 levels between the curve's lowest
/// and highest value. The lines start with a y-axis labelled with those two values, and an
/// x-axis line under them names the first and last epoch. A flat curve sits mid-height.
///
///     86.00% ┤      ▂▄▆▇██
///            │  ▁▃▆███████
///     62.30% ┤▅███████████
///            └ epoch 1   12
public struct CurveChart: Sendable {
    public static let levels: [Character] = ["▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"]

    /// Columns for the curve itself (the axis labels come on top of it).
    public var width: Int
    public var rows: Int

    public init(width: Int, rows: Int = 3) {
        self.width = max(1, width)
        self.rows = max(1, rows)
    }

    /// The columns' values: `values` (epoch 1 first), grouped to fit ``width``.
    public func columns(_ values: [Double]) -> [Double] {
        guard values.count > width else { return values }
        return (0..<width).map { c in values[min(values.count - 1, (c + 1) * values.count / width - 1)] }
    }

    /// Eighths filled in each column, 1 … rows·8 (never 0: every epoch shows).
    public func heights(_ values: [Double]) -> [Int] {
        let cols = columns(values)
        guard let lo = cols.min(), let hi = cols.max() else { return [] }
        let top = rows * 8
        return cols.map { v in
            guard hi > lo else { return top / 2 }
            return max(1, min(top, Int(((v - lo) / (hi - lo) * Double(top - 1)).rounded()) + 1))
        }
    }

    /// The chart's lines (empty for no values); `format` writes the axis labels.
    public func render(_ values: [Double], firstEpoch: Int = 1, format: (Double) -> String) -> [String] {
        let finite = values.filter(\.isFinite)
        guard !finite.isEmpty, finite.count == values.count else { return [] }
        let h = heights(values)
        let cols = columns(values)
        let hiText = format(cols.max()!), loText = format(cols.min()!)
        let pad = max(hiText.count, loText.count)
        var lines: [String] = []
        for r in 0..<rows {
            let floor = (rows - 1 - r) * 8
            let cells = h.map { height -> Character in
                let level = min(8, height - floor)
                return level <= 0 ? " " : Self.levels[level - 1]
            }
            let label = r == 0 ? hiText : r == rows - 1 ? loText : ""
            let axis: Character = r == 0 || r == rows - 1 ? "┤" : "│"
            lines.append(String(repeating: " ", count: pad - label.count) + label + " " + String(axis) + String(cells))
        }
        let last = firstEpoch + values.count - 1
        let first = "epoch \(firstEpoch)", end = "\(last)"
        let gap = max(1, h.count - first.count - end.count)
        lines.append(String(repeating: " ", count: pad + 1) + "└" + (values.count > 1 ? first + String(repeating: " ", count: gap) + end : first))
        return lines
    }
}
