import ClusterCore
import Foundation

/// Numbers and times as the CLI prints them (bytes: ``ByteCount``; durations: ClusterCore's
/// `Duration.shortDescription`, the same text as the coordinator's reasons and logs).
public enum Format {
    /// "999", "50.9K", "1.20M": parameter and FLOP counts.
    public static func count(_ n: Int) -> String {
        if n.magnitude >= 1_000_000 { return String(format: "%.2fM", Double(n) / 1e6) }
        if n.magnitude >= 1_000 { return String(format: "%.1fK", Double(n) / 1e3) }
        return "\(n)"
    }

    /// A fraction 0…1 as a percentage with two decimals: 0.8123 → "81.23%".
    public static func percent(_ fraction: Double) -> String { String(format: "%.2f%%", fraction * 100) }
    public static func percent(_ fraction: Float) -> String { percent(Double(fraction)) }

    /// `x` with `digits` decimals.
    public static func fixed(_ x: Double, _ digits: Int) -> String { String(format: "%.\(max(0, digits))f", x) }
    public static func fixed(_ x: Float, _ digits: Int) -> String { fixed(Double(x), digits) }

    /// "250 ms ago", "1.5 s ago": how long since a node was last heard.
    public static func age(milliseconds: UInt64) -> String {
        Duration.milliseconds(Int64(clamping: milliseconds)).shortDescription + " ago"
    }

    /// A wall-clock time in the local time zone, "2026-12-06 00:15:42".
    public static func timestamp(unixMs: UInt64) -> String {
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
        return formatter.string(from: Date(timeIntervalSince1970: Double(unixMs) / 1000))
    }
}
