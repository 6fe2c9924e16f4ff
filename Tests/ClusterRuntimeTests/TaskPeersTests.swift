@testable import DataPlane
import Testing
import Wire

/// A repeated `AssignTask` for a task the worker runs updates its peers' endpoints and starts
/// nothing (docs/PROTOCOL.md "Tasks").
@Suite struct TaskPeersTests {
    func teacher(_ id: String, replicas: [String], teachers: [String] = []) -> AssignTask {
        AssignTask(runID: "run-1", taskID: id,
                   task: .teacher(TeacherTask(replicas: [0, 1], replicaEndpoints: replicas, teacherEndpoints: teachers)))
    }

    @Test func aRepeatedAssignmentUpdatesTheEndpointsInsteadOfStartingAgain() {
        let peers = TaskPeers()
        #expect(peers.begin(teacher("run-1/teacher-0", replicas: ["mem://s1", "mem://s2"], teachers: ["mem://t1", "mem://t2"])))
        #expect(peers.replicaEndpoint("run-1/teacher-0", 0) == "mem://s1")
        #expect(!peers.begin(teacher("run-1/teacher-0", replicas: ["mem://s3", "mem://s2"], teachers: ["mem://t1", "mem://t4"])))
        #expect(peers.replicaEndpoint("run-1/teacher-0", 0) == "mem://s3")
        #expect(peers.replicaEndpoint("run-1/teacher-0", 1) == "mem://s2")
        #expect(peers.teacherEndpoint("run-1/teacher-0", 1) == "mem://t4")
    }

    @Test func readinessSurvivesAnUpdateAndAnEndedTaskStartsAnew() {
        let peers = TaskPeers()
        let id = "run-1/teacher-1"
        #expect(peers.begin(teacher(id, replicas: ["mem://s1"])))
        #expect(!peers.isReady(id))
        peers.markReady(id)
        #expect(!peers.begin(teacher(id, replicas: ["mem://s9"])))
        #expect(peers.isReady(id))
        peers.end(id)
        #expect(peers.replicaEndpoint(id, 0) == nil && !peers.isReady(id))
        #expect(peers.begin(teacher(id, replicas: ["mem://s1"])))
    }

    @Test func missingOrEmptyEndpointsAreNone() {
        let peers = TaskPeers()
        #expect(peers.begin(teacher("run-1/teacher-0", replicas: ["", "mem://s2"])))
        #expect(peers.replicaEndpoint("run-1/teacher-0", 0) == nil)
        #expect(peers.replicaEndpoint("run-1/teacher-0", 2) == nil)
        #expect(peers.teacherEndpoint("run-1/teacher-0", 0) == nil)
        #expect(peers.replicaEndpoint("run-1/teacher-9", 0) == nil)
        // Students are tracked too: a repeated student assignment starts nothing either.
        let student = AssignTask(runID: "run-1", taskID: "run-1/student-0", task: .student(StudentTask(rank: 0, replicas: 1)))
        #expect(peers.begin(student) && !peers.begin(student))
    }

    /// After a replica is lost the teacher's assignment lists the remaining slots: it serves
    /// those, and a dropped slot has no endpoint.
    @Test func aTeacherServesTheSlotsOfItsLatestAssignment() {
        let peers = TaskPeers()
        let id = "run-1/teacher-0"
        let first = AssignTask(runID: "run-1", taskID: id, task: .teacher(TeacherTask(replicas: [0, 1, 2],
                                                                                   replicaEndpoints: ["mem://a", "mem://b", "mem://c"])))
        #expect(peers.begin(first))
        #expect(peers.replicaSlots(id) == [0, 1, 2])
        let shrunk = AssignTask(runID: "run-1", taskID: id, task: .teacher(TeacherTask(replicas: [0, 2],
                                                                                    replicaEndpoints: ["mem://a", "mem://c"])))
        #expect(!peers.begin(shrunk))
        #expect(peers.replicaSlots(id) == [0, 2])
        #expect(peers.replicaEndpoint(id, 2) == "mem://c")
        #expect(peers.replicaEndpoint(id, 1) == nil)
    }

    /// A student's repeated assignment with a newer ring generation is its new ring; an older
    /// one (a message overtaken by the next change) does not undo it.
    @Test func aStudentKeepsItsNewestRing() {
        let peers = TaskPeers()
        let id = "run-1/student-2"
        func assign(_ generation: UInt64, rank: UInt32, _ endpoints: [String]) -> AssignTask {
            AssignTask(runID: "run-1", taskID: id, task: .student(StudentTask(rank: rank, replicas: UInt32(endpoints.count),
                                                                               ringGeneration: generation, peerEndpoints: endpoints,
                                                                               replicaSlot: 2)))
        }
        #expect(peers.begin(assign(1, rank: 2, ["mem://a", "mem://b", "mem://c"])))
        #expect(peers.ring(id) == RingAssignment(generation: 1, rank: 2, ranks: 3, endpoints: ["mem://a", "mem://b", "mem://c"]))
        #expect(!peers.begin(assign(3, rank: 0, ["mem://c"])))
        #expect(!peers.begin(assign(2, rank: 1, ["mem://a", "mem://c"])))
        #expect(peers.ring(id) == RingAssignment(generation: 3, rank: 0, ranks: 1, endpoints: ["mem://c"]))
        peers.end(id)
        #expect(peers.ring(id) == nil)
    }
}
