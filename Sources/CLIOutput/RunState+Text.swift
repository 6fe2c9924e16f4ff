import Wire

extension RunState {
    /// The state as the coordinator names run phases: "preparing-teachers", "completed", …
    /// (`RunPhase.rawValue`), in text output, in `--json` and in `report.json` alike.
    public var text: String {
        switch self {
        case .pending: "pending"
        case .placing: "placing"
        case .sharding: "sharding"
        case .preparingTeachers: "preparing-teachers"
        case .distilling: "distilling"
        case .completed: "completed"
        case .failed: "failed"
        case .cancelled: "cancelled"
        case .interrupted: "interrupted"
        }
    }
}
