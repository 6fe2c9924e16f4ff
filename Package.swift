// swift-tools-version:6.0
// Distillery — distributed multi-teacher knowledge distillation.
// Dependency direction (DESIGN.md §3): arrows point down only.
//   distillery (CLI), distillery-bench → CLIOutput (tables, progress bar, JSON outputs) → ClusterRuntime
//   distillery (CLI) → Observability (Prometheus text on FlyingFox HTTP) → ClusterRuntime
//   distillery (CLI) → DataPlane → ClusterRuntime → {ClusterCore, RunSpec, ClusterStore, Transport(ZMQ), Wire}
//                    → DataPlane → Training → {NN, Distillation, Datasets} → Tensor → {CBLAS, TensorAVX2, TensorAVX512}
//   FileSupport (atomic file writes, bounded reads, the byte formatter; no dependencies) sits below NN, Datasets,
//   TransportZMQ, ClusterRuntime and the CLI; Datasets hashes with swift-crypto (Crypto).
import PackageDescription

/// Optimise hot numeric loops even in debug builds' dependencies is not possible per target,
/// so release builds are used for tests that train (see Scripts/test).
let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

/// TensorAVX2's code generation: AVX2 and FMA instructions (ymm registers, fused multiply–add);
/// TensorAVX512's: AVX-512 F/DQ/BW/VL (zmm registers).
/// Nothing in that target is inlinable, and Tensor reaches it only after checking the CPU's
/// flags (`System.simd`), so the other targets stay portable x86-64.
#if arch(x86_64)
let avx2: [SwiftSetting] = [.unsafeFlags(["-target-cpu", "haswell"])]
let avx512: [SwiftSetting] = [.unsafeFlags(["-target-cpu", "skylake-avx512"])]
#else
let avx2: [SwiftSetting] = []
let avx512: [SwiftSetting] = []
#endif

