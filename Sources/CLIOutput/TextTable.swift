/// The one table printer of the CLI: columns two spaces apart, sized to their widest cell as a
/// terminal shows it (``TextTable/columns(of:)``: wide CJK and emoji take two columns,
/// combining marks none), each column left- or right-aligned, optionally a rule of dashes
/// under the header. Lines never end in spaces; rows shorter than the widest get empty cells.
public struct TextTable: Sendable {
    public enum Alignment: Sendable { case left, right }

    public var header: [String]
    public var rows: [[String]]
    /// Per column; columns beyond the list are left-aligned.
    public var alignments: [Alignment]
    /// A line of dashes under the header, as wide as each column.
    public var rule: Bool

    public init(header: [String], rows: [[String]], alignments: [Alignment] = [], rule: Bool = false) {
        self.header = header
        self.rows = rows
        self.alignments = alignments
        self.rule = rule
    }

    /// The table as lines joined by "\n" (no newline at the end).
    public func render() -> String {
        let all = [header] + rows
        let count = all.map(\.count).max() ?? 0
        let widths = (0..<count).map { c in all.map { c < $0.count ? Self.columns(of: $0[c]) : 0 }.max() ?? 0 }
        func line(_ cells: [String]) -> String {
            let padded = (0..<count).map { c -> String in
                let cell = c < cells.count ? cells[c] : ""
                let gap = String(repeating: " ", count: widths[c] - Self.columns(of: cell))
                return (c < alignments.count ? alignments[c] : .left) == .right ? gap + cell : cell + gap
            }
            var text = padded.joined(separator: "  ")
            while text.last == " " { text.removeLast() }
            return text
        }
        var lines = [line(header)]
        if rule { lines.append(line(widths.map { String(repeating: "-", count: $0) })) }
        lines += rows.map(line)
        return lines.joined(separator: "\n")
    }

    /// Prints ``render()`` to standard output.
    public func print() { Swift.print(render()) }

    /// Terminal columns `text` takes: two for each East Asian wide or emoji character, none for
    /// control and format characters, one for any other character (a base letter with its
    /// combining marks is one character).
    public static func columns(of text: String) -> Int {
        text.reduce(0) { $0 + columns(of: $1) }
    }

    static func columns(of character: Character) -> Int {
        guard let first = character.unicodeScalars.first else { return 0 }
        switch first.properties.generalCategory {
        case .control, .format, .nonspacingMark, .enclosingMark: return 0
        default: break
        }
        if first.properties.isEmojiPresentation || character.unicodeScalars.contains("\u{FE0F}") { return 2 }
        let v = first.value
        let wide: [ClosedRange<UInt32>] = [
            0x1100...0x115F, 0x2E80...0x303E, 0x3041...0x33FF, 0x3400...0x4DBF, 0x4E00...0x9FFF, 0xA000...0xA4CF,
            0xAC00...0xD7A3, 0xF900...0xFAFF, 0xFE30...0xFE4F, 0xFF00...0xFF60, 0xFFE0...0xFFE6, 0x20000...0x3FFFD,
        ]
        return wide.contains { $0.contains(v) } ? 2 : 1
    }
}
