import Wire

/// Socket options of every ZeroMQ endpoint, chosen deliberately (docs/PROTOCOL.md "Sockets"):
///
/// | option | value | why |
/// |---|---|---|
/// | `ZMQ_SNDHWM` / `ZMQ_RCVHWM` | 256 messages | a logits or gradient message can be MiBs; 256 bounds buffered memory per peer while keeping the pipe full |
/// | `ZMQ_MAXMSGSIZE` | `limits.maxTensorBytes` + 1 MiB | a peer that sends a bigger frame is disconnected by libzmq before it is buffered |
/// | `ZMQ_LINGER` | 500 ms | close flushes queued messages for at most this long, so shutdown never hangs |
/// | `ZMQ_RECONNECT_IVL` / `_MAX` | 100 ms → 5 s | exponential backoff when a peer is down |
/// | `ZMQ_HEARTBEAT_IVL` / `_TIMEOUT` / `_TTL` | 1 s / 5 s / 10 s | ZMTP pings detect a dead TCP peer even when the application is idle |
/// | `ZMQ_HANDSHAKE_IVL` | 5 s | a peer that never finishes the (CURVE) handshake is dropped |
/// | `ZMQ_TCP_KEEPALIVE` | on | the kernel also notices half-open connections |
/// | `ZMQ_ROUTER_MANDATORY` | on (listeners) | a reply to a vanished peer fails and is counted instead of silently lost; a peer whose pipe stays full for `peerFullTimeout` has that message dropped and counted |
/// | `ZMQ_ROUTER_HANDOVER` | on (listeners) | a restarted worker with the same identity takes over its old connection |
/// | `ZMQ_IMMEDIATE` | on (connections) | messages are not queued for a peer that is not connected: `send` waits (bounded) instead |
public struct ZMQOptions: Sendable {
    public var highWaterMark: Int32 = 256
    public var lingerMs: Int32 = 500
    public var reconnectMs: Int32 = 100
    public var reconnectMaxMs: Int32 = 5_000
    public var heartbeatIntervalMs: Int32 = 1_000
    public var heartbeatTimeoutMs: Int32 = 5_000
    public var heartbeatTTLMs: Int32 = 10_000
    public var handshakeMs: Int32 = 5_000
    /// Messages queued between async callers and the poller thread, per endpoint and direction.
    public var queueCapacity: Int = 256
    /// Longest wait of `send` for room in a full send queue (peer slow or not connected).
    public var sendTimeout: Duration = .seconds(10)
    /// How long a listener keeps retrying a message for a peer whose pipe is full (it reads
    /// nothing) before dropping it, so other peers' messages are not held up behind it.
    public var peerFullTimeout: Duration = .seconds(2)
    /// Frames smaller than this are copied into libzmq; larger ones are sent zero-copy.
    public var zeroCopyThreshold: Int = 1024
    /// Decoder limits; `ZMQ_MAXMSGSIZE` is derived from `maxTensorBytes`.
    public var limits: WireLimits = .standard

    public init() {}

    /// `ZMQ_MAXMSGSIZE`: the largest single frame libzmq accepts.
    public var maxFrameBytes: Int64 { Int64(max(limits.maxTensorBytes, limits.maxEnvelopeBytes)) + (1 << 20) }
}
