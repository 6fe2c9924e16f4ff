import Foundation

/// A confusion matrix as an inline SVG heat map, for `report.html`: rows are true classes,
/// columns predicted ones, and each cell's blue is its share of its row (so a class's
/// mistakes read the same whatever its size). Each cell is a `rect class="cell"` with
/// `data-true`, `data-predicted` and `data-value` (the count) and a tooltip; counts are
/// written in the cells when there are at most 20 classes. No scripts.
struct SVGConfusion {
    var title: String
    var matrix: ConfusionMatrix

    func render() -> String {
        let k = matrix.classes
        guard k > 0 else { return "" }
        let left = 56.0, top = 56.0, right = 8.0, bottom = 8.0
        let cell = max(3.0, min(30.0, 300.0 / Double(k)))
        let width = left + cell * Double(k) + right, height = top + cell * Double(k) + bottom
        let rows = matrix.samplesPerClass
        var svg = "<svg class=\"confusion\" xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" "
            + "viewBox=\"0 0 \(Int(width)) \(Int(height))\" role=\"img\" aria-label=\"\(SVGChart.escape(title))\">"
        svg += "<text x=\"4\" y=\"20\" class=\"title\">\(SVGChart.escape(title))</text>"
        svg += "<text x=\"\(SVGChart.n(left + cell * Double(k) / 2))\" y=\"\(SVGChart.n(top - 22))\" class=\"xlabel\">predicted class</text>"
        let midY = top + cell * Double(k) / 2
        svg += "<text x=\"16\" y=\"\(SVGChart.n(midY))\" class=\"xlabel\" transform=\"rotate(-90 16 \(SVGChart.n(midY)))\">true class</text>"
        let labelEvery = k <= 20 ? 1 : Int((Double(k) / 20).rounded(.up))
        for c in 0..<k where c % labelEvery == 0 {
            let mid = Double(c) * cell + cell / 2
            svg += "<text x=\"\(SVGChart.n(left + mid))\" y=\"\(SVGChart.n(top - 6))\" class=\"xtick\">\(c)</text>"
            svg += "<text x=\"\(SVGChart.n(left - 6))\" y=\"\(SVGChart.n(top + mid + 4))\" class=\"ytick\">\(c)</text>"
        }
        for t in 0..<k {
            for p in 0..<k {
                let count = matrix.counts[t][p]
                let share = rows[t] == 0 ? 0 : Double(count) / Double(rows[t])
                let x = left + Double(p) * cell, y = top + Double(t) * cell
                svg += "<rect class=\"cell\" data-true=\"\(t)\" data-predicted=\"\(p)\" data-value=\"\(count)\" x=\"\(SVGChart.n(x))\" "
                    + "y=\"\(SVGChart.n(y))\" width=\"\(SVGChart.n(cell))\" height=\"\(SVGChart.n(cell))\" fill=\"\(Self.colour(share))\">"
                    + "<title>true \(t), predicted \(p): \(count) (\(String(format: "%.1f%%", share * 100)) of class \(t))</title></rect>"
                if k <= 20, count > 0 {
                    let ink = share > 0.5 ? "#fff" : "#222"
                    svg += "<text x=\"\(SVGChart.n(x + cell / 2))\" y=\"\(SVGChart.n(y + cell / 2 + 4))\" class=\"count\" fill=\"\(ink)\">"
                        + "\(count)</text>"
                }
            }
        }
        return svg + "</svg>"
    }

    /// White (0) to dark blue (1); a cell with any count at all is never pure white.
    static func colour(_ share: Double) -> String {
        guard share > 0 else { return "#ffffff" }
        let s = min(1, 0.04 + 0.96 * share.squareRoot())
        func channel(_ from: Double, _ to: Double) -> Int { Int((from + (to - from) * s).rounded()) }
        return String(format: "#%02x%02x%02x", channel(255, 8), channel(255, 48), channel(255, 107))
    }
}
