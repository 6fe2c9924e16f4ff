import Testing
@testable import ClusterCore

@Suite struct TaskRefTests {
    @Test func idsNameTheRunKindAndIndex() {
        #expect(TaskRef(.teacher, 1).id(runID: "r7") == "r7/teacher-1")
        #expect(TaskRef(.student, 0).id(runID: "run-2024") == "run-2024/student-0")
    }

    @Test func parseRoundTrips() {
        for runID in ["r1", "a/b", "", "x-teacher-1"] {
            for ref in [TaskRef(.teacher, 0), TaskRef(.teacher, 12), TaskRef(.student, 3), TaskRef(.student, Int.max)] {
                #expect(TaskRef.parse(ref.id(runID: runID), runID: runID) == ref)
            }
        }
    }

    @Test(arguments: [
        "r2/teacher-1", "r1x/teacher-1", "r1teacher-1", "r1/teacher-", "r1/teacher-01", "r1/teacher--1",
        "r1/teacher-+1", "r1/coach-1", "r1/teacher-1/x", "r1/teacher-1 ", "r1/Teacher-1", "r1/teacher-99999999999999999999",
        "r1/student", "", "r1/", "/teacher-1",
    ])
    func parseRefusesOtherIDs(_ id: String) {
        #expect(TaskRef.parse(id, runID: "r1") == nil)
    }

    @Test func ordersTeachersFirstThenByIndex() {
        let refs = [TaskRef(.student, 0), TaskRef(.teacher, 2), TaskRef(.student, 1), TaskRef(.teacher, 0)]
        #expect(refs.sorted() == [TaskRef(.teacher, 0), TaskRef(.teacher, 2), TaskRef(.student, 0), TaskRef(.student, 1)])
        #expect(!(TaskRef(.teacher, 1) < TaskRef(.teacher, 1)))
    }

    @Test func describesForSentences() {
        #expect(TaskRef(.teacher, 1).description == "teacher 1")
        #expect("\(TaskRef(.student, 3))" == "student 3")
    }
}
