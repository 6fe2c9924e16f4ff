#!/usr/bin/python3
"""A TCP proxy that adds a fixed delay to every chunk, in both directions.

Used by Cluster/netns/run on kernels without netem (sch_netem): each node's
namespace runs one of these, and nftables redirects the connections that
arrive on the node's network interface for a served port (the coordinator's
control port, a worker's data port) to it. The proxy forwards each chunk it
reads after DELAY ms, keeping the byte order and letting chunks overlap in
flight (a pipeline, not stop-and-wait), so a connection through it sees
2 x DELAY more round-trip time and no throughput cap.

  delay-proxy.py --delay-ms 50 --map 17878=10.213.0.1:7878 [--map …] \
                 [--parent-pid PID] [--name NAME]

Standard library only. Exits on SIGTERM/SIGINT, or within 0.25 s of the
process PID being gone (--parent-pid), logging its totals.
"""

import argparse
import asyncio
import os
import signal
import socket
import sys
import time

CHUNK = 65536
QUEUE_CHUNKS = 256  # at most 16 MiB in flight per direction: then the reader waits


class Stats:
    def __init__(self):
        self.connections = 0
        self.open = 0
        self.failed_upstream = 0
        self.bytes = {"in": 0, "out": 0}
        self.chunks = 0
        # Lateness: how long past its due time (arrival + delay) a chunk was written: it queued
        # behind earlier data the receiver had not taken yet, or the proxy itself ran late.
        self.late_ms_max = 0.0


def log(name, text):
    print(f"{time.strftime('%H:%M:%S')} delay-proxy {name}: {text}", flush=True)


def nodelay(writer):
    sock = writer.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass


async def pump(reader, writer, delay, stats, direction):
    """Reads chunks from reader and writes each to writer `delay` seconds after it arrived."""
    loop = asyncio.get_running_loop()
    queue = asyncio.Queue(maxsize=QUEUE_CHUNKS)

    async def read_side():
        try:
            while True:
                data = await reader.read(CHUNK)
                await queue.put((loop.time() + delay, data))
                if not data:
                    return
        except (ConnectionError, OSError):
            await queue.put((loop.time() + delay, None))

    async def write_side():
        while True:
            due, data = await queue.get()
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            else:
                stats.late_ms_max = max(stats.late_ms_max, -wait * 1000)
            if data is None:  # the reading side broke: abort
                raise ConnectionResetError("peer reset")
            if not data:  # EOF: pass the half-close on
                if writer.can_write_eof():
                    writer.write_eof()
                return
            writer.write(data)
            stats.bytes[direction] += len(data)
            stats.chunks += 1
            await writer.drain()

    reading = asyncio.ensure_future(read_side())
    try:
        await write_side()
    finally:
        reading.cancel()


async def serve_connection(client_reader, client_writer, upstream, delay, stats, name):
    stats.connections += 1
    stats.open += 1
    nodelay(client_writer)
    host, port = upstream
    try:
        try:
            up_reader, up_writer = await asyncio.wait_for(asyncio.open_connection(host, port), 10)
        except (OSError, asyncio.TimeoutError) as error:
            stats.failed_upstream += 1
            log(name, f"cannot reach {host}:{port}: {error}")
            return
        nodelay(up_writer)
        # The upstream connection is made at once (the client's handshake is not delayed);
        # every byte after it is.
        tasks = [asyncio.ensure_future(pump(client_reader, up_writer, delay, stats, "in")),
                 asyncio.ensure_future(pump(up_reader, client_writer, delay, stats, "out"))]
        done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        if any(t.exception() is not None for t in done if not t.cancelled()):
            for t in pending:
                t.cancel()
        else:  # one side finished cleanly (EOF): let the other finish too
            await asyncio.gather(*pending, return_exceptions=True)
        for w in (up_writer,):
            w.close()
    except Exception as error:  # never let one connection take the proxy down
        log(name, f"connection error: {error!r}")
    finally:
        stats.open -= 1
        client_writer.close()


async def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--delay-ms", type=float, required=True)
    parser.add_argument("--map", action="append", required=True, metavar="LISTEN_PORT=HOST:PORT")
    parser.add_argument("--listen-host", default="0.0.0.0")
    parser.add_argument("--parent-pid", type=int)
    parser.add_argument("--name", default="proxy")
    args = parser.parse_args()

    delay = args.delay_ms / 1000.0
    stats = Stats()
    servers = []
    for mapping in args.map:
        listen_port, upstream = mapping.split("=", 1)
        host, port = upstream.rsplit(":", 1)
        target = (host, int(port))

        def handler(r, w, target=target):
            return serve_connection(r, w, target, delay, stats, args.name)

        server = await asyncio.start_server(handler, args.listen_host, int(listen_port), reuse_address=True)
        servers.append(server)
        log(args.name, f"listening on {args.listen_host}:{listen_port} -> {host}:{port}, +{args.delay_ms:g} ms per chunk each way")

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    # A parent may have blocked these (a test runner's threads do, and children inherit the
    # mask): unblock them, or SIGTERM would only be pending until the SIGKILL.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    async def watch_parent():
        while args.parent_pid is not None and os.getppid() == args.parent_pid:
            await asyncio.sleep(0.25)
        if args.parent_pid is not None:
            log(args.name, f"parent {args.parent_pid} is gone; stopping")
            stop.set()

    watcher = asyncio.ensure_future(watch_parent())
    await stop.wait()
    watcher.cancel()
    for server in servers:
        server.close()
    log(args.name, f"stopping: {stats.connections} connection(s) ({stats.failed_upstream} could not reach upstream), "
                   f"{stats.bytes['in']} bytes in, {stats.bytes['out']} bytes out, {stats.chunks} chunks, "
                   f"max lateness {stats.late_ms_max:.1f} ms")


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
    sys.exit(0)
