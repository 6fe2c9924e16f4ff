import ClusterRuntime
import FlyingFox
import FlyingSocks
import Foundation
import Logging
import ServiceLifecycle

/// Serves `GET /metrics` in the Prometheus text format (version 0.0.4) over HTTP, with
/// FlyingFox: each scrape takes a fresh ``ClusterMetrics`` from the coordinator and renders
/// it (``ClusterMetrics/prometheusText(version:transportDrops:)``). Runs beside the
/// coordinator in its service group and stops with it. `GET /` says where the metrics are;
/// anything else is 404.
public struct MetricsEndpoint: Service {
    public let host: String
    public let port: UInt16
    let snapshot: @Sendable () async -> String
    let logger: Logger
    let server: HTTPServer

    /// `address` is "HOST:PORT" (an IPv4 address; port 0 picks a free one, see ``listeningPort()``).
    public init(address: String, logger: Logger, snapshot: @escaping @Sendable () async -> String) throws(EndpointError) {
        guard let colon = address.lastIndex(of: ":"), let port = UInt16(address[address.index(after: colon)...]) else {
            throw EndpointError("--metrics-listen '\(address)' is not HOST:PORT (for example 127.0.0.1:9464)")
        }
        let host = String(address[..<colon])
        let socket: sockaddr_in
        do { socket = try .inet(ip4: host, port: port) } catch {
            throw EndpointError("--metrics-listen '\(address)': '\(host)' is not an IPv4 address (for example 127.0.0.1 or 0.0.0.0)")
        }
        self.host = host
        self.port = port
        self.snapshot = snapshot
        self.logger = logger
        server = HTTPServer(address: socket, timeout: 15, logger: FlyingFoxLog(logger: logger))
    }

    public struct EndpointError: Error, CustomStringConvertible {
        public let description: String
        init(_ description: String) { self.description = description }
    }

    /// The content type of the text format, as Prometheus asks for it.
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    public func run() async throws {
        let snapshot = self.snapshot
        await server.appendRoute("GET /metrics") { _ in
            HTTPResponse(statusCode: .ok, headers: [.contentType: Self.contentType], body: Data(await snapshot().utf8))
        }
        await server.appendRoute("GET /") { _ in
            HTTPResponse(statusCode: .ok, headers: [.contentType: "text/plain; charset=utf-8"],
                         body: Data("Distillery coordinator: Prometheus metrics at /metrics\n".utf8))
        }
        await server.appendRoute("*") { request in
            HTTPResponse(statusCode: .notFound, headers: [.contentType: "text/plain; charset=utf-8"],
                         body: Data("nothing at \(request.method.rawValue) \(request.path); the metrics are at GET /metrics\n".utf8))
        }
        let server = self.server, host = self.host, port = self.port
        try await withGracefulShutdownHandler {
            do { try await server.run() } catch is CancellationError { throw CancellationError() } catch {
                // Most often the port is taken: say so, not only the socket's words.
                throw EndpointError("cannot serve metrics on \(host):\(port): \(error); if another process (an earlier "
                    + "coordinator?) holds the port, stop it or choose another --metrics-listen HOST:PORT")
            }
        } onGracefulShutdown: {
            Task { await server.stop(timeout: 1) }
        }
    }

    /// Waits (at most `timeout`) until the server listens, and returns its port.
    public func listeningPort(timeout: TimeInterval = 10) async throws -> UInt16 {
        try await server.waitUntilListening(timeout: timeout)
        guard case .ip4(_, let port) = await server.listeningAddress else {
            throw EndpointError("the metrics endpoint on \(host):\(port) did not start listening")
        }
        return port
    }
}

/// FlyingFox's log lines through swift-log (its info lines, one per request, at debug).
struct FlyingFoxLog: FlyingSocks.Logging {
    let logger: Logger
    func logDebug(_ debug: @autoclosure () -> String) { logger.trace("http: \(debug())") }
    func logInfo(_ info: @autoclosure () -> String) { logger.debug("http: \(info())") }
    func logWarning(_ warning: @autoclosure () -> String) { logger.warning("http: \(warning())") }
    func logError(_ error: @autoclosure () -> String) { logger.error("http: \(error())") }
    func logCritical(_ critical: @autoclosure () -> String) { logger.critical("http: \(critical())") }
}