let package = Package(
    name: "Distillery",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "distillery", targets: ["DistilleryCLI"]),
        .executable(name: "distillery-bench", targets: ["DistilleryBench"]),
        .library(name: "Tensor", targets: ["Tensor"]),
        .library(name: "NN", targets: ["NN"]),
        .library(name: "Distillation", targets: ["Distillation"]),
        .library(name: "Datasets", targets: ["Datasets"]),
        .library(name: "Training", targets: ["Training"]),
        .library(name: "ONNX", targets: ["ONNX"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swhitty/FlyingFox", from: "0.27.1"),
    ],
    targets: [
        // C system libraries (Debian: libopenblas-dev, zlib1g-dev).
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS"),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib"),
        // protoc-c output for Protos/distillery.proto (Scripts/gen-protos; committed).
        .target(name: "DistilleryProtoC", linkerSettings: [.linkedLibrary("protobuf-c")]),
        // protoc-c output for Protos/onnx.proto, the ONNX model format's subset (Scripts/gen-protos; committed).
        .target(name: "OnnxProtoC", linkerSettings: [.linkedLibrary("protobuf-c")]),
        // libzmq (Debian: libzmq3-dev).
        .systemLibrary(name: "CZeroMQ", path: "Sources/CZeroMQ"),

        // Crash-safe file writes (temporary file, fsync, rename, fsync of the directory) and
        // size-limited reads: the one implementation every target uses. Only the C library.
        .target(name: "FileSupport", swiftSettings: strict),
        // The one injected clock (RuntimeClock, the system clock, Deadline — the bounded-wait
        // helper): the only code that reads the machine's clocks or sleeps. Above ClusterCore
        // for `ClockTime`; every target that waits or measures imports it.
        .target(name: "Clocks", dependencies: ["ClusterCore"], swiftSettings: strict),
        // AVX2 + FMA microkernels (GEMM on packed panels, direct convolution), the one target
        // compiled for x86-64-v3 (Haswell) CPUs; Tensor calls it only when the CPU has both.
        .target(name: "TensorAVX2", swiftSettings: strict + avx2),
        // The same two kernels twice as wide (zmm), for CPUs with AVX-512 (Skylake-SP and later,
        // Zen 4); Tensor calls it only when the CPU has AVX-512 F, DQ, BW and VL.
        .target(name: "TensorAVX512", swiftSettings: strict + avx512),
        // Float32 storage, shapes, GEMM through OpenBLAS, vectorised element-wise kernels.
        .target(name: "Tensor", dependencies: ["CBLAS", "TensorAVX2", "TensorAVX512"], swiftSettings: strict),
        // Layers, Sequential with one flat parameter/gradient arena, losses, optimizers,
        // schedules, model specs, safetensors checkpoints.
        .target(name: "NN", dependencies: ["Tensor", "FileSupport"], swiftSettings: strict),
        // ONNX models: reading and validating `.onnx` files (ONNX teachers), an inference executor
        // on the engine's tensors and GEMM, `inspect`'s summary, and writing a native model
        // (the student) as ONNX. Nothing of protobuf-c is visible outside this target.
        .target(name: "ONNX", dependencies: ["OnnxProtoC", "NN", "Tensor", "FileSupport"], swiftSettings: strict),
        // Knowledge-distillation math: temperature softmax, KL·T², ensemble rules.
        .target(name: "Distillation", dependencies: ["Tensor"], swiftSettings: strict),
        // IDX(.gz) reader, NumPy .npy/.npz reader (zip and raw deflate through zlib),
        // normalisation, splits, deterministic permutations, batches, shard cache; SHA-256
        // from swift-crypto.
        .target(
            name: "Datasets",
            dependencies: ["CZlib", "Tensor", "FileSupport", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strict
        ),
        // Training, evaluation and distillation loops that compose the pure parts.
        .target(name: "Training", dependencies: ["NN", "Distillation", "Datasets", "Tensor", "Clocks"], swiftSettings: strict),
        // Swift message types <-> protobuf-c structs, validation and limits. Nothing of
        // protobuf-c is visible outside this target.
        .target(name: "Wire", dependencies: ["DistilleryProtoC", "Tensor"], swiftSettings: strict),
        // The `Transport` protocol the runtime uses, decoding with counted drops, and an
        // in-memory implementation for tests.
        .target(
            name: "Transport",
            dependencies: ["Wire", "Clocks", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        // Transport over libzmq: ROUTER/DEALER, poller thread, zero-copy frames, CURVE + ZAP.
        .target(
            name: "TransportZMQ",
            dependencies: ["Transport", "Wire", "Clocks", "CZeroMQ", "FileSupport", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        // Pure cluster state machines: membership/liveness, placement, run lifecycle. No I/O,
        // injected clock, nothing imported (DESIGN.md §4 "Instance / Shell / Directive").
        .target(name: "ClusterCore", swiftSettings: strict),
        // Run specs in YAML: strict parsing (unknown keys are errors), field-level errors.
        .target(
            name: "RunSpec",
            dependencies: ["NN", "Training", "Distillation", .product(name: "Yams", package: "Yams")],
            swiftSettings: strict
        ),
        // The coordinator's persistent state in SQLite (GRDB): workers, runs, events, metrics, artifacts.
        .target(name: "ClusterStore", dependencies: ["Clocks", .product(name: "GRDB", package: "GRDB.swift")], swiftSettings: strict),
        // The control plane's shells, which perform the cores' directives over a Transport: the
        // Coordinator, the Worker's registration/heartbeat/shard side, the control client the
        // CLI uses. It never trains: no Training or Distillation here (NN only for the
        // safetensors header reader of the stored teachers' index).
        .target(
            name: "ClusterRuntime",
            dependencies: [
                "ClusterCore", "Clocks", "RunSpec", "ClusterStore", "Transport", "Wire", "Datasets", "NN", "FileSupport", "ONNX",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        // The data plane: what a teacher and a student replica do during a run, the logits
        // stream between them, the ring all-reduce, the worker's data inbox, and the worker
        // service that puts a Worker and its tasks together.
        .target(
            name: "DataPlane",
            dependencies: [
                "ClusterRuntime", "ClusterCore", "Clocks", "RunSpec", "Transport", "Wire", "Datasets", "Training", "NN", "Distillation",
                "Tensor", "FileSupport", "ONNX", .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        // What the CLI prints: the one table printer, progress bar and byte formatter, and the
        // Codable types of every `--json` output (a library, so that they have unit tests).
        .target(name: "CLIOutput", dependencies: ["ClusterRuntime", "ClusterCore", "Wire", "FileSupport"], swiftSettings: strict),
        // What monitoring sees: the coordinator's ClusterMetrics as Prometheus text
        // (swift-prometheus' registry) on a small HTTP server (FlyingFox; no SwiftNIO).
        .target(
            name: "Observability",
            dependencies: [
                "ClusterRuntime", "ClusterCore",
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "FlyingFox", package: "FlyingFox"),
                .product(name: "FlyingSocks", package: "FlyingFox"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        // The `distillery` command (composition root).
        .executableTarget(
            name: "DistilleryCLI",
            dependencies: [
                "Training", "NN", "Datasets", "Distillation", "Tensor", "Wire", "Transport", "TransportZMQ",
                "ClusterCore", "Clocks", "RunSpec", "ClusterStore", "ClusterRuntime", "DataPlane", "FileSupport", "CLIOutput", "ONNX",
                "Observability",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        // `distillery-bench`: the benchmark-only commands (engine, transport, all-reduce) that
        // Scripts/bench runs beside PyTorch, plain libzmq and gloo; not part of the product CLI.
        .executableTarget(
            name: "DistilleryBench",
            dependencies: [
                "CLIOutput", "Clocks", "ClusterRuntime", "DataPlane", "Transport", "TransportZMQ", "Wire", "Tensor", "NN", "Distillation", "ONNX",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict
        ),
        // The plain-libzmq peer of the transport benchmark (Scripts/bench).
        .executableTarget(name: "zmq-raw-bench", path: "Sources/ZMQRawBench", linkerSettings: [.linkedLibrary("zmq")]),
        // Test-only helpers: assertClose, finite differences, fixture loading, ManualClock.
        .target(
            name: "DistilleryTestKit",
            dependencies: ["Tensor", "NN", "Datasets", "Wire", "ClusterCore", "Clocks", "ClusterRuntime",
                           .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),

        .testTarget(name: "FileSupportTests", dependencies: ["FileSupport"]),
        .testTarget(name: "TensorTests", dependencies: ["Tensor", "DistilleryTestKit"]),
        .testTarget(name: "NNTests", dependencies: ["NN", "Tensor", "FileSupport", "DistilleryTestKit"], resources: [.copy("Fixtures")]),
        .testTarget(name: "ONNXTests", dependencies: ["ONNX", "OnnxProtoC", "NN", "Tensor", "DistilleryTestKit"], resources: [.copy("Fixtures")]),
        .testTarget(name: "DistillationTests", dependencies: ["Distillation", "Tensor", "DistilleryTestKit"], resources: [.copy("Fixtures")]),
        .testTarget(name: "DatasetsTests", dependencies: ["Datasets", "Tensor"], resources: [.copy("Fixtures")]),
        .testTarget(name: "TrainingTests", dependencies: ["Training", "NN", "Datasets", "Distillation", "DistilleryTestKit"]),
        .testTarget(name: "CLITests", dependencies: ["DistilleryTestKit", "NN", "ONNX", "TransportZMQ", "Wire", "ClusterRuntime"]),
        .testTarget(name: "ObservabilityTests", dependencies: ["Observability", "ClusterRuntime", "ClusterCore",
                                                        .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "CLIOutputTests", dependencies: ["CLIOutput", "ClusterRuntime", "Wire", "FileSupport"]),
        .testTarget(name: "WireTests", dependencies: ["Wire", "DistilleryProtoC", "Tensor", "DistilleryTestKit"]),
        .testTarget(name: "ClusterCoreTests", dependencies: ["ClusterCore"]),
        .testTarget(name: "RunSpecTests", dependencies: ["RunSpec", "NN", "Training", "Distillation"]),
        .testTarget(name: "ClusterStoreTests", dependencies: ["ClusterStore"]),
        .testTarget(name: "ClocksTests", dependencies: ["Clocks", "ClusterCore", "DistilleryTestKit"]),
        .testTarget(
            name: "ClusterRuntimeTests",
            dependencies: ["ClusterRuntime", "DataPlane", "ClusterCore", "Clocks", "RunSpec", "ClusterStore", "Transport", "Wire", "Datasets",
                           "Training", "NN", "Distillation", "DistilleryTestKit", "ONNX", "Tensor", .product(name: "Logging", package: "swift-log")]
        ),
        .testTarget(
            name: "TransportTests",
            dependencies: ["Transport", "TransportZMQ", "Wire", "Clocks", "CZeroMQ", "Tensor", "DistilleryTestKit", "ClusterRuntime", "DataPlane",
                           .product(name: "Logging", package: "swift-log")]
        ),
    ]
)
