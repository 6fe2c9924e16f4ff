import Clocks
import Foundation

/// CPU and memory of this process, read from /proc (Linux), for heartbeats and `status`.
///
/// CPU% is the process's user+system time over the wall time since the previous sample,
/// ×100 (so 2 busy cores show 200%); the elapsed time is read on the injected clock.
public final class ProcessStats: @unchecked Sendable {
    private let lock = NSLock()
    private var lastCPUSeconds: Double
    private var lastWall: ClockInstant
    private let clock: any RuntimeClock

    public init(clock: any RuntimeClock = SystemRuntimeClock()) {
        self.clock = clock
        lastCPUSeconds = ProcessStats.cpuSeconds()
        lastWall = clock.instant()
    }

    /// CPU percent since the previous call (or since init).
    public func cpuPercent() -> Float {
        lock.lock(); defer { lock.unlock() }
        let cpu = ProcessStats.cpuSeconds(), wall = clock.instant()
        let dt = (wall - lastWall).inSeconds
        defer { lastCPUSeconds = cpu; lastWall = wall }
        guard dt > 0.01 else { return 0 }
        return Float(max(0, (cpu - lastCPUSeconds) / dt * 100))
    }

    /// Resident set size in bytes (`VmRSS` of /proc/self/status), 0 if unknown.
    public static func residentBytes() -> UInt64 {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        for line in text.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            let kb = line.split(separator: " ").compactMap { UInt64($0) }.first ?? 0
            return kb * 1024
        }
        return 0
    }

    /// Physical memory of the machine in bytes.
    public static func physicalMemory() -> UInt64 { ProcessInfo.processInfo.physicalMemory }

    private static func cpuSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
            + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
    }
}
