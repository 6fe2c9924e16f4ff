#if canImport(Glibc)
import Glibc
#endif

/// The vector instructions the engine's own microkernels may use on this machine.
public enum SIMDLevel: Sendable, Equatable {
    /// Portable code only: every product goes through OpenBLAS.
    case baseline
    /// x86-64 with AVX2 and FMA: TensorAVX2's microkernels for inference products whose
    /// right-hand side is constant (``PackedMatrix``, ``PackedConvWeights``).
    case avx2
}

extension System {
    /// `.avx2` when the CPU (and the kernel, which hides what it does not save) has AVX2 and
    /// FMA, read once from `/proc/cpuinfo`; `DISTILLERY_SIMD=baseline` forces the portable paths
    /// (e.g. to compare both in a test or a benchmark).
    public static let simd: SIMDLevel = {
        #if arch(x86_64) && canImport(Glibc)
        if let forced = getenv("DISTILLERY_SIMD").map({ String(cString: $0) }), forced == "baseline" { return .baseline }
        guard let file = fopen("/proc/cpuinfo", "r") else { return .baseline }
        defer { fclose(file) }
        var line: UnsafeMutablePointer<CChar>? = nil
        var capacity = 0
        defer { free(line) }
        while getline(&line, &capacity, file) > 0, let line {
            let text = String(cString: line)
            guard text.hasPrefix("flags") else { continue }
            let flags = Set(text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }))
            return flags.contains("avx2") && flags.contains("fma") ? .avx2 : .baseline
        }
        return .baseline
        #else
        return .baseline
        #endif
    }()
}
