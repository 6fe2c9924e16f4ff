import ClusterCore
import ClusterRuntime
import Foundation
import Testing
import Wire

/// The `report.json` a coordinator writes when a run ends reads back as a `RunReport` whose
/// figures are the run's latest metrics, with the sums and the ratio computed from them.
@Suite struct RunReportFileTests {
    @Test func aCompletedRunsReportJSONDecodesIntoARunReportWithTheRunsFigures() async throws {
        // The cluster and submission of the in-memory run tests.
        let (cluster, _, run) = try await RunsOverTransportTests().completedRun(teachers: 2)

        let bytes = try #require(FileManager.default.contents(atPath: "\(cluster.stateDir)/artifacts/\(run)/report.json"))
        let report = try RunReport(json: bytes)
        let metrics = try cluster.store.metrics(runID: run)
        func last(_ name: String) -> Double? { metrics.last { $0.name == name }?.value }

        #expect(report.runID == run && report.name == "tiny" && report.state == "completed" && !report.reason.isEmpty)
        #expect(report.replicas == 1 && report.mode == "offline")
        #expect(report.teachers.map(\.index) == [0, 1])
        for (i, teacher) in report.teachers.enumerated() {
            #expect(teacher.testAccuracy == last("teacher\(i).test_accuracy"), "teacher \(i)")
            #expect(teacher.parameters == last("teacher\(i).parameters") && (teacher.parameters ?? 0) > 0)
        }
        let teacherParameters = report.teachers.compactMap(\.parameters).reduce(0, +)
        #expect(report.ensemble.parameters == teacherParameters)
        #expect(report.ensemble.testAccuracy == last("ensemble.test_accuracy"))
        let student = try #require(report.student.parameters)
        #expect(student == last("student.parameters") && report.student.testAccuracy == last("student.test_accuracy"))
        #expect(report.compression == teacherParameters / student)
        #expect(report.figures["student.test_accuracy"] == last("student.test_accuracy"))
        // The student as ONNX: its size and its latency in our executor.
        let onnx = try #require(report.studentONNX, "report.json has no student_onnx")
        #expect(onnx.bytes == last("student.onnx_bytes") && (onnx.bytes ?? 0) > 0)
        #expect(onnx.latencyMicroseconds == last("student.onnx_latency_us") && (onnx.latencyMicroseconds ?? 0) > 0)
        #expect(onnx.exportFailed == nil)
        // The bytes are the report's one encoding: written again, they are the same.
        #expect(try report.json() == bytes)
    }
}
