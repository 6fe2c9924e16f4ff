import Foundation

/// A line chart as inline SVG, for `report.html`: one or more series of (epoch, value) on a
/// shared epoch axis, each a polyline with a circle per point (`class="point"`,
/// `data-series`, `data-epoch`, `data-value`, and a tooltip), five y-axis ticks between the
/// values' range rounded outward, and a legend. No scripts, no external resources.
struct SVGChart {
    struct Series {
        var name: String
        var label: String
        var points: [(epoch: UInt32, value: Double)]
    }

    var title: String
    var series: [Series]
    var format: (Double) -> String
    var width = 680.0
    var height = 260.0

    static let colours = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"]

    func render() -> String {
        let all = series.flatMap(\.points)
        guard !all.isEmpty else { return "" }
        let left = 64.0, right = 16.0, top = 48.0, bottom = 40.0
        let plotW = width - left - right, plotH = height - top - bottom
        let maxEpoch = Double(all.map(\.epoch).max()!), minEpoch = Double(all.map(\.epoch).min()!)
        var lo = all.map(\.value).min()!, hi = all.map(\.value).max()!
        if hi == lo { lo -= max(abs(lo) * 0.05, 1e-3); hi += max(abs(hi) * 0.05, 1e-3) }
        let pad = (hi - lo) * 0.08
        // Times, counts and losses do not go below 0: neither does their axis.
        lo = all.allSatisfy({ $0.value >= 0 }) ? max(0, lo - pad) : lo - pad
        hi += pad
        func x(_ e: UInt32) -> Double { maxEpoch == minEpoch ? left + plotW / 2 : left + (Double(e) - minEpoch) / (maxEpoch - minEpoch) * plotW }
        func y(_ v: Double) -> Double { top + (hi - v) / (hi - lo) * plotH }
        var svg = "<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" "
            + "viewBox=\"0 0 \(Int(width)) \(Int(height))\" role=\"img\" aria-label=\"\(Self.escape(title))\">"
        svg += "<text x=\"\(left)\" y=\"20\" class=\"title\">\(Self.escape(title))</text>"
        svg += "<rect x=\"\(left)\" y=\"\(top)\" width=\"\(plotW)\" height=\"\(plotH)\" class=\"plot\"/>"
        for i in 0...4 {
            let v = lo + (hi - lo) * Double(i) / 4, py = y(v)
            svg += "<line x1=\"\(left)\" x2=\"\(left + plotW)\" y1=\"\(Self.n(py))\" y2=\"\(Self.n(py))\" class=\"grid\"/>"
            svg += "<text x=\"\(left - 6)\" y=\"\(Self.n(py + 4))\" class=\"ytick\">\(Self.escape(format(v)))</text>"
        }
        let epochs = Array(Set(all.map(\.epoch))).sorted()
        let step = max(1, epochs.count / 10)
        for (i, e) in epochs.enumerated() where i % step == 0 || e == epochs.last {
            svg += "<text x=\"\(Self.n(x(e)))\" y=\"\(Self.n(top + plotH + 16))\" class=\"xtick\">\(e)</text>"
        }
        svg += "<text x=\"\(Self.n(left + plotW / 2))\" y=\"\(Self.n(height - 6))\" class=\"xlabel\">epoch</text>"
        // Each legend item's x: 10 px box, its label at about 7 px per character, 18 px apart.
        var legendOffsets: [Double] = []
        var offset = 0.0
        for s in series {
            legendOffsets.append(offset)
            offset += 14 + Double(s.label.count) * 7 + 18
        }
        for (i, s) in series.enumerated() where !s.points.isEmpty {
            let colour = Self.colours[i % Self.colours.count]
            let sorted = s.points.sorted { $0.epoch < $1.epoch }
            let path = sorted.map { "\(Self.n(x($0.epoch))),\(Self.n(y($0.value)))" }.joined(separator: " ")
            svg += "<polyline class=\"line\" data-series=\"\(Self.escape(s.name))\" points=\"\(path)\" stroke=\"\(colour)\"/>"
            for p in sorted {
                svg += "<circle class=\"point\" data-series=\"\(Self.escape(s.name))\" data-epoch=\"\(p.epoch)\" data-value=\"\(p.value)\" "
                    + "cx=\"\(Self.n(x(p.epoch)))\" cy=\"\(Self.n(y(p.value)))\" r=\"3\" fill=\"\(colour)\">"
                    + "<title>\(Self.escape(s.label)), epoch \(p.epoch): \(Self.escape(format(p.value)))</title></circle>"
            }
            // The legend: one row above the plot, left to right.
            let lx = left + legendOffsets[i]
            svg += "<rect x=\"\(Self.n(lx))\" y=\"\(Self.n(top - 17))\" width=\"10\" height=\"10\" fill=\"\(colour)\"/>"
                + "<text x=\"\(Self.n(lx + 14))\" y=\"\(Self.n(top - 8))\" class=\"legend\">\(Self.escape(s.label))</text>"
        }
        return svg + "</svg>"
    }

    /// A coordinate with at most one decimal.
    static func n(_ v: Double) -> String { String(format: "%.1f", v) }

    /// Text safe in HTML and SVG content and attributes.
    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
