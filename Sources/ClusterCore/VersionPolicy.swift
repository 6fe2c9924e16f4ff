// Which worker versions a coordinator accepts.

/// Software-version policy: same major and minor version required ("0.4.1" and "0.4.7" are
/// compatible, "0.4.1" and "0.5.0" are not; unparsable versions must match exactly).
///
/// A version parses when it starts with `major.minor` in decimal digits, followed by nothing
/// or by `.` and anything ("0.4", "0.4.1", "0.4.1-beta.2"); numbers compare by value.
public enum VersionPolicy {
    /// nil if compatible, else a sentence for the refused worker, e.g.
    /// "worker version 0.5.0 is not compatible with coordinator version 0.4.1 (major.minor must match); run the same Distillery release on every node".
    public static func incompatibility(worker: String, coordinator: String) -> String? {
        if worker == coordinator { return nil }
        let advice = "; run the same Distillery release on every node"
        guard let ours = majorMinor(coordinator), let theirs = majorMinor(worker) else {
            return "worker version \(quoted(worker)) is not compatible with coordinator version \(quoted(coordinator)) "
                + "(versions that are not major.minor.patch must match exactly)" + advice
        }
        if ours == theirs { return nil }
        return "worker version \(worker) is not compatible with coordinator version \(coordinator) (major.minor must match)" + advice
    }

    /// (major, minor) of "major.minor[.anything]", nil when it is not of that form.
    static func majorMinor(_ version: String) -> (UInt64, UInt64)? {
        let parts = version.split(separator: ".", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count >= 2, let major = decimal(parts[0]), let minor = decimal(parts[1]) else { return nil }
        if parts.count == 3, parts[2].isEmpty { return nil }
        return (major, minor)
    }

    private static func decimal(_ text: Substring) -> UInt64? {
        guard !text.isEmpty, text.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return UInt64(text)
    }

    /// The version as is when it parses, else in quotes so that "" and " " are visible.
    private static func quoted(_ version: String) -> String {
        majorMinor(version) == nil ? "\"\(version)\"" : version
    }
}
