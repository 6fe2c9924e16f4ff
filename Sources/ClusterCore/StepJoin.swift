/// Joins, for one student replica, the K teachers' messages of each step of the plan
/// (DESIGN.md §2 step 5: "each replica joins the K teacher messages of its step").
///
/// Steps are numbered globally, `index = epoch · stepsPerEpoch + step`, and consumed in order.
/// A message is kept only if its step lies in the window `[next, next + window)` — the
/// credits the replica granted bound how far ahead teachers may run, so anything beyond is a
/// protocol violation — and its teacher has not delivered that step already. Memory is
/// therefore bounded by `window · teachers` payloads.
public struct StepJoin<Payload: Sendable>: Sendable {
    public enum Outcome: Sendable, Equatable {
        case accepted
        /// This teacher already delivered this step.
        case duplicate
        /// The step was consumed already.
        case stale
        /// Beyond the window: the sender ignored its credits.
        case tooFarAhead
        /// Not a teacher of this run, or a step outside the epoch.
        case invalid
    }

    public let teachers: Int
    public let stepsPerEpoch: Int
    public let window: Int
    /// Global index of the next step to consume.
    public private(set) var next: Int = 0
    private var pending: [Int: [Payload?]] = [:]

    /// `start`: the first global step to consume (a resumed run's checkpoint step; 0 otherwise).
    public init(teachers: Int, stepsPerEpoch: Int, window: Int, start: Int = 0) {
        precondition(teachers >= 1 && stepsPerEpoch >= 1 && window >= 1, "StepJoin needs ≥ 1 teacher, step and window")
        self.next = max(0, start)
        self.teachers = teachers
        self.stepsPerEpoch = stepsPerEpoch
        self.window = window
    }

    /// (epoch, step) of the next step to consume.
    public var nextStep: (epoch: Int, step: Int) { (next / stepsPerEpoch, next % stepsPerEpoch) }

    public mutating func add(epoch: Int, step: Int, teacher: Int, _ payload: Payload) -> Outcome {
        guard (0..<teachers).contains(teacher), (0..<stepsPerEpoch).contains(step), epoch >= 0 else { return .invalid }
        let (index, overflow) = epoch.multipliedReportingOverflow(by: stepsPerEpoch)
        guard !overflow else { return .invalid }
        let global = index + step
        if global < next { return .stale }
        if global >= next + window { return .tooFarAhead }
        var slots = pending[global] ?? [Payload?](repeating: nil, count: teachers)
        if slots[teacher] != nil { return .duplicate }
        slots[teacher] = payload
        pending[global] = slots
        return .accepted
    }

    /// The K payloads of the next step, in teacher order, once all arrived; advances.
    public mutating func takeNext() -> [Payload]? {
        guard let slots = pending[next], slots.allSatisfy({ $0 != nil }) else { return nil }
        pending[next] = nil
        next += 1
        return slots.map { $0! }
    }

    /// Step `global` was taken another way (its targets were cached already: a replica that
    /// took the ring's soft-label cache): what arrived for it and before is dropped, and the
    /// next step to consume is the one after it.
    public mutating func skip(through global: Int) {
        guard global >= next else { return }
        pending = pending.filter { $0.key > global }
        next = global + 1
    }

    /// Teachers whose message for the next step has not arrived (for a timeout's reason).
    public var missingTeachers: [Int] {
        let slots = pending[next] ?? [Payload?](repeating: nil, count: teachers)
        return slots.indices.filter { slots[$0] == nil }
    }

    /// Payloads held (bounded by window · teachers).
    public var buffered: Int { pending.values.reduce(0) { $0 + $1.compactMap { $0 }.count } }
}
