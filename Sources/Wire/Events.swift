// The event log of runs and of the cluster (proto section "runs": ListEvents, EventList).

/// CLI → coordinator: the event log of a run, or of the cluster (proto `distillery.v1.ListEvents`).
///
/// Rules: no tensors.
public struct ListEvents: Sendable, Equatable {
    /// Empty: cluster-wide events (workers joining, dying …).
    public var runID: String
    /// The newest `limit` events; 0 = all.
    public var limit: UInt32

    public init(runID: String = "", limit: UInt32 = 0) {
        self.runID = runID
        self.limit = limit
    }
}

/// One entry of the event log (proto `distillery.v1.EventEntry`).
///
/// Rules: `kind` and `message` non-empty.
public struct EventEntry: Sendable, Equatable {
    public var atUnixMs: UInt64
    /// E.g. "state", "worker", "task", "shard".
    public var kind: String
    public var message: String
    /// Empty for cluster-wide events.
    public var runID: String

    public init(atUnixMs: UInt64 = 0, kind: String = "", message: String = "", runID: String = "") {
        self.atUnixMs = atUnixMs
        self.kind = kind
        self.message = message
        self.runID = runID
    }
}

/// coordinator → CLI: answer to `ListEvents`, oldest first (proto `distillery.v1.EventList`).
///
/// Rules: every entry valid (see ``EventEntry``); no tensors.
public struct EventList: Sendable, Equatable {
    public var events: [EventEntry]

    public init(events: [EventEntry] = []) {
        self.events = events
    }
}
