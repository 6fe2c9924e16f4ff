import Testing
@testable import ClusterCore

/// `Placer.replace`: parts whose worker was lost go to other workers, as `place` would choose.
@Suite struct PlacerReplaceTests {
    static let s0 = TaskRef(.student, 0), s1 = TaskRef(.student, 1), t0 = TaskRef(.teacher, 0), t1 = TaskRef(.teacher, 1)

    func candidate(_ name: String, _ roles: Set<WorkerRole>, active: Int = 0) -> PlacementCandidate {
        PlacementCandidate(name: name, roles: roles, cores: 4, activeTasks: active)
    }

    @Test func aStudentGoesToTheLeastLoadedStudentWorkerThatHostsNoReplica() {
        let placement = Placement(teacherWorkers: ["w1"], studentWorkers: ["", "w2"])
        let candidates = [candidate("w2", [.student]), candidate("w3", [.student], active: 2), candidate("w4", [.student], active: 1),
                          candidate("w1", [.teacher])]
        #expect(Placer.replace([Self.s0], in: placement, on: candidates) == [Self.s0: "w4"])
    }

    @Test func studentOnlyWorkersComeFirstAtEqualLoadThenNames() {
        let placement = Placement(teacherWorkers: ["w1"], studentWorkers: [""])
        let candidates = [candidate("a", [.teacher, .student]), candidate("c", [.student]), candidate("b", [.student])]
        #expect(Placer.replace([Self.s0], in: placement, on: candidates) == [Self.s0: "b"])
    }

    @Test func twoLostReplicasGetTwoWorkers() {
        let placement = Placement(teacherWorkers: ["w1"], studentWorkers: ["", ""])
        let candidates = [candidate("w5", [.student]), candidate("w6", [.student], active: 3)]
        #expect(Placer.replace([Self.s1, Self.s0], in: placement, on: candidates) == [Self.s0: "w5", Self.s1: "w6"])
        #expect(Placer.replace([Self.s1, Self.s0], in: placement, on: [candidate("w5", [.student])]) == [Self.s0: "w5"])
    }

    @Test func aTeacherGoesToTheLeastLoadedTeacherWorkerCountingThePartsPlacedNow() {
        let placement = Placement(teacherWorkers: ["", "w2", ""], studentWorkers: ["w3"])
        let candidates = [candidate("w2", [.teacher], active: 1), candidate("w3", [.teacher, .student], active: 1),
                          candidate("w4", [.teacher], active: 1)]
        let t2 = TaskRef(.teacher, 2)
        // Equal load: teacher-only first (w2, w4), by name; then w4 with one less placed now.
        #expect(Placer.replace([Self.t0, t2], in: placement, on: candidates) == [Self.t0: "w2", t2: "w4"])
    }

    @Test func aTeacherMayJoinAWorkerThatHostsAReplicaOfTheRun() {
        let placement = Placement(teacherWorkers: [""], studentWorkers: ["w3"])
        #expect(Placer.replace([Self.t0], in: placement, on: [candidate("w3", [.teacher, .student], active: 1)]) == [Self.t0: "w3"])
    }

    @Test func nobodyFitsGivesNothing() {
        let placement = Placement(teacherWorkers: ["", "w1"], studentWorkers: ["", "w2"])
        let candidates = [candidate("w1", [.teacher]), candidate("w2", [.student])]
        #expect(Placer.replace([Self.s0], in: placement, on: candidates) == [:])
        #expect(Placer.replace([Self.t0, Self.s0], in: placement, on: [candidate("w2", [.student])]) == [:])
        #expect(Placer.replace([Self.t0, Self.s0], in: placement, on: []) == [:])
        #expect(Placer.replace([Self.t0, Self.s0], in: placement, on: candidates) == [Self.t0: "w1"])
    }

    @Test func deterministicWhateverTheInputOrder() {
        let placement = Placement(teacherWorkers: ["", ""], studentWorkers: ["", "x"])
        let candidates = [candidate("c", [.teacher, .student]), candidate("a", [.student]), candidate("b", [.teacher]),
                          candidate("a", [.teacher], active: 9)]
        let first = Placer.replace([Self.t1, Self.s0, Self.t0], in: placement, on: candidates)
        #expect(first == [Self.s0: "a", Self.t0: "b", Self.t1: "c"])
        #expect(Placer.replace([Self.t0, Self.t1, Self.s0], in: placement, on: candidates.reversed().filter { $0.activeTasks == 0 }
            + [candidate("a", [.teacher], active: 9)]) == first)
    }
}
