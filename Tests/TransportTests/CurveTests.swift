import Foundation
import Testing
import Transport
import TransportZMQ
import Wire

/// CurveZMQ with a ZAP handler: only listed client keys get in; key files are written safely
/// and read with clear errors.
@Suite(.timeLimit(.minutes(1))) struct CurveTests {
    @Test func listedKeyGetsInUnlistedKeyDoesNot() async throws {
        let server = try CurveKeyPair.generate()
        let friend = try CurveKeyPair.generate()
        let stranger = try CurveKeyPair.generate()
        #expect(friend.publicKey != stranger.publicKey)

        var options = ZMQOptions()
        options.sendTimeout = .milliseconds(500)
        try await withZMQ(name: "server", options: options,
                          security: CurveSecurity(keys: server, authorizedClients: [friend.publicKey])) { serverSide in
            let listener = try await serverSide.listen(at: anyLoopbackPort)
            let echo = Task { await echoServer(listener) }
            defer { echo.cancel() }

            // The listed client: request answered.
            try await withZMQ(name: "friend", security: CurveSecurity(keys: friend, defaultServerKey: server.publicKey)) { t in
                let c = try await t.connect(to: listener.address)
                try await c.send(heartbeat(1, from: "friend"))
                let reply = try await c.receive(timeout: .seconds(5))
                #expect(reply?.envelope.replyTo == 1)
            }
            // The unlisted client: the handshake is refused, nothing is answered.
            try await withZMQ(name: "stranger", options: options,
                              security: CurveSecurity(keys: stranger, defaultServerKey: server.publicKey)) { t in
                let c = try await t.connect(to: listener.address)
                try? await c.send(heartbeat(2, from: "stranger"))
                #expect(try await c.receive(timeout: .milliseconds(800)) == nil)
                #expect(c.handshakeFailure == .keyRefused(status: 400))
            }
            // A client without CURVE at all: also refused.
            try await withZMQ(name: "plain", options: options) { t in
                let c = try await t.connect(to: listener.address)
                try? await c.send(heartbeat(3, from: "plain"))
                #expect(try await c.receive(timeout: .milliseconds(500)) == nil)
                // Which one libzmq reports depends on timing; the client's message is the same.
                #expect([.closedByListener(localCurve: false), .mechanismMismatch(localCurve: false)].contains(c.handshakeFailure))
            }
            #expect(serverSide.authenticationDrops.count("curve-rejected") >= 1)
        }
    }

    @Test func clientWithTheWrongServerKeyGetsNoAnswer() async throws {
        let server = try CurveKeyPair.generate(), impostor = try CurveKeyPair.generate(), client = try CurveKeyPair.generate()
        try await withZMQ(name: "server", security: CurveSecurity(keys: server, authorizedClients: [client.publicKey])) { s in
            let listener = try await s.listen(at: anyLoopbackPort)
            let echo = Task { await echoServer(listener) }
            defer { echo.cancel() }
            var options = ZMQOptions()
            options.sendTimeout = .milliseconds(300)
            try await withZMQ(name: "client", options: options,
                              security: CurveSecurity(keys: client, defaultServerKey: impostor.publicKey)) { t in
                let c = try await t.connect(to: listener.address)
                try? await c.send(heartbeat(1))
                #expect(try await c.receive(timeout: .milliseconds(600)) == nil)
                #expect(c.handshakeFailure == .closedByListener(localCurve: true))
            }
        }
    }

    /// libzmq ends a connection whose handshake the listener refused; the transport connects
    /// again (0.5 s, then backing off), so a key admitted later gets in without a new connection
    /// — and the message waiting meanwhile is delivered.
    @Test func aKeyAdmittedAfterARefusalGetsInOnTheSameConnection() async throws {
        let server = try CurveKeyPair.generate(), late = try CurveKeyPair.generate()
        try await withZMQ(name: "server", security: CurveSecurity(keys: server, authorizedClients: [])) { s in
            let listener = try await s.listen(at: anyLoopbackPort)
            try await withZMQ(name: "late", security: CurveSecurity(keys: late, defaultServerKey: server.publicKey)) { t in
                let c = try await t.connect(to: listener.address)
                try await c.send(heartbeat(1, from: "late"))
                #expect(try await listener.receive(timeout: .milliseconds(700)) == nil)
                #expect(c.handshakeFailure == .keyRefused(status: 400))
                s.admit([late.publicKey])
                let got = try await listener.receive(timeout: .seconds(5))
                #expect(got?.message.envelope.requestID == 1)
                #expect(got?.peerKey == late.publicKey)
                #expect(c.handshakeFailure == nil)
            }
        }
    }

    @Test func theListenerKnowsWhoSentEachMessageByKey() async throws {
        let server = try CurveKeyPair.generate(), a = try CurveKeyPair.generate(), b = try CurveKeyPair.generate()
        try await withZMQ(name: "server", security: CurveSecurity(keys: server, authorizedClients: [a.publicKey, b.publicKey])) { s in
            let listener = try await s.listen(at: anyLoopbackPort)
            for (pair, name) in [(a, "a"), (b, "b")] {
                try await withZMQ(name: name, security: CurveSecurity(keys: pair, defaultServerKey: server.publicKey)) { t in
                    let c = try await t.connect(to: listener.address)
                    // Whatever the envelope claims, the key is the one the client proved.
                    try await c.send(heartbeat(1, from: "someone-else"))
                    let got = try await listener.receive(timeout: .seconds(5))
                    #expect(got?.peerKey == pair.publicKey)
                    #expect(got?.message.envelope.sender == "someone-else")
                    #expect(c.handshakeFailure == nil)
                }
            }
            // Revoked: a new connection with a's key is refused from now on.
            s.admit([b.publicKey])
            try await withZMQ(name: "a2", security: CurveSecurity(keys: a, defaultServerKey: server.publicKey)) { t in
                let c = try await t.connect(to: listener.address)
                try? await c.send(heartbeat(2))
                #expect(try await listener.receive(timeout: .milliseconds(800)) == nil)
                #expect(c.handshakeFailure == .keyRefused(status: 400))
            }
        }
        // A CURVE client at a plaintext listener: told so.
        try await withZMQ(name: "plain-server") { s in
            let listener = try await s.listen(at: anyLoopbackPort)
            var options = ZMQOptions()
            options.sendTimeout = .milliseconds(300)
            try await withZMQ(name: "curve-client", options: options, security: CurveSecurity(keys: a, defaultServerKey: server.publicKey)) { t in
                let c = try await t.connect(to: listener.address)
                try? await c.send(heartbeat(3))
                #expect(try await listener.receive(timeout: .milliseconds(600)) == nil)
                #expect([.mechanismMismatch(localCurve: true), .closedByListener(localCurve: true)].contains(c.handshakeFailure))
            }
        }
    }

    @Test func connectingWithoutAKnownServerKeyIsAClearError() async throws {
        try await withZMQ(security: CurveSecurity(keys: try CurveKeyPair.generate())) { t in
            do {
                _ = try await t.connect(to: "tcp://127.0.0.1:5555")
                Issue.record("expected an error")
            } catch let e as TransportError {
                #expect(e.description.contains("tcp://127.0.0.1:5555"))
                #expect(e.description.contains("server key"))
            }
        }
    }

    @Test func keyFilesRoundTripAndAreProtected() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("distillery-keys-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let pair = try CurveKeyPair.generate()
        let files = try pair.write(to: dir, name: "worker-1")
        #expect(try CurveKeyPair.load(secretFile: files.secretFile) == pair)
        #expect(try CurveKeyFile.publicKeys(files.publicFile) == [pair.publicKey])
        #expect(!(try String(contentsOfFile: files.publicFile, encoding: .utf8)).contains(pair.secretKey))
        let mode = try FileManager.default.attributesOfItem(atPath: files.secretFile)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        // Never overwrite a key.
        #expect(throws: TransportError.self) { _ = try pair.write(to: dir, name: "worker-1") }
        // A secret key that group or others may read is refused, saying how to fix it (as ssh does).
        try FileManager.default.setAttributes([.posixPermissions: 0o640], ofItemAtPath: files.secretFile)
        do {
            _ = try CurveKeyPair.load(secretFile: files.secretFile)
            Issue.record("a secret key of mode 640 was read")
        } catch let e as TransportError {
            #expect(e.description == "security: \(files.secretFile) holds a secret key but its mode is 640: group or others can use it "
                + "to act as this node; make it private with `chmod 600 \(files.secretFile)`", "\(e)")
        }
        try FileManager.default.setAttributes([.posixPermissions: 0o400], ofItemAtPath: files.secretFile)
        #expect(try CurveKeyPair.load(secretFile: files.secretFile) == pair)

        // An allow list: comments, blank lines, .pub contents and bare keys.
        let other = try CurveKeyPair.generate()
        let allow = (dir as NSString).appendingPathComponent("allowed")
        try "# cluster members\n\n\(try String(contentsOfFile: files.publicFile, encoding: .utf8))\(other.publicKey)  # worker-2\n"
            .write(toFile: allow, atomically: true, encoding: .utf8)
        #expect(try CurveKeyFile.publicKeys(allow) == [pair.publicKey, other.publicKey])

        // A bad line names the file and line.
        try "\(pair.publicKey)\nnot-a-key\n".write(toFile: allow, atomically: true, encoding: .utf8)
        do {
            _ = try CurveKeyFile.publicKeys(allow)
            Issue.record("expected an error")
        } catch let e as TransportError {
            #expect(e.description.contains("allowed:2"))
        }
    }
}

