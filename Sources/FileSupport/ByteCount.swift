/// The one byte formatter (the CLI's tables, the coordinator's refusals), in binary units: "512 B", "1.5 KiB", "48.0 MiB",
/// "1.2 GiB", up to "16.0 EiB" (`UInt64.max`). Below 1 KiB exact; above, one decimal, and a
/// value that would round to 1024.0 of one unit is shown as 1.0 of the next.
public enum ByteCount {
    static let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]

    public static func text<T: BinaryInteger>(_ bytes: T) -> String {
        let sign = bytes < 0 ? "-" : ""
        let magnitude = bytes.magnitude
        if magnitude < 1024 { return "\(sign)\(magnitude) B" }
        var value = Double(magnitude)
        var unit = 0
        while unit + 1 < units.count && (value * 10).rounded() / 10 >= 1024 {
            value /= 1024
            unit += 1
        }
        let tenths = Int((value * 10).rounded())
        return "\(sign)\(tenths / 10).\(tenths % 10) \(units[unit])"
    }
}
