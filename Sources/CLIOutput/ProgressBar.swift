/// The one progress bar of the CLI: `width` cells, filled "█" for the part done and "·" for the
/// rest, e.g. `███████·····` at 7/12. The fill is rounded down, so the bar is full only when
/// the work is done; fractions outside 0…1 are clamped, NaN draws an empty bar.
public struct ProgressBar: Sendable {
    public static let done: Character = "█"
    public static let todo: Character = "·"

    public var width: Int

    public init(width: Int) { self.width = max(0, width) }

    public func render(fraction: Double) -> String {
        let clamped = fraction.isNaN ? 0 : min(1, max(0, fraction))
        let filled = min(width, Int((clamped * Double(width)).rounded(.down)))
        return String(repeating: Self.done, count: filled) + String(repeating: Self.todo, count: width - filled)
    }

    /// `done` of `total` (an empty bar when `total` is 0 or less); full only at `done` ≥ `total`.
    public func render<T: BinaryInteger>(done: T, of total: T) -> String {
        guard total > 0, done > 0 else { return render(fraction: 0) }
        if done >= total { return render(fraction: 1) }
        // Not yet done: never full, even where Double(done) / Double(total) rounds up to 1.
        let filled = min(max(0, width - 1), Int((Double(done) / Double(total) * Double(width)).rounded(.down)))
        return String(repeating: Self.done, count: filled) + String(repeating: Self.todo, count: width - filled)
    }
}
