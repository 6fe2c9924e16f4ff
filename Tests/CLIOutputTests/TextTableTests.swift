@testable import CLIOutput
import Testing
import FileSupport

@Suite struct TextTableTests {
    @Test func columnsAreAsWideAsTheirWidestCellTwoSpacesApartWithoutTrailingSpaces() {
        let t = TextTable(header: ["NAME", "N"], rows: [["a", "100"], ["longer", "2"]])
        #expect(t.render() == "NAME    N\na       100\nlonger  2")
    }

    @Test func rightAlignedColumnsPadOnTheLeft() {
        let t = TextTable(header: ["model", "params"], rows: [["t", "1200"], ["student", "16"]], alignments: [.left, .right])
        #expect(t.render() == "model    params\nt          1200\nstudent      16")
    }

    @Test func aRuleUnderTheHeaderIsAsWideAsEachColumn() {
        let t = TextTable(header: ["#", "layer"], rows: [["10", "Linear"]], rule: true)
        #expect(t.render() == "#   layer\n--  ------\n10  Linear")
    }

    @Test func wideAndCombiningCharactersAreMeasuredInTerminalColumns() {
        #expect(TextTable.columns(of: "abc") == 3)
        #expect(TextTable.columns(of: "日本") == 4)
        #expect(TextTable.columns(of: "e\u{301}") == 1, "e + combining acute is one column")
        #expect(TextTable.columns(of: "µs ×") == 4)
        #expect(TextTable.columns(of: "🚀") == 2)
        #expect(TextTable.columns(of: "") == 0)
        let t = TextTable(header: ["A", "B"], rows: [["日本", "x"], ["ab", "y"]])
        #expect(t.render() == "A     B\n日本  x\nab    y")
    }

    @Test func shortRowsGetEmptyCellsAndAnEmptyTableIsItsHeader() {
        let t = TextTable(header: ["A", "B", "C"], rows: [["1"], ["1", "2", "3", "4"]])
        #expect(t.render() == "A  B  C\n1\n1  2  3  4")
        #expect(TextTable(header: ["ONLY"], rows: []).render() == "ONLY")
        #expect(TextTable(header: [], rows: []).render() == "")
    }
}

@Suite struct ProgressBarTests {
    @Test func theFillIsRoundedDownAndFullOnlyWhenDone() {
        let bar = ProgressBar(width: 10)
        #expect(bar.render(done: 0, of: 10) == String(repeating: "·", count: 10))
        #expect(bar.render(done: 7, of: 12) == "█████·····")
        #expect(bar.render(done: 12, of: 12) == String(repeating: "█", count: 10))
        #expect(bar.render(done: 999_999, of: 1_000_000) == String(repeating: "█", count: 9) + "·")
        #expect(bar.render(done: UInt64.max - 1, of: UInt64.max).hasSuffix("·"), "not done is never drawn full")
    }

    @Test func edgeValuesAreClamped() {
        let bar = ProgressBar(width: 4)
        #expect(bar.render(done: 5, of: 0) == "····", "no total: nothing to show")
        #expect(bar.render(done: 20, of: 10) == "████")
        #expect(bar.render(done: -3, of: 10) == "····")
        #expect(bar.render(fraction: .nan) == "····")
        #expect(bar.render(fraction: 1.5) == "████")
        #expect(bar.render(fraction: -1) == "····")
        #expect(ProgressBar(width: 0).render(done: 1, of: 2) == "")
        #expect(ProgressBar(width: -3).render(fraction: 0.5) == "")
    }

    @Test func theBarIsAlwaysWidthCharactersWide() {
        for width in [1, 7, 24, 30] {
            for done in 0...13 {
                #expect(ProgressBar(width: width).render(done: done, of: 13).count == width)
            }
        }
    }
}

@Suite struct ByteCountTests {
    @Test func bytesBelowOneKiBAreExact() {
        #expect(ByteCount.text(0) == "0 B")
        #expect(ByteCount.text(1023) == "1023 B")
        #expect(ByteCount.text(-5) == "-5 B")
    }

    @Test func largerCountsTakeTheLargestBinaryUnitWithOneDecimal() {
        #expect(ByteCount.text(1024) == "1.0 KiB")
        #expect(ByteCount.text(1536) == "1.5 KiB")
        #expect(ByteCount.text(50 << 20) == "50.0 MiB")
        #expect(ByteCount.text(UInt64(3) << 30 + UInt64(1) << 29) == "3.5 GiB")
        #expect(ByteCount.text(UInt64.max) == "16.0 EiB")
        #expect(ByteCount.text(Int.min) == "-8.0 EiB")
    }

    @Test func aValueThatWouldRoundTo1024IsShownInTheNextUnit() {
        #expect(ByteCount.text(1_048_575) == "1.0 MiB")
        #expect(ByteCount.text(1_048_524) == "1023.9 KiB")
    }
}

@Suite struct FormatTests {
    @Test func countsPercentagesAndAges() {
        #expect(Format.count(999) == "999")
        #expect(Format.count(50_890) == "50.9K")
        #expect(Format.count(1_199_882) == "1.20M")
        #expect(Format.percent(0.8123) == "81.23%")
        #expect(Format.percent(Float(1)) == "100.00%")
        #expect(Format.fixed(2.34567, 2) == "2.35")
        #expect(Format.age(milliseconds: 250) == "250 ms ago")
        #expect(Format.age(milliseconds: 1_450) == "1.5 s ago")
        #expect(Format.age(milliseconds: UInt64.max).hasSuffix(" s ago"), "clamped, not trapped")
    }
}
