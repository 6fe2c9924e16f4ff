import Testing
@testable import ClusterCore

@Suite struct PlacerTests {
    func candidate(_ name: String, _ roles: Set<WorkerRole>, active: Int = 0, cores: Int = 4) -> PlacementCandidate {
        PlacementCandidate(name: name, roles: roles, cores: cores, activeTasks: active)
    }

    func place(_ teachers: Int, _ replicas: Int, _ candidates: [PlacementCandidate]) -> Result<Placement, PlacementRefusal> {
        Placer.place(teachers: teachers, replicas: replicas, on: candidates)
    }

    @Test(arguments: [(0, 1), (1, 0), (0, 0), (-1, 2), (2, -3)])
    func nothingToPlace(_ teachers: Int, _ replicas: Int) {
        #expect(place(teachers, replicas, [candidate("w1", [.teacher, .student])]) == .failure(.nothingToPlace))
    }

    @Test func noTeacherWorkers() {
        let students = [candidate("s1", [.student]), candidate("s2", [.student]), candidate("x", [])]
        #expect(place(3, 1, students) == .failure(.noTeacherWorkers(teachers: 3)))
        #expect(place(1, 1, []) == .failure(.noTeacherWorkers(teachers: 1)))
    }

    @Test func notEnoughStudentWorkersListsThoseThereAre() {
        let candidates = [candidate("w2", [.student]), candidate("t", [.teacher]), candidate("w1", [.teacher, .student])]
        #expect(place(1, 3, candidates) == .failure(.notEnoughStudentWorkers(replicas: 3, available: ["w1", "w2"])))
        #expect(place(1, 1, [candidate("t", [.teacher])]) == .failure(.notEnoughStudentWorkers(replicas: 1, available: [])))
    }

