// Results and errors (proto sections "results" and "errors").

/// One named number (proto `distillery.v1.MetricValue`). Rules: `name` non-empty.
public struct MetricValue: Sendable, Equatable {
    /// E.g. "train.loss", "val.accuracy", "time.allreduce_ms".
    public var name: String
    public var value: Double

    public init(name: String = "", value: Double = 0) {
        self.name = name
        self.value = value
    }
}

/// rank 0 → coordinator: metrics of an epoch (proto `distillery.v1.Metrics`).
/// Rules: `run_id` non-empty; every value named; no tensors.
public struct Metrics: Sendable, Equatable {
    public var runID: String
    public var epoch: UInt32
    public var step: UInt64
    public var values: [MetricValue]

    public init(runID: String = "", epoch: UInt32 = 0, step: UInt64 = 0, values: [MetricValue] = []) {
        self.runID = runID
        self.epoch = epoch
        self.step = step
        self.values = values
    }
}

/// worker → coordinator: one chunk of an artifact; its bytes are tensor frame 1
/// (proto `distillery.v1.ArtifactChunk`).
///
/// Rules: `run_id`, `name`, `sha256` non-empty; exactly 1 tensor, dtype u8, shape `[bytes]`;
/// `offset + bytes` ≤ `total_bytes`; `last` ⇒ `offset + bytes` == `total_bytes`.
public struct ArtifactChunk: Sendable, Equatable {
    public var runID: String
    /// E.g. "student.safetensors".
    public var name: String
    /// Of the whole artifact.
    public var sha256: String
    public var totalBytes: UInt64
    public var offset: UInt64
    public var last: Bool

    /// The size of every chunk but the last (docs/PROTOCOL.md "Results"); the coordinator
    /// takes no larger frame (``WireLimits/coordinator``).
    public static let chunkBytes = 1 << 20

    public init(runID: String = "", name: String = "", sha256: String = "", totalBytes: UInt64 = 0,
                offset: UInt64 = 0, last: Bool = false) {
        self.runID = runID
        self.name = name
        self.sha256 = sha256
        self.totalBytes = totalBytes
        self.offset = offset
        self.last = last
    }
}

/// coordinator → worker: artifact stored or refused (proto `distillery.v1.ArtifactAck`).
///
/// Rules: `run_id`, `name` non-empty; `stored` ⇒ `error` empty; not `stored` ⇒ `error`
/// non-empty; no tensors.
public struct ArtifactAck: Sendable, Equatable {
    public var runID: String
    public var name: String
    public var stored: Bool
    public var error: String

    public init(runID: String = "", name: String = "", stored: Bool = false, error: String = "") {
        self.runID = runID
        self.name = name
        self.stored = stored
        self.error = error
    }
}

/// Any request can be answered by this (proto message `distillery.v1.Error`, renamed so it
/// does not shadow `Swift.Error`).
///
/// Rules: `code` a known value; `message` non-empty (what was wrong, where, what to do);
/// no tensors.
public struct ErrorReply: Sendable, Equatable {
    public var code: ErrorCode
    /// What was wrong, where, what to do.
    public var message: String

    public init(code: ErrorCode = .internal, message: String = "") {
        self.code = code
        self.message = message
    }
}
