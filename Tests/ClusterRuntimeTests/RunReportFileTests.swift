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
        // Class by class: both matrices count every test sample, and their diagonals give the
        // accuracies reported (so they were built from the same predictions).
        let classes = try #require(report.classes, "report.json has no classes")
        #expect(classes.count == 10 && last("student.classes") == 10)
        let studentMatrix = try #require(classes.student), ensembleMatrix = try #require(classes.ensemble)
        let testCount = studentMatrix.total
        #expect(testCount > 0 && ensembleMatrix.total == testCount)
        #expect(Float(studentMatrix.accuracy) == Float(try #require(last("student.test_accuracy"))))
        #expect(Float(ensembleMatrix.accuracy) == Float(try #require(last("ensemble.test_accuracy"))))
        #expect(studentMatrix.samplesPerClass == ensembleMatrix.samplesPerClass)
        #expect(!report.figures.keys.contains { $0.contains(".confusion.") }, "cells are in classes, not figures")
        // The bytes are the report's one encoding: written again, they are the same.
        #expect(try report.json() == bytes)
        #expect(report.baseline == nil && report.gain == nil)
    }

    /// `training.label-fraction` with `baseline: true`: the replicas see a fifth of the labels,
    /// and rank 0 trains the same student from scratch on exactly those for as many steps.
    @Test func aRunWithABaselineReportsTheStudentFromScratchAndTheGain() async throws {
        let base = RunsOverTransportTests()
        let (cluster, data) = try await base.makeCluster()
        try await cluster.addWorker("t1", roles: [.teacher])
        try await cluster.addWorker("s1", roles: [.student])
        try await cluster.addWorker("s2", roles: [.student])
        await cluster.pump()
        let yaml = RunsOverTransportTests.spec(dataset: data, teachers: 2, replicas: 2,
                                               training: "{ epochs: 2, batch: 50, label-fraction: 0.2, baseline: true }")
        let reply = try await base.submit(cluster, yaml)
        #expect(reply.accepted, "\(reply.errors)")
        await cluster.pump(until: { await cluster.phase(of: reply.runID)?.isTerminal == true })
        #expect(await cluster.phase(of: reply.runID) == .completed)
        let bytes = try #require(FileManager.default.contents(atPath: "\(cluster.stateDir)/artifacts/\(reply.runID)/report.json"))
        let report = try RunReport(json: bytes)
        let baseline = try #require(report.baseline, "no baseline in \(report.figures)")
        // 600 synthetic images, 100 for validation: 500 to train on, about 100 of them labelled
        // (a fifth of each class, rounded per class); the distillation's 2 epochs of 10 steps
        // are 20 steps, ⌈labelled / 50⌉ per baseline epoch.
        let labelled = try #require(baseline.labelled.map { Int($0) })
        #expect((95...105).contains(labelled))
        #expect(baseline.epochs == (20.0 / Double((labelled + 49) / 50)).rounded())
        #expect((0...1).contains(baseline.testAccuracy))
        #expect(report.gain == (report.student.testAccuracy ?? .nan) - baseline.testAccuracy)
        let logs = try String(contentsOfFile: "\(cluster.stateDir)/artifacts/\(reply.runID)/report.html", encoding: .utf8)
        #expect(logs.contains("<tr data-model=\"baseline\">"))
    }
}