    @Test func refusalSentencesSayWhatToDo() {
        #expect(PlacementRefusal.notEnoughStudentWorkers(replicas: 3, available: ["w1", "w2"]).description
            == "3 student replicas need 3 workers with the student role, but only 2 are available (w1, w2); start more workers with --roles student or lower replicas in the run spec")
        #expect(PlacementRefusal.notEnoughStudentWorkers(replicas: 2, available: ["w1"]).description
            == "2 student replicas need 2 workers with the student role, but only 1 is available (w1); start more workers with --roles student or lower replicas in the run spec")
        #expect(PlacementRefusal.notEnoughStudentWorkers(replicas: 1, available: []).description
            == "1 student replica needs 1 worker with the student role, but none is available; start more workers with --roles student or lower replicas in the run spec")
        #expect(PlacementRefusal.noTeacherWorkers(teachers: 3).description
            == "3 teachers need a worker with the teacher role, but none is available; start a worker with --roles teacher (or --roles teacher,student)")
        #expect(PlacementRefusal.noTeacherWorkers(teachers: 1).description
            == "1 teacher needs a worker with the teacher role, but none is available; start a worker with --roles teacher (or --roles teacher,student)")
        #expect(PlacementRefusal.nothingToPlace.description
            == "the run has nothing to place: it needs at least 1 teacher and 1 student replica; fix teachers and replicas in the run spec")
        #expect("\(PlacementRefusal.nothingToPlace)" == PlacementRefusal.nothingToPlace.description)
    }

    @Test func teachersSpreadByLeastLoad() {
        let candidates = [candidate("t1", [.teacher], active: 2), candidate("t2", [.teacher], active: 0),
                          candidate("t3", [.teacher], active: 1), candidate("s", [.student])]
        // Loads 2, 0, 1: t2 (→1); t2 and t3 tie at 1, t2 by name (→2); t3 (→2); all at 2, t1 by name; then t2.
        #expect(place(5, 1, candidates) == .success(Placement(
            teacherWorkers: ["t2", "t2", "t3", "t1", "t2"], studentWorkers: ["s"])))
    }

    @Test func teachersShareWhenThereAreFewHosts() {
        let candidates = [candidate("a", [.teacher]), candidate("b", [.teacher]), candidate("s", [.student])]
        #expect(place(4, 1, candidates) == .success(Placement(teacherWorkers: ["a", "b", "a", "b"], studentWorkers: ["s"])))
    }

    @Test func eachReplicaGetsItsOwnWorkerLeastLoadedFirst() {
        let candidates = [candidate("s1", [.student], active: 3), candidate("s2", [.student], active: 1),
                          candidate("s3", [.student], active: 1), candidate("s4", [.student], active: 0),
                          candidate("t", [.teacher])]
        #expect(place(1, 3, candidates) == .success(Placement(teacherWorkers: ["t"], studentWorkers: ["s4", "s2", "s3"])))
    }

    @Test func specialistsFirstAtEqualLoad() {
        let candidates = [candidate("a-both", [.teacher, .student]), candidate("z-teach", [.teacher]),
                          candidate("m-stud", [.student])]
        #expect(place(1, 1, candidates) == .success(Placement(teacherWorkers: ["z-teach"], studentWorkers: ["m-stud"])))
    }

    @Test func preferenceNeverCostsBalance() {
        // The dual-role worker is idle, the specialists are busy: load wins.
        let candidates = [candidate("both", [.teacher, .student]), candidate("teach", [.teacher], active: 1),
                          candidate("stud", [.student], active: 1)]
        #expect(place(1, 1, candidates) == .success(Placement(teacherWorkers: ["teach"], studentWorkers: ["both"])))
        #expect(place(2, 1, candidates) == .success(Placement(teacherWorkers: ["teach", "both"], studentWorkers: ["both"])))
    }

    @Test func studentsPlacedHereCountForTeachers() {
        let candidates = [candidate("d1", [.teacher, .student]), candidate("d2", [.teacher, .student])]
        #expect(place(1, 1, candidates) == .success(Placement(teacherWorkers: ["d2"], studentWorkers: ["d1"])))
        #expect(place(3, 2, candidates) == .success(Placement(teacherWorkers: ["d1", "d2", "d1"], studentWorkers: ["d1", "d2"])))
    }

    @Test func oneWorkerWithBothRolesHostsEverything() {
        #expect(place(3, 1, [candidate("solo", [.teacher, .student])])
            == .success(Placement(teacherWorkers: ["solo", "solo", "solo"], studentWorkers: ["solo"])))
    }

    @Test func coresDoNotChangeTheChoice() {
        let a = [candidate("a", [.teacher, .student], cores: 1), candidate("b", [.teacher, .student], cores: 64)]
        #expect(place(1, 1, a) == .success(Placement(teacherWorkers: ["b"], studentWorkers: ["a"])))
    }

    @Test func repeatedNamesCountOnce() {
        let candidates = [candidate("w", [.student], active: 0), candidate("w", [.teacher], active: 0),
                          candidate("t", [.teacher], active: 5)]
        #expect(place(1, 1, candidates) == .success(Placement(teacherWorkers: ["t"], studentWorkers: ["w"])))
        #expect(place(1, 2, candidates) == .failure(.notEnoughStudentWorkers(replicas: 2, available: ["w"])))
    }

    @Test func negativeActiveTasksCountAsZero() {
        let candidates = [candidate("a", [.teacher], active: -5), candidate("b", [.teacher], active: 0),
                          candidate("s", [.student])]
        #expect(place(2, 1, candidates) == .success(Placement(teacherWorkers: ["a", "b"], studentWorkers: ["s"])))
    }

    @Test func hugeActiveTasksDoNotOverflow() {
        let candidates = [candidate("a", [.teacher, .student], active: .max), candidate("b", [.teacher, .student], active: .max)]
        #expect(place(3, 2, candidates) == .success(Placement(teacherWorkers: ["a", "b", "a"], studentWorkers: ["a", "b"])))
    }

    @Test func deterministicWhateverTheInputOrder() {
        var generator = SplitMix64(seed: 42)
        let candidates = (0..<8).map { i in
            candidate("w\(i)", i % 3 == 0 ? [.teacher] : i % 3 == 1 ? [.student] : [.teacher, .student], active: i % 2)
        }
        let expected = place(5, 3, candidates)
        #expect(expected != .failure(.nothingToPlace))
        for _ in 0..<50 {
            #expect(place(5, 3, candidates.shuffled(using: &generator)) == expected)
        }
    }

    @Test func workersAreDistinctTeachersFirst() {
        let placement = Placement(teacherWorkers: ["b", "a", "b"], studentWorkers: ["c", "a", "d"])
        #expect(placement.workers == ["b", "a", "c", "d"])
        #expect(Placement(teacherWorkers: [], studentWorkers: []).workers == [])
    }

    @Test func partsOnAWorker() {
        let placement = Placement(teacherWorkers: ["b", "a", "b"], studentWorkers: ["c", "b"])
        #expect(placement.parts(on: "b") == "teacher 0, teacher 2 and student 1")
        #expect(placement.parts(on: "a") == "teacher 1")
        #expect(placement.parts(on: "c") == "student 0")
        #expect(placement.parts(on: "z") == "")
        #expect(Placement(teacherWorkers: ["x"], studentWorkers: ["x"]).parts(on: "x") == "teacher 0 and student 0")
    }

    /// Random clusters: a placement respects roles and distinct replicas and is greedy-balanced;
    /// a refusal happens exactly when its rule says.
    @Test func randomClustersKeepTheRules() {
        var generator = SplitMix64(seed: 0xC0FFEE)
        let roleSets: [Set<WorkerRole>] = [[.teacher], [.student], [.teacher, .student], []]
        for _ in 0..<2000 {
            let candidates = (0..<Int.random(in: 0...6, using: &generator)).map { i in
                candidate("w\(i)", roleSets.randomElement(using: &generator)!, active: Int.random(in: 0...3, using: &generator))
            }
            let teachers = Int.random(in: 0...6, using: &generator)
            let replicas = Int.random(in: 0...4, using: &generator)
            let teacherHosts = candidates.filter { $0.roles.contains(.teacher) }
            let studentHosts = candidates.filter { $0.roles.contains(.student) }
            switch place(teachers, replicas, candidates) {
            case .failure(.nothingToPlace):
                #expect(teachers == 0 || replicas == 0)
            case .failure(.noTeacherWorkers(let count)):
                #expect(teachers > 0 && replicas > 0 && teacherHosts.isEmpty && count == teachers)
            case .failure(.notEnoughStudentWorkers(let count, let available)):
                #expect(teachers > 0 && replicas > 0 && !teacherHosts.isEmpty && studentHosts.count < replicas)
                #expect(count == replicas && available == studentHosts.map(\.name))
            case .failure(.belowMinimumReplicas):
                Issue.record("no minimum was given")
            case .success(let placement):
                #expect(placement.teacherWorkers.count == teachers && placement.studentWorkers.count == replicas)
                #expect(Set(placement.studentWorkers).count == replicas)
                #expect(placement.teacherWorkers.allSatisfy { name in teacherHosts.contains { $0.name == name } })
                #expect(placement.studentWorkers.allSatisfy { name in studentHosts.contains { $0.name == name } })
                var load = Dictionary(uniqueKeysWithValues: candidates.map { ($0.name, $0.activeTasks) })
                for name in placement.teacherWorkers + placement.studentWorkers {
                    load[name, default: 0] += 1
                }
                // Greedy balance: a host got its last teacher while it was least loaded.
                for host in Set(placement.teacherWorkers) {
                    #expect(teacherHosts.allSatisfy { load[host]! - 1 <= load[$0.name]! })
                }
                // Replicas went to the least busy student-capable workers.
                let unused = studentHosts.filter { !placement.studentWorkers.contains($0.name) }
                for used in placement.studentWorkers {
                    let busy = candidates.first { $0.name == used }!.activeTasks
                    #expect(unused.allSatisfy { busy <= $0.activeTasks })
                }
            }
        }
    }
}
