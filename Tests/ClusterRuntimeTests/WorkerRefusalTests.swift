import ClusterRuntime
import DataPlane
import DistilleryTestKit
import Foundation
import Logging
import Testing
import Transport
import Wire

/// The `Worker` shell against a scripted coordinator: an `Error{INVALID}` answering its
/// `Register` stops it for good (like `Error{VERSION}`), one answering anything else does not.
@Suite struct WorkerRefusalTests {
    /// A worker connected to a listener the test answers by hand.
    struct Setup {
        let network = InMemoryNetwork()
        let coordinator: any Listener
        let service: WorkerService
        let cache: String

        init() async throws {
            coordinator = try await network.transport(name: "fake-coordinator").listen(at: "mem://fake-coordinator")
            cache = FileManager.default.temporaryDirectory.appendingPathComponent("refusal-\(UUID().uuidString)").path
            let settings = WorkerSettings(name: "w1", roles: [.teacher], coordinator: "mem://fake-coordinator",
                                          dataBind: "mem://*", cacheDirectory: cache, cores: 1, memoryBytes: 1 << 30,
                                          stallTolerance: nil)
            var logger = Logger(label: "test.refusal")
            logger.logLevel = .critical
            service = try await WorkerService.make(settings: settings, transport: network.transport(name: "w1"),
                                                   clock: ManualClock(startMs: 1_000), logger: logger)
        }

        /// The next message the worker sent, with the peer to answer.
        func received() async throws -> Inbound {
            try #require(try await coordinator.receive(timeout: .seconds(5)))
        }

        func answer(_ inbound: Inbound, _ code: ErrorCode, _ text: String, replyTo: UInt64? = nil) async throws {
            let reply = Envelope(sender: "coordinator", requestID: 900, replyTo: replyTo ?? inbound.message.envelope.requestID,
                                 body: .error(ErrorReply(code: code, message: text)))
            try await coordinator.send(Message(reply), to: inbound.peer)
        }

        /// Steps the worker until it throws or `rounds` steps pass; the error, if any.
        func step(rounds: Int = 50) async -> WorkerError? {
            for _ in 0..<rounds {
                do { try await service.worker.step(maxWait: .milliseconds(5)) } catch { return error }
            }
            return nil
        }
    }

    @Test func anInvalidRegistrationStopsTheWorkerWithTheCoordinatorsReason() async throws {
        let setup = try await Setup()
        defer { try? FileManager.default.removeItem(atPath: setup.cache) }
        #expect(await setup.step(rounds: 1) == nil)
        let register = try await setup.received()
        guard case .register = register.message.envelope.body else {
            Issue.record("expected a Register, got \(register.message.envelope.body.name)")
            return
        }
        try await setup.answer(register, .invalid, "register.data_endpoint \"tcp://0.0.0.0:7879\" is not a host others can reach")
        let error = try #require(await setup.step())
        guard case .refused(let reason) = error else {
            Issue.record("expected refused, got \(error)")
            return
        }
        #expect(reason.contains("tcp://0.0.0.0:7879") && reason.contains("fix the worker's settings"), "\(reason)")
        #expect(await setup.service.worker.refusal == reason)
        #expect(try await setup.coordinator.receive(timeout: .milliseconds(50)) == nil, "no Register again")
    }

    @Test func anInvalidAnswerToAnotherRequestLeavesTheWorkerRegistering() async throws {
        let setup = try await Setup()
        defer { try? FileManager.default.removeItem(atPath: setup.cache) }
        #expect(await setup.step(rounds: 1) == nil)
        let register = try await setup.received()
        try await setup.answer(register, .invalid, "the coordinator does not accept Credit messages",
                               replyTo: register.message.envelope.requestID + 1000)
        #expect(await setup.step() == nil, "not refused")
        #expect(await setup.service.worker.refusal == nil)
    }
}
