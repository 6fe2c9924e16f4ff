// Pure placement of a run's teachers and student replicas on candidate workers.

/// Pure placement: teachers may share a worker (spread over teacher-capable workers by least
/// load: activeTasks + already placed here, ties by name); each student replica needs its
/// own student-capable worker (ring peers are distinct endpoints). When a worker has both
/// roles, prefer teacher-only workers for teachers and student-only workers for students
/// when that costs nothing. Deterministic for the same input.
public enum Placer {
    /// Places `teachers` teachers and `replicas` student replicas on `candidates`.
    ///
    /// Rules, in order:
    /// 1. 0 (or fewer) teachers or replicas: refused with `nothingToPlace`.
    /// 2. No candidate with the teacher role: `noTeacherWorkers`.
    /// 3. Fewer candidates with the student role than replicas: `notEnoughStudentWorkers`.
    /// 4. Students first, being the hard constraint: the `replicas` student-capable workers
    ///    with the fewest active tasks, a student-only worker before a dual-role one at equal
    ///    load, then by name; rank r goes to the r-th of them.
    /// 5. Then each teacher in turn goes to the teacher-capable worker with the least load
    ///    (active tasks + students and teachers placed there now), a teacher-only worker
    ///    before a dual-role one at equal load, then by name.
    /// The role preference only breaks ties in load: it never costs balance. A name listed
    /// twice counts once (its first entry); negative `activeTasks` count as 0.
    /// With `atLeast` (an elastic run's `min-replicas`), fewer student workers than `replicas`
    /// but at least that many place a replica on each of them; the other slots are "" (the
    /// run takes them later, `RunLifecycle+Growing`).
    public static func place(teachers: Int, replicas: Int, atLeast: Int? = nil,
                             on candidates: [PlacementCandidate]) -> Result<Placement, PlacementRefusal> {
        guard teachers > 0, replicas > 0 else { return .failure(.nothingToPlace) }
        let workers = distinct(candidates)
        let teacherHosts = workers.filter { $0.roles.contains(.teacher) }
        guard !teacherHosts.isEmpty else { return .failure(.noTeacherWorkers(teachers: teachers)) }
        let studentHosts = workers.filter { $0.roles.contains(.student) }
        let needed = min(replicas, max(1, atLeast ?? replicas))
        guard studentHosts.count >= needed else {
            let available = studentHosts.map(\.name)
            return .failure(needed < replicas ? .belowMinimumReplicas(minimum: needed, replicas: replicas, available: available)
                : .notEnoughStudentWorkers(replicas: replicas, available: available))
        }

        var students = studentHosts.sorted {
            Self.precedes($0, load: load($0), before: $1, load: load($1), avoiding: .teacher)
        }.prefix(replicas).map(\.name)
        students += [String](repeating: "", count: replicas - students.count)

        var placedHere = Dictionary(uniqueKeysWithValues: students.filter { !$0.isEmpty }.map { ($0, 1) })
        var teacherWorkers: [String] = []
        teacherWorkers.reserveCapacity(teachers)
        for _ in 0..<teachers {
            let loadNow = { (c: PlacementCandidate) in load(c) + (placedHere[c.name] ?? 0) }
            guard let host = teacherHosts.min(by: {
                Self.precedes($0, load: loadNow($0), before: $1, load: loadNow($1), avoiding: .student)
            }) else { return .failure(.noTeacherWorkers(teachers: teachers)) }  // not empty, checked above
            teacherWorkers.append(host.name)
            placedHere[host.name, default: 0] += 1
        }
        return .success(Placement(teacherWorkers: teacherWorkers, studentWorkers: Array(students)))
    }

    /// Places `parts` of a run whose worker was lost before distilling (their slots in
    /// `placement` are "") on `candidates` (the available workers; their `activeTasks` count
    /// this run's placed parts too). Mirrors ``place(teachers:replicas:on:)``:
    /// 1. Students first, by rank: the student-capable worker with the least load (active
    ///    tasks + parts placed in this call) that hosts no replica of this run (nor one placed in
    ///    this call), a student-only worker before a dual-role one at equal load, then by name.
    /// 2. Then teachers, by index: the teacher-capable worker with the least load, a
    ///    teacher-only worker before a dual-role one at equal load, then by name.
    /// A part nobody can take is left out, so the answer may be partial or empty (the run then
    /// waits for workers). Deterministic for the same input.
    public static func replace(_ parts: [TaskRef], in placement: Placement,
                               on candidates: [PlacementCandidate]) -> [TaskRef: String] {
        let workers = distinct(candidates)
        var placedHere: [String: Int] = [:]
        var hostsReplica = Set(placement.studentWorkers.filter { !$0.isEmpty })
        var answer: [TaskRef: String] = [:]
        let loadNow = { (c: PlacementCandidate) in load(c) + (placedHere[c.name] ?? 0) }
        for ref in Set(parts).sorted(by: { ($0.kind == .student ? 0 : 1, $0.index) < ($1.kind == .student ? 0 : 1, $1.index) }) {
            let (role, other): (WorkerRole, WorkerRole) = ref.kind == .student ? (.student, .teacher) : (.teacher, .student)
            let hosts = workers.filter { $0.roles.contains(role) && (ref.kind == .teacher || !hostsReplica.contains($0.name)) }
            guard let host = hosts.min(by: {
                Self.precedes($0, load: loadNow($0), before: $1, load: loadNow($1), avoiding: other)
            }) else { continue }
            answer[ref] = host.name
            placedHere[host.name, default: 0] += 1
            if ref.kind == .student { hostsReplica.insert(host.name) }
        }
        return answer
    }

    /// Candidates with distinct names (first entry wins), sorted by name.
    static func distinct(_ candidates: [PlacementCandidate]) -> [PlacementCandidate] {
        var seen = Set<String>()
        return candidates.filter { seen.insert($0.name).inserted }.sorted { $0.name < $1.name }
    }

    /// Active tasks, never negative, and small enough that adding this run's parts cannot overflow.
    static func load(_ candidate: PlacementCandidate) -> Int {
        min(max(candidate.activeTasks, 0), Int.max / 4)
    }

    /// Order for picking hosts: less load first; at equal load, a worker without the
    /// `other` role first; then by name.
    static func precedes(_ a: PlacementCandidate, load loadA: Int, before b: PlacementCandidate, load loadB: Int,
                         avoiding other: WorkerRole) -> Bool {
        if loadA != loadB { return loadA < loadB }
        let aDual = a.roles.contains(other), bDual = b.roles.contains(other)
        if aDual != bDual { return !aDual }
        return a.name < b.name
    }
}
