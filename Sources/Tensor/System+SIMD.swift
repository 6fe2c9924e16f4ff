#if canImport(Glibc)
import Glibc
#endif

/// The vector instructions the engine's own microkernels may use on this machine.
public enum SIMDLevel: Sendable, Equatable, Comparable {
    /// Portable code only: every product goes through OpenBLAS.
    case baseline
    /// x86-64 with AVX2 and FMA: TensorAVX2's microkernels for inference products whose
    /// right-hand side is constant (``PackedMatrix``, ``PackedConvWeights``).
    case avx2
    /// x86-64 with AVX-512 F, DQ, BW and VL as well: TensorAVX512's kernels, twice as wide,
    /// on the same packed operands.
    case avx512

    /// Whether the engine's own microkernels run here (``PackedMatrix``, ``PackedConvWeights``).
    public var hasMicrokernels: Bool { self != .baseline }

    /// The level of a CPU with these `/proc/cpuinfo` flags, at most `limit` (`DISTILLERY_SIMD`).
    public static func of(flags: Set<Substring>, limit: SIMDLevel = .avx512) -> SIMDLevel {
        guard limit != .baseline, flags.contains("avx2"), flags.contains("fma") else { return .baseline }
        let avx512 = ["avx512f", "avx512dq", "avx512bw", "avx512vl"].allSatisfy { flags.contains(Substring($0)) }
        return avx512 && limit == .avx512 ? .avx512 : .avx2
    }
}

extension System {
    /// `.avx512` when the CPU (and the kernel, which hides what it does not save) has AVX-512
    /// F/DQ/BW/VL, AVX2 and FMA; `.avx2` when it has AVX2 and FMA; read once from
    /// `/proc/cpuinfo`. `DISTILLERY_SIMD=baseline` forces the portable paths and
    /// `DISTILLERY_SIMD=avx2` the AVX2 kernels on an AVX-512 CPU (e.g. to compare them in a test
    /// or a benchmark).
    public static let simd: SIMDLevel = {
        let forced = getenv("DISTILLERY_SIMD").map { String(cString: $0) }
        let limit: SIMDLevel = forced == "baseline" ? .baseline : forced == "avx2" ? .avx2 : .avx512
        return Swift.min(cpuSIMD, limit)
    }()

    /// The highest level this CPU supports, whatever `DISTILLERY_SIMD` says (tests run every
    /// kernel the machine can).
    public static let cpuSIMD: SIMDLevel = {
        #if arch(x86_64) && canImport(Glibc)
        guard let file = fopen("/proc/cpuinfo", "r") else { return .baseline }
        defer { fclose(file) }
        var line: UnsafeMutablePointer<CChar>? = nil
        var capacity = 0
        defer { free(line) }
        while getline(&line, &capacity, file) > 0, let line {
            let text = String(cString: line)
            guard text.hasPrefix("flags") else { continue }
            let flags = Set(text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }))
            return SIMDLevel.of(flags: flags)
        }
        return .baseline
        #else
        return .baseline
        #endif
    }()
}