/// A node's keys directory (`--keys DIR`): its one key pair and the coordinator's public key;
/// each mistake says what to run.
@Suite struct NodeKeysTests {
    @Test func aKeysDirectoryIsFoundAndReadAndItsMistakesSayWhatToDo() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("distillery-nodekeys-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(NodeKeys.directory(flag: "/k", environment: ["DISTILLERY_KEYS": "/e"], home: "/h") == "/k")
        #expect(NodeKeys.directory(flag: nil, environment: ["DISTILLERY_KEYS": "/e"], home: "/h") == "/e")
        #expect(NodeKeys.directory(flag: nil, environment: [:], home: "/h") == "/h/.config/distillery/keys")

        func refusal(_ expected: String) {
            do {
                let keys = try NodeKeys.load(dir)
                Issue.record("read \(keys.directory)")
            } catch {
                #expect("\(error)".contains(expected), "\(error)")
            }
        }
        refusal("the keys directory \(dir) does not exist: make this node's keys with `distillery keys generate --name NAME --dir \(dir)`")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        refusal("holds no key pair (NAME.key): make one with `distillery keys generate --name NAME --dir \(dir)`")
        let pair = try CurveKeyPair.generate()
        _ = try pair.write(to: dir, name: "worker-a")
        let keys = try NodeKeys.load(dir)
        #expect(keys.pair == pair && keys.coordinatorKey == nil)
        #expect(throws: TransportError.self) { _ = try keys.requireCoordinatorKey() }
        let coordinator = try CurveKeyPair.generate()
        let files = try coordinator.write(to: dir + "/elsewhere", name: "coordinator")
        try FileManager.default.copyItem(atPath: files.publicFile, toPath: dir + "/" + NodeKeys.coordinatorFile)
        #expect(try NodeKeys.load(dir).requireCoordinatorKey() == coordinator.publicKey)
        _ = try CurveKeyPair.generate().write(to: dir, name: "worker-b")
        refusal("holds 2 key pairs (worker-a.key, worker-b.key): keep only this node's there")
    }
}
