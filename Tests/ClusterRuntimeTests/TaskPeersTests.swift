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
}
