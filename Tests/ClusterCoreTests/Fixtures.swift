@testable import ClusterCore

/// A time `ms` milliseconds after the clock's origin.
func at(_ ms: UInt64) -> ClockTime {
    ClockTime(milliseconds: ms)
}

/// A worker's self-description with the given roles.
func info(_ name: String, _ roles: Set<WorkerRole> = [.teacher, .student], version: String = "0.4.0",
          cores: Int = 4) -> WorkerInfo {
    WorkerInfo(name: name, roles: roles, dataEndpoint: "tcp://\(name):7879", cores: cores,
               memoryBytes: 8 << 30, version: version)
}

/// SplitMix64 (Steele, Lea, Flood 2014): a tiny seeded generator, so random tests replay.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
