// A coordinator that restarts takes its runs in flight back from its database (docs/
// OPERATIONS.md "The coordinator is lost"): each run's lifecycle is stored as JSON whenever it
// changes, and restored with its times moved past the gap.

extension ClockTime: Codable {
    public init(from decoder: any Decoder) throws {
        self.init(milliseconds: try decoder.singleValueContainer().decode(UInt64.self))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(milliseconds)
    }
}

extension TaskKind: Codable {}
extension TaskPhase: Codable {}
extension RunPhase: Codable {}

extension TaskRef: Codable {
    /// As its id without the run: "teacher-0", "student-2" (also a JSON object key).
    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let ref = TaskRef.parse("r/" + text, runID: "r") else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not a task name: \(text)"))
        }
        self = ref
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode("\(kind.rawValue)-\(index)")
    }
}

extension TaskRef: CodingKeyRepresentable {
    public var codingKey: any CodingKey { TaskKey(stringValue: "\(kind.rawValue)-\(index)") }

    public init?<T: CodingKey>(codingKey: T) {
        guard let ref = TaskRef.parse("r/" + codingKey.stringValue, runID: "r") else { return nil }
        self = ref
    }

    private struct TaskKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }
}

extension RunLifecycle {
    /// The lifecycle as a coordinator that restarts at `now` takes it back, stored at `savedAt`
    /// on the previous coordinator's clock: every time it holds (shard activity, assignments,
    /// lost parts, the pause, the ring's last progress) moves by `now − savedAt`, so the time
    /// the coordinator was down counts for no deadline (as a paused coordinator's stall does
    /// not count against its workers). Nothing else changes.
    public func resumed(savedAt: ClockTime, at now: ClockTime) -> RunLifecycle {
        func move(_ t: ClockTime) -> ClockTime {
            t >= savedAt ? now + (t - savedAt) : now + (.zero - (savedAt - t))
        }
        var run = self
        run.shardActivity = shardActivity.mapValues(move)
        run.tasks = tasks.mapValues { var task = $0; task.assignedAt = move(task.assignedAt); return task }
        run.unplaced = unplaced.mapValues { LostPart(worker: $0.worker, since: move($0.since)) }
        run.lostReplicas = lostReplicas.mapValues { LostPart(worker: $0.worker, since: move($0.since)) }
        run.pausedSince = pausedSince.map(move)
        run.ringProgressAt = ringProgressAt.map(move)
        return run
    }

    /// The workers that hold a part of this run now (placement workers and workers taking a
    /// lost slot back): a restarted coordinator waits for each to report it.
    public var holders: [String] {
        guard !phase.isTerminal, let placement else { return [] }
        return (placement.workers + joining.values.sorted()).reduce(into: [String]()) { list, w in
            if !w.isEmpty && !list.contains(w) { list.append(w) }
        }
    }
}
