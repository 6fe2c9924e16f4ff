import Clocks
import ClusterCore
@testable import ClusterRuntime
import ClusterStore
import Foundation
import Logging
import Testing
import Transport
import Wire

/// A worker that reconnected (its connection timed out while the coordinator was paused) may
/// have a registration queued on its old connection that is handled after its first one on the
/// new: the route then points at a connection that is gone, and every shard offer to it is
/// dropped as unroutable (a run failed in sharding that way). Its heartbeats come only on the
/// live connection and put the route back (``HeartbeatRoutes``).
@Suite struct HeartbeatRouteTests {
    @Test func heartbeatsPutAStaleRouteBack() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("routes-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var logger = Logger(label: "test.routes")
        logger.logLevel = .critical
        let coordinator = try Coordinator(settings: CoordinatorSettings(), store: try ClusterStore(directory: dir), logger: logger)
        let old = PeerID(bytes: [1]), live = PeerID(bytes: [2])
        func register(from peer: PeerID, id: UInt64) async {
            let body = Body.register(Register(name: "w1", roles: [.teacher], dataEndpoint: "tcp://127.0.0.1:1", cores: 1,
                                              version: DistilleryVersion.current))
            _ = await coordinator.handle(Inbound(peer: peer, message: Message(Envelope(sender: "w1", requestID: id, body: body))))
        }
        await register(from: old, id: 1)
        await register(from: live, id: 2)
        await register(from: old, id: 3)  // queued on the old connection, handled late
        #expect(await coordinator.peers["w1"] == old)
        await coordinator.routeHeard("w1", peer: live)
        #expect(await coordinator.peers["w1"] == live)
        await coordinator.routeHeard("w9", peer: live)  // not registered: no route
        #expect(await coordinator.peers["w9"] == nil)

        // The liveness lane tells the control lane at a new connection, and every 5 s anyway.
        let routes = HeartbeatRoutes()
        let t0 = ClockTime(milliseconds: 1_000)
        #expect(routes.due("w1", peer: live, at: t0))
        #expect(!routes.due("w1", peer: live, at: t0 + .seconds(1)))
        #expect(routes.due("w1", peer: old, at: t0 + .seconds(2)))
        #expect(!routes.due("w1", peer: old, at: t0 + .seconds(6)))
        #expect(routes.due("w1", peer: old, at: t0 + .seconds(7)))
        #expect(routes.due("w2", peer: old, at: t0 + .seconds(7)))
    }
}
