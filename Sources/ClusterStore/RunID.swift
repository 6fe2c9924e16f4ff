/// A run's id, "run-N-xxxxxxxx": N, the run's number from the store's counter (so ids sort and
/// people can say "run-3"), then 8 characters drawn from the system's random source (32
/// letters and digits, 40 bits). A run's id is its name on the data plane too (logits, credits
/// and gradient chunks carry it), so it must not be guessable before the run is submitted:
/// otherwise a stranger could send messages for a run that does not exist yet (issue 17).
/// Databases written before 0.11 hold ids "run-N"; they stay valid.
public enum RunID {
    /// Letters and digits without the ones people confuse (0/o, 1/l).
    static let alphabet = Array("abcdefghijkmnpqrstuvwxyz23456789")
    static let randomCharacters = 8

    /// A new id for the run numbered `seq`.
    public static func make(seq: Int64) -> String {
        var generator = SystemRandomNumberGenerator()
        let suffix = String((0..<randomCharacters).map { _ in alphabet.randomElement(using: &generator)! })
        return "run-\(seq)-\(suffix)"
    }

    /// N when `reference` is a short form "run-N" or "N", else nil.
    public static func shortSequence(_ reference: String) -> Int64? {
        let digits = reference.hasPrefix("run-") ? reference.dropFirst(4) : Substring(reference)
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }), let n = Int64(digits), n > 0 else { return nil }
        return n
    }
}
